import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, EngineError, type InvokeResult } from '../engine/index.ts';
import type { InvocationRequest } from '../engine/plugin.ts';
import { jsPlugin } from '../plugins/js/index.ts';
import { readInvoke, readResult, RecordReader, RecordWriter, writeInvoke, writeResult } from '../engine/threads/records.ts';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpringbokClient } from '../dispatchers/client.ts';
import { example, httpBase, runCli, startEngineProcess, temporaryDir } from './support/engine-process.ts';
import { bytes, kJsEngines, output as body } from './support/js-snippets.ts';

/**
 * The Workers module format (`export default { fetch (request, env, ctx) { ... } }`) on both
 * JavaScript engines, through the real in-process Engine: the request a caller describes (or the
 * socket's POST), the Response's status, headers and body, deploy-time env, ctx.waitUntil.
 */

const kRouter = `export default {
  async fetch (request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === '/') return new Response('home');
    if (url.pathname === '/teapot') return new Response('short and stout', { status: 418, headers: { 'x-kind': 'teapot', 'content-type': 'text/plain' } });
    if (url.pathname === '/echo') {
      return Response.json({ method: request.method, url: request.url, query: url.searchParams.get('q'), headers: Object.fromEntries(request.headers), body: await request.text() });
    }
    if (url.pathname === '/env') return Response.json({ env, frozen: Object.isFrozen(env), keys: Object.keys(env) });
    return new Response('no route for ' + url.pathname, { status: 404 });
  },
};`;

