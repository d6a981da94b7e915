import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { Engine, type InvokeResult } from '../engine/index.ts';
import { quickjsPlugin } from '../plugins/quickjs/index.ts';

/**
 * What only `quickjs` does (the shared contract is in js-contract.test.ts): guest code runs on the
 * engine's own thread, time-sliced through JSPI, so a long loop must not hold up a short function.
 */

const bytes = (text: string): Uint8Array => Buffer.from(text);
const output = (result: InvokeResult): string => {
  assert.equal(result.ok, true, result.ok ? '' : `${result.error.code}: ${result.error.message}`);
  return result.ok ? Buffer.from(result.output).toString('utf8') : '';
};
const errorCode = (result: InvokeResult): string => result.ok ? `ok: ${Buffer.from(result.output).toString()}` : result.error.code;

const kLoop = 'export default function (input) { const n = Number(input); let x = 0; for (let i = 0; i < n; i++) x = (x + i) % 1000003; return String(x); }';

test('quickjs: a short function answers while a long loop of another function still runs', async () => {
  await using engine = await Engine.open({ plugins: [quickjsPlugin()] });
  await engine.deploy('long', 'quickjs', bytes(kLoop), { cpuMs: 60_000, wallMs: 60_000 });
  await engine.deploy('short', 'quickjs', bytes('export default (input) => "short " + input'));
  assert.equal(output(await engine.invoke('short', bytes('warm'))), 'short warm');
  const order: string[] = [];
  const startedAt = performance.now();
  const long = engine.invoke('long', bytes('10000000')).then((result) => { order.push('long'); return result; });
  // Let the loop take the thread first: the short one must get in between its slices.
  await new Promise((resolve) => setImmediate(resolve));
  const short = await engine.invoke('short', bytes('done'));
  order.push('short');
  const shortMs = performance.now() - startedAt;
  const longResult = await long;
  const longMs = performance.now() - startedAt;
  assert.equal(output(short), 'short done');
  assert.deepEqual(order, ['short', 'long'], 'the short function answered before the loop ended');
  assert.ok(shortMs < 1000, `the short function answered after ${shortMs.toFixed(0)} ms`);
  assert.ok(longMs > shortMs, 'the loop was still running');
  assert.ok(longResult.ok, JSON.stringify(longResult));
  // The loop's resumed slices run after run() returns: their time must still be charged.
  assert.ok(longResult.usage.cpuMs > 0.5 * (longMs - shortMs), `charged ${longResult.usage.cpuMs} ms of a ${longMs.toFixed(0)} ms run`);
});

test('quickjs: two loops of one function take turns on its instance and both finish', async () => {
  await using engine = await Engine.open({ plugins: [quickjsPlugin()] });
  await engine.deploy('loop', 'quickjs', bytes(kLoop), { cpuMs: 30_000, wallMs: 30_000 });
  const [a, b] = await Promise.all([engine.invoke('loop', bytes('2000000')), engine.invoke('loop', bytes('1000000'))]);
  assert.equal(output(a), String(Array.from({ length: 2_000_000 }).reduce((x: number, _, i) => (x + i) % 1000003, 0)));
  assert.equal(output(b), String(Array.from({ length: 1_000_000 }).reduce((x: number, _, i) => (x + i) % 1000003, 0)));
});

test('quickjs: while(true){} with --cpu-ms 100 is ERR_CPU_BUDGET, charged close to 100 ms', async () => {
  await using engine = await Engine.open({ plugins: [quickjsPlugin()] });
  await engine.deploy('spin', 'quickjs', bytes('export default function () { while (true) {} }'), { cpuMs: 100 });
  await engine.deploy('echo', 'quickjs', bytes('export default (input) => input'));
  for (let i = 0; i < 3; i++) {
    const result = await engine.invoke('spin', bytes(''));
    assert.equal(errorCode(result), 'ERR_CPU_BUDGET');
    assert.ok(result.usage.cpuMs >= 95 && result.usage.cpuMs < 400, `stopped at ${result.usage.cpuMs} ms`);
    assert.equal(output(await engine.invoke('echo', bytes(`after ${i}`))), `after ${i}`);
  }
});

