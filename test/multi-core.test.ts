import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { Engine, type InvokeResult } from '../engine/index.ts';
import { SpringbokClient } from '../dispatchers/client.ts';
import { SocketServer } from '../dispatchers/socket-server.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { example, runCli, startEngineProcess, temporaryDir } from './support/engine-process.ts';
import { kRealPlugins } from './support/test-plugins.ts';

/**
 * The engine on several scheduler threads (`workers`): every language served by two threads, dispatch
 * that spreads a busy function over both, budgets and usage that hold per function across threads,
 * a function's byte rate shared by all threads, atomic redeploys, cancellation, a dead thread replaced.
 */

const kTestPlugins = { url: new URL('./support/test-plugins.ts', import.meta.url).href, export: 'threadTestPlugins' };
const toolchain = findToolchain();
const text = (result: InvokeResult): string => result.ok ? Buffer.from(result.output).toString() : `${result.error.code}: ${result.error.message}`;
const code = (result: InvokeResult): string => result.ok ? 'ok' : result.error.code;

test('serve --workers 2 runs functions of every language on both threads', async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path, extraArgs: ['--workers', '2'] });
  assert.match(engine.readyLine, / workers=2 /);
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  try {
    const functions = [
      { name: 'sm', language: 'sm', file: 'sm/fib.sm', input: '20', expected: '6765' },
      { name: 'lua', language: 'lua', file: 'lua/fib.lua', input: '15', expected: '610' },
      { name: 'lua54', language: 'lua54', file: 'lua/fib.lua', input: '15', expected: '610' },
      { name: 'js', language: 'js', file: 'js/fib.js', input: '15', expected: '610' },
      { name: 'quickjs', language: 'quickjs', file: 'js/fib.js', input: '15', expected: '610' },
      ...('missing' in toolchain ? [] : [
        { name: 'c', language: 'c', file: 'c/fib.c', input: '15', expected: '610' },
        { name: 'llvm', language: 'llvm', file: 'llvm/collatz.ll', input: '27', expected: '111' },
      ]),
    ];
    for (const fn of functions) await client.deploy(fn.name, fn.language, await readFile(example(fn.file)));
    for (const fn of functions) {
      // Sent together, so dispatch sees both threads busy and spreads them.
      const results = await Promise.all(Array.from({ length: 8 }, () => client.invoke(fn.name, fn.input)));
      assert.deepEqual(results.map((result) => result.ok ? Buffer.from(result.output).toString().trim() : result.error.code), Array(8).fill(fn.expected), fn.language);
    }
    const listed = await client.list();
    for (const fn of functions) {
      assert.equal(listed.find((info) => info.name === fn.name)?.instances, 2, `${fn.language} has an instance on each thread`);
    }
    const stats = await client.stats();
    assert.equal(stats.threads?.length, 2);
    assert.equal(stats.totals.invocations, functions.length * 8);
    assert.equal(stats.totals.ok, functions.length * 8);
    for (const fn of functions) assert.equal(stats.perFunction[fn.name]?.invocations, 8, `usage of ${fn.name} counted over both threads`);
  } finally {
    await client.close();
  }
});

test('budgets hold on every thread, usage adds up over threads, and a hog does not hold up a light function', async () => {
  await using engine = await Engine.open({ workers: 2, pluginModule: kRealPlugins });
  await engine.deploy('spin', 'sm', await readFile(example('sm/spin.sm')), { cpuMs: 50 });
  await engine.deploy('bomb', 'sm', await readFile(example('sm/alloc-bomb.sm')), { memoryBytes: 64 * 1024 });
  await engine.deploy('hog', 'sm', await readFile(example('sm/spin.sm')), { cpuMs: 1500, wallMs: 60_000 });
  await engine.deploy('light', 'sm', await readFile(example('sm/hello.sm')));

  const spins = await Promise.all(Array.from({ length: 4 }, () => engine.invoke('spin', Buffer.alloc(0))));
  assert.deepEqual(spins.map(code), Array(4).fill('ERR_CPU_BUDGET'));
  // Precision is the benchmarks' business (a loaded machine stretches a slice); here: stopped by the CPU budget, not the wall clock.
  for (const spin of spins) assert.ok(spin.usage.cpuMs >= 50 && spin.usage.cpuMs < 1000, `stopped at ${spin.usage.cpuMs} ms of a 50 ms budget`);
  const bombs = await Promise.all(Array.from({ length: 4 }, () => engine.invoke('bomb', Buffer.alloc(0))));
  assert.deepEqual(bombs.map(code), Array(4).fill('ERR_MEMORY_BUDGET'));
  const stats = engine.stats();
  assert.equal(stats.perFunction.spin?.errors.ERR_CPU_BUDGET, 4);
  assert.ok(stats.perFunction.spin.cpuMs >= 200, `CPU of all four spins counted: ${stats.perFunction.spin.cpuMs} ms`);
  assert.equal(stats.perFunction.bomb?.errors.ERR_MEMORY_BUDGET, 4);
  assert.ok(stats.perFunction.bomb.peakMemoryBytes > 32 * 1024, `peak memory reported from the threads: ${stats.perFunction.bomb.peakMemoryBytes}`);

  // Four hogs on two threads: each thread runs two, and still serves the light function in between.
  const hogs = Array.from({ length: 4 }, () => engine.invoke('hog', Buffer.alloc(0)));
  const latencies: number[] = [];
  for (let i = 0; i < 20; i++) {
    const startedAt = performance.now();
    assert.equal(text(await engine.invoke('light', Buffer.from('x'))), 'hello, x');
    latencies.push(performance.now() - startedAt);
  }
  assert.deepEqual((await Promise.all(hogs)).map(code), Array(4).fill('ERR_CPU_BUDGET'));
  assert.ok(Math.max(...latencies) < 750, `the light function waited at most ${Math.max(...latencies).toFixed(1)} ms beside hogs of 1.5 s each`);
});