async function listen (handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<{ port: number } & AsyncDisposable> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, [Symbol.asyncDispose]: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

const request = (method: string, url: string, headers: [string, string][] = []): InvocationRequest => ({ method, url, headers });

for (const [, makePlugin] of kJsEngines) {
  const language = makePlugin().language;

  test(`${language}: a Worker routes on the request's path and answers its status, headers and body`, async () => {
    await using engine = await Engine.open({ plugins: [makePlugin()] });
    await engine.deploy('router', language, bytes(kRouter));
    const home = await engine.invoke('router', new Uint8Array(0), { request: request('GET', 'http://example.test/') });
    assert.equal(body(home), 'home');
    assert.equal(home.ok && home.response?.status, 200);
    assert.deepEqual(home.ok && home.response?.headers, [['content-type', 'text/plain;charset=UTF-8']]);

    const teapot = await engine.invoke('router', new Uint8Array(0), { request: request('GET', 'http://example.test/teapot') });
    assert.equal(body(teapot), 'short and stout');
    assert.equal(teapot.ok && teapot.response?.status, 418);
    assert.deepEqual(teapot.ok && teapot.response?.headers, [['content-type', 'text/plain'], ['x-kind', 'teapot']]);

    const missing = await engine.invoke('router', new Uint8Array(0), { request: request('DELETE', 'http://example.test/nowhere') });
    assert.equal(body(missing), 'no route for /nowhere');
    assert.equal(missing.ok && missing.response?.status, 404);

    const echo = await engine.invoke('router', bytes('{"a":1}'), { request: request('PUT', 'http://example.test/echo?q=42', [['content-type', 'application/json'], ['x-one', '1']]) });
    assert.deepEqual(JSON.parse(body(echo)), { method: 'PUT', url: 'http://example.test/echo?q=42', query: '42', headers: { 'content-type': 'application/json', 'x-one': '1' }, body: '{"a":1}' });
    assert.equal(echo.ok && echo.response?.headers.find(([name]) => name === 'content-type')?.[1], 'application/json');
  });

  test(`${language}: without an HTTP request (the socket) a Worker gets a POST of the input and its body is the output`, async () => {
    await using engine = await Engine.open({ plugins: [makePlugin()] });
    await engine.deploy('echo', language, bytes(`export default { async fetch (request) {
      return new Response(request.method + ' ' + request.url + ' ' + (await request.text()), { status: 404 });
    } };`));
    const result = await engine.invoke('echo', bytes('héllo'));
    assert.equal(body(result), 'POST http://function.invalid/ héllo');
    // The status travels with the result; a socket caller sees only the body.
    assert.equal(result.ok && result.response?.status, 404);
  });

  test(`${language}: a Worker's request body is the input's bytes, unchanged, and so is its response body`, async () => {
    await using engine = await Engine.open({ plugins: [makePlugin()] });
    await engine.deploy('bytes', language, bytes(`export default { async fetch (request) {
      const data = new Uint8Array(await request.arrayBuffer());
      return new Response(data.map((byte) => 255 - byte), { headers: { 'x-count': String(data.length) } });
    } };`));
    // Not UTF-8: a string input would have turned these into U+FFFD.
    const input = Uint8Array.from([0, 255, 128, 0xc3, 0x28, 10, 0xfe]);
    const expected = Buffer.from(input.map((byte) => 255 - byte));
    for (const caller of [undefined, request('POST', 'http://example.test/')]) {
      const result = await engine.invoke('bytes', input, caller === undefined ? {} : { request: caller });
      assert.equal(result.ok, true, result.ok ? '' : result.error.message);
      assert.deepEqual(result.ok && Buffer.from(result.output), expected);
      assert.deepEqual(result.ok && result.response?.headers, [['x-count', '7']]);
    }
  });

  test(`${language}: env holds the deploy-time variables, frozen; list shows only their names`, async () => {
    await using engine = await Engine.open({ plugins: [makePlugin()] });
    const info = await engine.deploy('router', language, bytes(kRouter), undefined, { env: { API_KEY: 's3cret-value', REGION: 'eu' } });
    assert.deepEqual(info.envKeys, ['API_KEY', 'REGION']);
    assert.ok(!JSON.stringify(engine.list()).includes('s3cret-value'));
    const result = await engine.invoke('router', new Uint8Array(0), { request: request('GET', 'http://example.test/env') });
    assert.deepEqual(JSON.parse(body(result)), { env: { API_KEY: 's3cret-value', REGION: 'eu' }, frozen: true, keys: ['API_KEY', 'REGION'] });
    // A redeploy without env has none.
    const bare = await engine.deploy('router', language, bytes(kRouter));
    assert.equal(bare.envKeys, undefined);
    const again = await engine.invoke('router', new Uint8Array(0), { request: request('GET', 'http://example.test/env') });
    assert.deepEqual((JSON.parse(body(again)) as { env: unknown }).env, {});
  });

  test(`${language}: ctx.waitUntil keeps the invocation until its promises settle; a rejection is logged, not fatal`, async () => {
    await using engine = await Engine.open({ plugins: [makePlugin()] });
    await engine.deploy('later', language, bytes(`let done = 0;
    export default { fetch (request, env, ctx) {
      const url = new URL(request.url);
      if (url.pathname === '/count') return new Response(String(done));
      ctx.waitUntil(new Promise((resolve) => setTimeout(resolve, 150)).then(() => { done++; console.log('background work done'); }));
      ctx.waitUntil(Promise.reject(new Error('nobody minds')));
      ctx.passThroughOnException();
      return new Response('answered');
    } };`), { wallMs: 5000 });
    const started = performance.now();
    const result = await engine.invoke('later', new Uint8Array(0), { request: request('GET', 'http://example.test/') });
    const tookMs = performance.now() - started;
    assert.equal(body(result), 'answered');
    assert.ok(tookMs >= 140, `the result came after ${tookMs} ms, before the waitUntil promise (150 ms)`);
    assert.ok(result.logs.some((line) => line.includes('background work done')), JSON.stringify(result.logs));
    assert.ok(result.logs.some((line) => line.includes('nobody minds')), JSON.stringify(result.logs));
    const count = await engine.invoke('later', new Uint8Array(0), { request: request('GET', 'http://example.test/count') });
    assert.equal(body(count), '1');
  });

  test(`${language}: a fetch handler that returns no Response, or throws, fails with ERR_FUNCTION`, async () => {
    await using engine = await Engine.open({ plugins: [makePlugin()] });
    await engine.deploy('bad', language, bytes(`export default { async fetch (request) {
      const path = new URL(request.url).pathname;
      if (path === '/throw') throw new Error('handler broke');
      if (path === '/fake') return Object.create(Response.prototype);
      return { status: 200, body: 'not a Response' };
    } };`));
    for (const [path, pattern] of [['/plain', /must return a Response.*got object/], ['/throw', /handler broke/], ['/fake', /Response/]] as const) {
      const result = await engine.invoke('bad', new Uint8Array(0), { request: request('GET', `http://example.test${path}`) });
      assert.equal(result.ok, false, path);
      assert.equal(!result.ok && result.error.code, 'ERR_FUNCTION', path);
      assert.match(!result.ok ? result.error.message : '', pattern, path);
    }
    // A replaced global Response does not make something else pass for one.
    await engine.deploy('forged', language, bytes(`globalThis.Response = class { constructor () { this.status = 200; this.headers = []; } };
    export default { fetch () { return new Response(); } };`));
    const forged = await engine.invoke('forged', new Uint8Array(0));
    assert.equal(!forged.ok && forged.error.code, 'ERR_FUNCTION');
  });

  test(`${language}: the old format is unchanged, and a default export that is neither fails its invocations`, async () => {
    await using engine = await Engine.open({ plugins: [makePlugin()] });
    await engine.deploy('classic', language, bytes('export default function (input, ctx) { return { input, keys: Object.keys(ctx) }; }'), undefined, { env: { A: '1' } });
    const result = await engine.invoke('classic', bytes('x'), { request: request('GET', 'http://example.test/') });
    assert.deepEqual(JSON.parse(body(result)), { input: 'x', keys: ['fetch', 'invoke', 'kv'] });
    assert.equal(result.ok && result.response, undefined);
    await engine.deploy('neither', language, bytes('export default { handle () {} };'));
    const neither = await engine.invoke('neither', new Uint8Array(0));
    assert.equal(!neither.ok && neither.error.code, 'ERR_FUNCTION');
    assert.match(!neither.ok ? neither.error.message : '', /default export is not a function, nor an object with a fetch method/);
  });
}

test('bytes the host hands a guest are exactly theirs, never a view of a larger host buffer (a Worker\'s input, a fetched body)', async () => {
  await using server = await listen((request, response) => response.end('abc'));
  for (const [, makePlugin] of kJsEngines) {
    const plugin = makePlugin();
    await using engine = await Engine.open({ plugins: [plugin], netAllowPrivate: ['127.0.0.1'] });
    await engine.deploy('sizes', plugin.language, bytes(`export default { async fetch (request) {
      const fetched = await fetch('http://127.0.0.1:${server.port}/');
      const body = new Uint8Array(await fetched.arrayBuffer());
      return Response.json({ input: (await request.arrayBuffer()).byteLength, fetched: [body.byteLength, body.buffer.byteLength] });
    } };`), { allowHosts: [`127.0.0.1:${server.port}`] });
    // Buffer.from of a short string lies in Node's shared 8 KiB pool.
    const result = await engine.invoke('sizes', Buffer.from('xy'));
    assert.deepEqual(JSON.parse(body(result)), { input: 2, fetched: [3, 3] }, plugin.language);
    await engine.deploy('classic', plugin.language, bytes(`export default async function (input, ctx) {
      const fetched = await ctx.fetch('http://127.0.0.1:${server.port}/');
      return [fetched.body.byteLength, fetched.body.buffer.byteLength];
    }`), { allowHosts: [`127.0.0.1:${server.port}`] });
    assert.deepEqual(JSON.parse(body(await engine.invoke('classic', new Uint8Array(0)))), [3, 3], plugin.language);
  }
});

test('env is checked at deploy: names, count and value size', async () => {
  await using engine = await Engine.open({ plugins: [jsPlugin()] });
  const source = bytes('export default { fetch () { return new Response(""); } };');
  const refused = async (env: Record<string, unknown>, pattern: RegExp): Promise<void> => {
    await assert.rejects(engine.deploy('f', 'js', source, undefined, { env: env as Record<string, string> }), (error: unknown) => {
      assert.ok(error instanceof EngineError);
      assert.equal(error.code, 'ERR_INVALID_ARGUMENT');
      assert.match(error.message, pattern);
      return true;
    });
  };
  await refused({ '1ABC': 'x' }, /env name "1ABC" is not valid/);
  await refused({ 'A-B': 'x' }, /env name "A-B" is not valid/);
  await refused({ A: 42 }, /env A must be a string/);
  await refused({ BIG: 'x'.repeat(4097) }, /env BIG is 4097 bytes, over the limit of 4096/);
  await refused(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`V${i}`, ''])), /65 variables, over the limit of 64/);
  // A refused value is never echoed.
  await assert.rejects(engine.deploy('f', 'js', source, undefined, { env: { SECRET: 'y'.repeat(5000) } }), (error: Error) => !error.message.includes('yyyy'));
  assert.equal(engine.list().length, 0);
});

