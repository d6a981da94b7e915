import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { Engine, type InvokeResult } from '../engine/index.ts';
import { cPlugin } from '../plugins/wasm/index.ts';
import { jsPlugin } from '../plugins/js/index.ts';
import { quickjsPlugin } from '../plugins/quickjs/index.ts';
import { luaPlugin } from '../plugins/lua/index.ts';
import { lua54Plugin } from '../plugins/lua54/index.ts';
import type { LanguagePlugin } from '../engine/plugin.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { SocketServer } from '../dispatchers/socket-server.ts';
import { temporaryDir } from './support/engine-process.ts';

const found = findToolchain();
const skip = 'missing' in found ? found.missing : false;
const kFixture = new URL('./fixtures/fetch.c', import.meta.url);

/**
 * A raw HTTP/1.1 server on loopback that writes exact bytes, so the test knows to the byte what
 * crossed the wire in each direction. Routes: /hello, /big/N (N bytes), /redirect-local,
 * /redirect-away (to 127.0.0.2, not on the allow-list), /slow (answers after 2 s).
 */
async function rawHttpServer (): Promise<{ port: number, requestBytes: number[], responseBytes: number[] } & AsyncDisposable> {
  const requestBytes: number[] = [];
  const responseBytes: number[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      requestBytes.push(end + 4);
      const path = received.toString('latin1').split(' ')[1] ?? '/';
      const respond = (status: string, headers: string[], body: Buffer): void => {
        const head = Buffer.from(`HTTP/1.1 ${status}\r\n${[...headers, `Content-Length: ${body.byteLength}`, 'Connection: close'].map((h) => `${h}\r\n`).join('')}\r\n`, 'latin1');
        responseBytes.push(head.byteLength + body.byteLength);
        socket.end(Buffer.concat([head, body]));
      };
      const port = (server.address() as { port: number }).port;
      if (path === '/hello') respond('200 OK', ['Content-Type: text/plain'], Buffer.from('hello'));
      else if (path.startsWith('/big/')) respond('200 OK', [], Buffer.alloc(Number(path.slice(5)), 0x61));
      else if (path === '/redirect-local') respond('302 Found', ['Location: /hello'], Buffer.alloc(0));
      else if (path === '/redirect-away') respond('302 Found', [`Location: http://127.0.0.2:${port}/hello`], Buffer.alloc(0));
      else if (path === '/slow') setTimeout(() => respond('200 OK', [], Buffer.from('late')), 2000);
      else respond('404 Not Found', [], Buffer.alloc(0));
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    requestBytes,
    responseBytes,
    [Symbol.asyncDispose]: async () => { for (const socket of sockets) socket.destroy(); server.close(); },
  };
}

const text = (result: InvokeResult): string => result.ok ? Buffer.from(result.output).toString() : `${result.error.code}: ${result.error.message}`;

/** Each language's fetch fixture: same input and output format, the language's own fetch surface. */
const kLanguages: { readonly language: string, readonly fixture: string, readonly refused: string, readonly plugin: () => LanguagePlugin, readonly skip: string | false }[] = [
  { language: 'c', fixture: 'fetch.c', refused: 'error -1\n', plugin: cPlugin, skip },
  { language: 'js', fixture: 'fetch.js', refused: 'error ERR_NETWORK_BUDGET\n', plugin: jsPlugin, skip: false },
  { language: 'quickjs', fixture: 'fetch.js', refused: 'error ERR_NETWORK_BUDGET\n', plugin: quickjsPlugin, skip: false },
  { language: 'lua', fixture: 'fetch.lua', refused: 'error ERR_NETWORK_BUDGET\n', plugin: luaPlugin, skip: false },
  { language: 'lua54', fixture: 'fetch.lua', refused: 'error ERR_NETWORK_BUDGET\n', plugin: lua54Plugin, skip: false },
];