test('a function\'s byte rate is one balance shared by all threads', async () => {
  const body = Buffer.alloc(80_000, 0x61);
  const server = createServer((_request, response) => { response.setHeader('Content-Length', body.byteLength); response.end(body); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    await using engine = await Engine.open({ workers: 2, pluginModule: kRealPlugins, netAllowPrivate: ['127.0.0.1'] });
    await engine.deploy('rated', 'js', await readFile(new URL('./fixtures/fetch.js', import.meta.url)), { allowHosts: [`127.0.0.1:${port}`], netRateBytesPerSec: 100_000, wallMs: 30_000 });
    const startedAt = performance.now();
    const results = await Promise.all([0, 1, 2, 3].map(() => engine.invoke('rated', Buffer.from(`strict 1 http://127.0.0.1:${port}/`))));
    const seconds = (performance.now() - startedAt) / 1000;
    assert.deepEqual(results.map(text), Array(4).fill('200 80000\n'));
    assert.equal(engine.list()[0]?.instances, 2, 'the invocations ran on both threads');
    // 320 kB at 100 kB/s is ~3.2 s in all; a balance per thread would let them finish in ~1.6 s.
    assert.ok(seconds > 2.4, `two threads took ${seconds.toFixed(2)} s for 320 kB at 100 kB/s`);
  } finally {
    server.close();
  }
});

test('redeploys are atomic across threads, removes reach every thread, cancellation and the engine\'s own ports work', async () => {
  await using dir = await temporaryDir();
  await using engine = await Engine.open({ workers: 2, pluginModule: kRealPlugins });
  const server = await SocketServer.start({ engine, socketPath: `${dir.path}/engine.sock`, listen: { host: '127.0.0.1', port: 0 } });
  try {
    await engine.deploy('f', 'js', Buffer.from('export default () => "one"'));
    await Promise.all(Array.from({ length: 8 }, () => engine.invoke('f', Buffer.alloc(0))));
    await engine.deploy('f', 'js', Buffer.from('export default () => "two"'));
    const after = await Promise.all(Array.from({ length: 16 }, () => engine.invoke('f', Buffer.alloc(0))));
    assert.deepEqual(after.map(text), Array(16).fill('two'), 'every invocation after the deploy resolved runs the new version, on both threads');
    assert.deepEqual(after.map((result) => result.version), Array(16).fill(2));

    assert.equal(await engine.remove('f'), true);
    await assert.rejects(engine.invoke('f', Buffer.alloc(0)), { code: 'ERR_UNKNOWN_FUNCTION' });

    await engine.deploy('forever', 'sm', await readFile(example('sm/spin.sm')), { cpuMs: 60_000, wallMs: 60_000 });
    const controller = new AbortController();
    const running = engine.invoke('forever', Buffer.alloc(0), { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('client went away')), 100);
    const startedAt = performance.now();
    const cancelled = await running;
    assert.equal(code(cancelled), 'ERR_CANCELLED');
    assert.match(text(cancelled), /client went away/);
    assert.ok(performance.now() - startedAt < 10_000);

    const enginePort = server.addresses.tcp!.port;
    await engine.deploy('self', 'js', await readFile(new URL('./fixtures/fetch.js', import.meta.url)), { allowHosts: [`127.0.0.1:${enginePort}`] });
    const self = await engine.invoke('self', Buffer.from(`lenient 1 http://127.0.0.1:${enginePort}/`));
    assert.equal(text(self), 'error ERR_NETWORK_BUDGET\n', 'no thread lets a function reach the engine\'s own port');
  } finally {
    await server.close();
  }
});

test('a function called one at a time lives on one thread; one called concurrently spreads', async () => {
  await using engine = await Engine.open({ workers: 2, pluginModule: kRealPlugins });
  const hello = await readFile(example('sm/hello.sm'));
  for (let i = 0; i < 20; i++) await engine.deploy(`quiet-${i}`, 'sm', hello);
  for (let i = 0; i < 20; i++) assert.equal(text(await engine.invoke(`quiet-${i}`, Buffer.from('x'))), 'hello, x');
  assert.deepEqual(engine.list().map((fn) => fn.instances), Array(20).fill(1));
  const threads = engine.stats().threads!;
  assert.equal(threads[0]!.functions + threads[1]!.functions, 20, 'each function compiled on one thread only');
  assert.ok(threads[0]!.functions > 0 && threads[1]!.functions > 0, 'deploys spread over the threads');
  await engine.deploy('busy', 'sm', await readFile(example('sm/fib.sm')));
  await Promise.all(Array.from({ length: 4 }, () => engine.invoke('busy', Buffer.from('20'))));
  assert.equal(engine.list().find((fn) => fn.name === 'busy')?.instances, 2);
});

test('a thread that dies fails only its own invocations and is replaced by one that compiles functions as they come', async () => {
  const warnings: string[] = [];
  await using engine = await Engine.open({ workers: 2, pluginModule: kTestPlugins, onWarning: (message) => warnings.push(message) });
  await engine.deploy('echo', 'faulty', Buffer.from('echo'));
  await engine.deploy('exit', 'faulty', Buffer.from('exit-thread'));
  const died = await engine.invoke('exit', Buffer.alloc(0));
  assert.equal(code(died), 'ERR_INTERNAL');
  assert.match(text(died), /scheduler thread running this invocation stopped/);
  assert.ok(warnings.some((warning) => /starting a new one/.test(warning)), warnings.join('\n'));
  const echoes = await Promise.all(Array.from({ length: 10 }, (_, i) => engine.invoke('echo', Buffer.from(`hi ${i}`))));
  assert.deepEqual(echoes.map(text), Array.from({ length: 10 }, (_, i) => `hi ${i}`), 'the other thread goes on');
  // A thread that dies young is replaced after a second; then both threads run echo again.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const later = await Promise.all(Array.from({ length: 10 }, () => engine.invoke('echo', Buffer.from('again'))));
  assert.deepEqual(later.map(text), Array(10).fill('again'));
  assert.equal(engine.list().find((fn) => fn.name === 'echo')?.instances, 2, 'the new thread runs echo too');
  assert.equal(engine.stats().threads?.length, 2);
  assert.equal(engine.stats().inFlight, 0);
});

test('stored functions come back on every thread after a restart', async () => {
  await using dir = await temporaryDir();
  {
    await using engine = await Engine.open({ workers: 2, pluginModule: kRealPlugins, dataDir: dir.path });
    await engine.deploy('kept', 'lua', Buffer.from('return function (input) return "kept " .. input end'));
    await engine.deploy('broken', 'faulty-lang-gone', Buffer.from('x')).catch(() => {});
  }
  await using engine = await Engine.open({ workers: 2, pluginModule: kRealPlugins, dataDir: dir.path });
  const results = await Promise.all(Array.from({ length: 8 }, () => engine.invoke('kept', Buffer.from('x'))));
  assert.deepEqual(results.map(text), Array(8).fill('kept x'));
  assert.equal(engine.list()[0]?.instances, 2);
});

test('--workers is validated and SPRINGBOK_WORKERS=0 serves on one thread', async () => {
  const bad = await runCli(['serve', '--workers', '-1']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--workers/);
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path, env: { SPRINGBOK_WORKERS: '0' } });
  assert.match(engine.readyLine, / workers=0 /);
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  try {
    await client.deploy('hello', 'sm', await readFile(example('sm/hello.sm')));
    const hello = await client.invoke('hello', 'x');
    assert.equal(hello.ok && Buffer.from(hello.output).toString(), 'hello, x');
    assert.equal((await client.stats()).threads, undefined);
  } finally {
    await client.close();
  }
});