test('the request and the response cross between threads as they were sent', () => {
  const writer = new RecordWriter();
  const sent = request('PATCH', 'http://h.test/a?b=ü', [['x-a', '1'], ['x-a', '2'], ['empty', '']]);
  writeInvoke(writer, 7, 1.5, 'f', bytes('in'), sent);
  const usage = { cpuMs: 1, memoryBytes: 2, netRequests: 0, netBytes: 0 };
  const result: InvokeResult = { ok: true, output: bytes('out'), usage, logs: ['l'], version: 3, response: { status: 418, headers: [['set-cookie', 'a=1'], ['set-cookie', 'b=2']] } };
  writeResult(writer, 7, result);
  const { buffer, length } = writer.take();
  const reader = new RecordReader(buffer, length);
  assert.deepEqual(readInvoke(reader), { id: 7, acceptedAt: 1.5, name: 'f', input: Buffer.from('in'), depth: 0, request: sent });
  assert.deepEqual(readResult(reader), { id: 7, result: { ...result, output: Buffer.from('out') } });
  assert.equal(reader.done, true);
});

test('over a real `springbok serve --http`: the example Worker routes HTTP requests, env is deployed by header and by the CLI, the socket gets the body', { timeout: 120_000 }, async () => {
  await using dir = await temporaryDir();
  await using server = await startEngineProcess({ dir: dir.path, extraArgs: ['--http', '127.0.0.1:0', '--workers', '2'] });
  const base = httpBase(server);
  const source = await readFile(example('js/worker.js'));

  for (const language of ['js', 'quickjs']) {
    const name = `worker-${language}`;
    const deployed = await fetch(`${base}/functions/${name}?language=${language}`, { method: 'PUT', body: source, headers: { 'x-springbok-env': 'GREETING=bonjour%2C%20et', 'X-Springbok-Env': 'TOKEN=t0p-secret' } });
    assert.equal(deployed.status, 200, await deployed.clone().text());
    assert.deepEqual((await deployed.json() as { function: { envKeys: string[] } }).function.envKeys, ['GREETING', 'TOKEN']);

    const hello = await fetch(`${base}/functions/${name}/hello/ada`);
    assert.equal(hello.status, 200);
    assert.equal(await hello.text(), 'bonjour, et, ada\n');
    assert.equal(hello.headers.get('content-type'), 'text/plain;charset=UTF-8');
    assert.ok(Number(hello.headers.get('x-springbok-cpu-ms')) >= 0);

    const reversed = await fetch(`${base}/functions/${name}/reverse?x=1`, { method: 'POST', body: 'stressed' });
    assert.equal(reversed.status, 200);
    assert.equal(await reversed.text(), 'desserts');
    assert.equal(reversed.headers.get('x-length'), '8');

    const missing = await fetch(`${base}/functions/${name}/nowhere`, { method: 'DELETE' });
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: 'no route for DELETE /nowhere' });

    // POST /functions/NAME, as for any function: the Worker sees a POST to /.
    const root = await fetch(`${base}/functions/${name}`, { method: 'POST', body: 'loud' });
    assert.equal(await root.text(), 'LOUD');

    // GET /functions/NAME still describes the function; its env's values are never shown.
    const described = await (await fetch(`${base}/functions/${name}`)).text();
    assert.match(described, /"envKeys":\["GREETING","TOKEN"\]/);
    assert.ok(!described.includes('t0p-secret'));
  }
  const listed = await (await fetch(`${base}/functions`)).text();
  assert.ok(!listed.includes('t0p-secret') && !listed.includes('bonjour'), listed);

  // A JSON echo over HTTP: method, path and query, headers, body.
  await fetch(`${base}/functions/echo?language=quickjs`, { method: 'PUT', body: kRouter });
  const echo = await fetch(`${base}/functions/echo/echo?q=%C3%BC`, { method: 'PATCH', body: 'payload', headers: { 'x-custom': 'yes', 'content-type': 'text/x-test' } });
  assert.equal(echo.status, 200);
  const echoed = await echo.json() as { method: string, url: string, query: string, headers: Record<string, string>, body: string };
  assert.equal(echoed.method, 'PATCH');
  assert.equal(echoed.url, `${base}/echo?q=%C3%BC`);
  assert.equal(echoed.query, 'ü');
  assert.equal(echoed.headers['x-custom'], 'yes');
  assert.equal(echoed.headers['content-type'], 'text/x-test');
  assert.equal(echoed.headers.connection, undefined);
  assert.equal(echoed.body, 'payload');
  const teapot = await fetch(`${base}/functions/echo/teapot`);
  assert.equal(teapot.status, 418);
  assert.equal(teapot.headers.get('x-kind'), 'teapot');

  // The CLI's --env, and the socket: the input is the POST body, the response body the output.
  const env = { SPRINGBOK_SOCKET: server.socketPath };
  const cli = await runCli(['deploy', 'js', 'cli-worker', example('js/worker.js'), '--env', 'GREETING=hej', '--env', 'EMPTY='], { env });
  assert.equal(cli.code, 0, cli.stderr);
  const refused = await runCli(['deploy', 'js', 'cli-worker', example('js/worker.js'), '--env', 'NOVALUE'], { env });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /--env needs KEY=VALUE/);
  const badName = await runCli(['deploy', 'js', 'cli-worker', example('js/worker.js'), '--env', '9LIVES=secret-cat'], { env });
  assert.notEqual(badName.code, 0);
  assert.match(badName.stderr, /ERR_INVALID_ARGUMENT.*env name "9LIVES"/);
  assert.ok(!badName.stderr.includes('secret-cat'));
  const list = await runCli(['list', '--json'], { env });
  assert.equal(list.code, 0, list.stderr);
  assert.ok(!list.stdout.includes('hej'));
  assert.match(list.stdout, /"envKeys":\["EMPTY","GREETING"\]/);
  const hello = await fetch(`${base}/functions/cli-worker/hello/`);
  assert.equal(await hello.text(), 'hej, world\n');
  const client = await SpringbokClient.connect({ socketPath: server.socketPath });
  try {
    const result = await client.invoke('cli-worker', 'quiet');
    assert.equal(result.ok, true);
    assert.equal(result.ok && Buffer.from(result.output).toString(), 'QUIET');
  } finally {
    await client.close();
  }
  const logs = server.stderr();
  assert.ok(!logs.includes('t0p-secret') && !logs.includes('hej'), logs);
});