for (const { language, fixture, refused: refusedLine, plugin, skip: skipLanguage } of kLanguages) {
  test(`${language}: allowed, refused, counted to the byte, request and byte budgets, redirects, rate`, { skip: skipLanguage }, async () => {
    await using http = await rawHttpServer();
    const base = `http://127.0.0.1:${http.port}`;
    // The test server is on loopback, which the engine's deny list refuses unless the operator opens it.
    await using engine = await Engine.open({ plugins: [plugin()], netAllowPrivate: ['127.0.0.1'] });
    const source = await readFile(new URL(`./fixtures/${fixture}`, import.meta.url));
    const deploy = (name: string, budget: Record<string, unknown>): Promise<unknown> => engine.deploy(name, language, source, { allowHosts: [`127.0.0.1:${http.port}`], ...budget });

    await deploy('ok', {});
    const ok = await engine.invoke('ok', Buffer.from(`strict 1 ${base}/hello`));
    assert.equal(text(ok), '200 5\n');
    assert.equal(ok.usage.netRequests, 1);
    assert.equal(ok.usage.netBytes, http.requestBytes.at(-1)! + http.responseBytes.at(-1)!, 'every byte on the wire, both directions, counted exactly');

    await engine.deploy('nobody', language, source);
    const refused = await engine.invoke('nobody', Buffer.from(`lenient 1 ${base}/hello`));
    assert.equal(text(refused), refusedLine, 'a host not on the list is refused inside the function, which may go on');
    assert.equal(refused.usage.netRequests, 0);
    const strict = await engine.invoke('nobody', Buffer.from(`strict 1 ${base}/hello`));
    assert.equal(!strict.ok && strict.error.code, 'ERR_NETWORK_BUDGET');
    assert.match(!strict.ok ? strict.error.message : '', /127\.0\.0\.1:\d+ is not on the function's allow-list/);

    await deploy('counted', { netRequests: 2 });
    const counted = await engine.invoke('counted', Buffer.from(`strict 3 ${base}/hello`));
    assert.equal(!counted.ok && counted.error.code, 'ERR_NETWORK_BUDGET');
    assert.equal(counted.usage.netRequests, 2, 'the third request was refused before it was made');

    await deploy('bytes', { netBytes: 10_000 });
    const bytes = await engine.invoke('bytes', Buffer.from(`strict 1 ${base}/big/100000`));
    assert.equal(!bytes.ok && bytes.error.code, 'ERR_NETWORK_BUDGET');
    assert.ok(bytes.usage.netBytes > 10_000 && bytes.usage.netBytes <= 10_000 + 65_536, `stopped at ${bytes.usage.netBytes} bytes, within one read of the budget`);

    await deploy('redirects', {});
    const local = await engine.invoke('redirects', Buffer.from(`strict 1 ${base}/redirect-local`));
    assert.equal(text(local), '200 5\n');
    assert.equal(local.usage.netRequests, 2, 'each hop is a request');
    const away = await engine.invoke('redirects', Buffer.from(`strict 1 ${base}/redirect-away`));
    assert.equal(!away.ok && away.error.code, 'ERR_NETWORK_BUDGET');
    assert.match(!away.ok ? away.error.message : '', /redirect to 127\.0\.0\.2:\d+ is not on the function's allow-list/);

    await deploy('rate', { netRateBytesPerSec: 100_000, netBytes: 2 * 2 ** 20, wallMs: 30_000 });
    const startedAt = performance.now();
    const rated = await engine.invoke('rate', Buffer.from(`strict 1 ${base}/big/300000`));
    const seconds = (performance.now() - startedAt) / 1000;
    assert.equal(text(rated), '200 300000\n');
    assert.ok(seconds > 2 && seconds < 8, `300 kB at 100 kB/s took ${seconds.toFixed(2)} s`);
  });
}

test('names must resolve to public addresses, and the engine\'s own port is never reachable', { skip }, async () => {
  await using http = await rawHttpServer();
  const source = await readFile(kFixture);
  {
    await using closed = await Engine.open({ plugins: [cPlugin()] });
    await closed.deploy('byname', 'c', source, { allowHosts: [`localhost:${http.port}`] });
    const byName = await closed.invoke('byname', Buffer.from(`strict 1 http://localhost:${http.port}/hello`));
    assert.equal(!byName.ok && byName.error.code, 'ERR_NETWORK_BUDGET');
    assert.match(!byName.ok ? byName.error.message : '', /resolves to 127\.0\.0\.1, which is not a public address \(loopback\)/);
    assert.equal(byName.usage.netRequests, 0, 'refused before anything was sent: not a request');
  }

  // With loopback opened by the operator the same name reaches the server; the engine's own port stays closed.
  await using engine = await Engine.open({ plugins: [cPlugin()], netAllowPrivate: ['127.0.0.0/8'] });
  await engine.deploy('byname', 'c', source, { allowHosts: [`localhost:${http.port}`] });
  assert.equal(text(await engine.invoke('byname', Buffer.from(`strict 1 http://localhost:${http.port}/hello`))), '200 5\n');
  await using dir = await temporaryDir();
  const server = await SocketServer.start({ engine, socketPath: `${dir.path}/engine.sock`, listen: { host: '127.0.0.1', port: 0 } });
  try {
    const enginePort = server.addresses.tcp!.port;
    await engine.deploy('self', 'c', source, { allowHosts: [`127.0.0.1:${enginePort}`] });
    const self = await engine.invoke('self', Buffer.from(`strict 1 http://127.0.0.1:${enginePort}/`));
    assert.equal(!self.ok && self.error.code, 'ERR_NETWORK_BUDGET');
    assert.match(!self.ok ? self.error.message : '', /the engine's own address/);
    assert.equal(self.usage.netRequests, 0);
  } finally {
    await server.close();
  }
});

test('while one function waits 2 s on a slow server, others run at full speed and the wait costs no CPU', { skip }, async () => {
  await using http = await rawHttpServer();
  await using engine = await Engine.open({ plugins: [cPlugin()], netAllowPrivate: ['127.0.0.1'] });
  const source = await readFile(kFixture);
  await engine.deploy('slow', 'c', source, { allowHosts: [`127.0.0.1:${http.port}`], cpuMs: 100 });
  await engine.deploy('echo', 'c', Buffer.from('#include <springbok.h>\nint handler(const char *in, size_t len) { sb_output(in, len); return 0; }\n'));
  let slowDone = false;
  const slow = engine.invoke('slow', Buffer.from(`strict 1 http://127.0.0.1:${http.port}/slow`)).then((result) => { slowDone = true; return result; });
  const latencies: number[] = [];
  for (let i = 0; i < 50; i++) {
    const startedAt = performance.now();
    assert.equal(text(await engine.invoke('echo', Buffer.from(`${i}`))), `${i}`);
    latencies.push(performance.now() - startedAt);
  }
  assert.equal(slowDone, false);
  assert.ok(Math.max(...latencies) < 500, `slowest echo took ${Math.max(...latencies).toFixed(1)} ms`);
  const result = await slow;
  assert.equal(text(result), '200 4\n');
  assert.ok(result.usage.cpuMs < 300, `waiting 2 s was charged ${result.usage.cpuMs} ms of CPU`);
});

test('usage is what crossed the wire: URL credentials and an empty POST counted to the byte; refusals and bad headers are not requests', async () => {
  await using http = await rawHttpServer();
  await using engine = await Engine.open({ plugins: [jsPlugin()], netAllowPrivate: ['127.0.0.1'] });
  const source = `export default async (input, ctx) => {
    const { url, method, headers, parallel } = JSON.parse(input);
    const one = async () => {
      try { const response = await ctx.fetch(url, { method, headers }); return 'ok ' + response.status; }
      catch (error) { return 'error ' + error.code + ': ' + error.message; }
    };
    return (await Promise.all(Array.from({ length: parallel ?? 1 }, one))).join('\\n');
  };`;
  const invoke = (name: string, request: Record<string, unknown>): Promise<InvokeResult> => engine.invoke(name, Buffer.from(JSON.stringify(request)));
  await engine.deploy('f', 'js', Buffer.from(source), { allowHosts: [`127.0.0.1:${http.port}`], netRequests: 3 });

  const credentials = await invoke('f', { url: `http://user:p%40ss@127.0.0.1:${http.port}/hello`, method: 'POST' });
  assert.equal(text(credentials), 'ok 200');
  assert.equal(credentials.usage.netRequests, 1);
  assert.equal(credentials.usage.netBytes, http.requestBytes.at(-1)! + http.responseBytes.at(-1)!, 'the Authorization header made from user:pw@ and the content-length of an empty POST are counted');

  for (const [headers, named] of [[{ 'bad name': 'x' }, /header name "bad name" is not a valid HTTP header name/], [{ 'x-ok': 'a\r\nInjected: yes' }, /header "x-ok" has a value HTTP does not allow/]] as const) {
    const bad = await invoke('f', { url: `http://127.0.0.1:${http.port}/hello`, headers });
    assert.match(text(bad), /^error ERR_NETWORK: /);
    assert.match(text(bad), named);
    assert.equal(bad.usage.netRequests, 0, 'a request that could not be sent is not a request');
    assert.equal(bad.usage.netBytes, 0);
  }

  const sent = http.requestBytes.length;
  const parallel = await invoke('f', { url: `http://127.0.0.1:${http.port}/hello`, parallel: 6 });
  assert.equal(text(parallel).split('\n').filter((line) => line === 'ok 200').length, 3, 'six requests at once, three in the budget');
  assert.equal(parallel.usage.netRequests, 3);
  assert.equal(http.requestBytes.length - sent, 3, 'the server saw exactly the requests counted');

  const offList = await invoke('f', { url: `http://127.0.0.1:${http.port + 1}/hello` });
  assert.match(text(offList), /^error ERR_NETWORK_BUDGET: .* is not on the function's allow-list/);
  assert.equal(offList.usage.netRequests, 0);
  assert.equal(offList.usage.netBytes, 0);
});

test('allow-list entries: a trailing dot is a name (refused by the deny list at fetch, not by the count rule at deploy)', async () => {
  await using http = await rawHttpServer();
  // quickjs: the rule is the engine's, whatever the language.
  await using engine = await Engine.open({ plugins: [quickjsPlugin()] });
  const source = await readFile(new URL('./fixtures/fetch.js', import.meta.url));
  await engine.deploy('dotted', 'quickjs', source, { allowHosts: [`localhost.:${http.port}`] });
  const refused = await engine.invoke('dotted', Buffer.from(`lenient 1 http://localhost.:${http.port}/hello`));
  assert.equal(text(refused), 'error ERR_NETWORK_BUDGET\n');
  assert.equal(refused.usage.netRequests, 0);
  const strict = await engine.invoke('dotted', Buffer.from(`strict 1 http://localhost.:${http.port}/hello`));
  assert.match(!strict.ok ? strict.error.message : '', /^localhost\. resolves to 127\.0\.0\.1, which is not a public address \(loopback\)/);
  await assert.rejects(engine.deploy('bad', 'quickjs', source, { allowHosts: ['local host'] }), { code: 'ERR_INVALID_ARGUMENT' });
});