test('quickjs: memory bombs under 16 MiB are ERR_MEMORY_BUDGET, the instance is replaced and the engine serves on', async () => {
  const bombs: Record<string, string> = {
    nestedArrays: 'const a = []; for (;;) a.push([a.length]);',
    dictionary: 'const o = {}; for (let i = 0; ; i++) o["k" + i] = i;',
    typedArrays: 'const keep = []; for (;;) keep.push(new Float64Array(1 << 16));',
    stringRepeat: 'return "x".repeat(64 * 2 ** 20).length;',
    asyncBomb: 'await null; const a = []; for (;;) a.push({ i: a.length });',
  };
  await using engine = await Engine.open({ plugins: [quickjsPlugin()] });
  await engine.deploy('echo', 'quickjs', bytes('export default (input) => input'));
  const rssBeforeBytes = process.memoryUsage().rss;
  for (const [name, body] of Object.entries(bombs)) {
    await engine.deploy(name, 'quickjs', bytes(`let calls = 0; export default async function (input) { calls++; if (input === 'count') return calls; ${body} }`), { memoryBytes: 16 * 2 ** 20, cpuMs: 20_000 });
    assert.equal(output(await engine.invoke(name, bytes('count'))), '1');
    const result = await engine.invoke(name, bytes(''));
    assert.equal(errorCode(result), 'ERR_MEMORY_BUDGET', `${name}: ${JSON.stringify(result)}`);
    assert.equal(output(await engine.invoke(name, bytes('count'))), '1', `${name}: a new instance, module state afresh`);
    assert.equal(output(await engine.invoke('echo', bytes(name))), name);
    await engine.remove(name);
  }
  const grownBytes = process.memoryUsage().rss - rssBeforeBytes;
  assert.ok(grownBytes < 200 * 2 ** 20, `the engine's memory grew by ${Math.round(grownBytes / 2 ** 20)} MiB`);
});

test('quickjs: recursion inside a C builtin (deeply nested JSON) fails that invocation only', async () => {
  await using engine = await Engine.open({ plugins: [quickjsPlugin()] });
  await engine.deploy('nest', 'quickjs', bytes(`export default function (input) {
    if (input === 'ok') return 'ok';
    let a = []; for (let i = 0; i < 1e5; i++) a = [a];
    return JSON.stringify(a).length;
  }`));
  assert.equal(errorCode(await engine.invoke('nest', bytes(''))), 'ERR_FUNCTION');
  assert.equal(output(await engine.invoke('nest', bytes('ok'))), 'ok');
});

test('quickjs: a settled fetch is never lost when the slice ends as it is taken (tiny slices)', async () => {
  const server = createServer((_request, response) => { response.setHeader('content-length', 5); response.end('hello'); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    // At 0.05 ms slices the slice is nearly always over by the time a settlement is taken: the
    // fiber must leave it queued, not drop it (the guest would then wait until its wall budget).
    await using engine = await Engine.open({ plugins: [quickjsPlugin()], sliceMs: 0.05, netAllowPrivate: ['127.0.0.1'] });
    await engine.deploy('f', 'quickjs', await readFile(new URL('./fixtures/fetch.js', import.meta.url)), { allowHosts: [`127.0.0.1:${port}`], wallMs: 5000 });
    for (let i = 0; i < 30; i++) {
      const result = await engine.invoke('f', Buffer.from(`strict 3 http://127.0.0.1:${port}/`));
      assert.equal(result.ok ? Buffer.from(result.output).toString() : `${result.error.code}: ${result.error.message}`, '200 5\n200 5\n200 5\n', `invocation ${i}`);
    }
  } finally {
    server.close();
  }
});
