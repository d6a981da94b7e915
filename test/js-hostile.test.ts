import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { SpringbokClient, type ClientInvokeResult } from '../dispatchers/client.ts';
import type { Budget } from '../engine/budget.ts';
import { example, startEngineProcess, temporaryDir, type EngineProcess } from './support/engine-process.ts';

/**
 * Hostile `js` functions against a real `springbok serve` (two scheduler threads by default), each
 * a reproducer of a way a V8 isolate used to hang the engine, outlive its budgets or blow up its
 * memory. Each must end with its budget error within twice its budget plus slack, while a light
 * sm function and a light js function keep answering within about a second; memory bombs run in
 * a loop while the engine's RSS, read from /proc, stays bounded; SIGTERM still ends the engine.
 */

const kMiB = 2 ** 20;
/** Slack for a loaded, shared 2-core machine, in ms. */
const kSlackMs = 1000;
/** A light function answering slower than this beside an attack fails the test, in ms. */
const kLightBoundMs = 1500;

const code = (result: ClientInvokeResult): string => result.ok ? 'ok' : result.error.code;
const describe = (result: ClientInvokeResult): string => result.ok ? `ok: ${Buffer.from(result.output).subarray(0, 60).toString()}` : `${result.error.code}: ${result.error.message}`;

/** Resident memory of a process, in bytes, from /proc (the engine's, measured from outside). */
function rssBytes (pid: number): number {
  const line = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(line![1]) * 1024;
}

/** CPU a process has used (user + system), in ms, from /proc. */
function cpuTimeMs (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime in clock ticks (100 Hz on Linux)
}

interface Attack { results: ClientInvokeResult[], wallMs: number, slowestLightMs: number }

/** Runs `count` invocations of `name` at once; until they end, keeps calling the light sm and js functions one after another. */
async function attack (client: SpringbokClient, name: string, count = 1, input = ''): Promise<Attack> {
  const startedAt = performance.now();
  let ended = false;
  const attacks = Promise.all(Array.from({ length: count }, () => client.invoke(name, input))).finally(() => { ended = true; });
  let slowestLightMs = 0;
  while (!ended) {
    for (const [light, expected] of [['light-sm', '5050'], ['light-js', 'light x']] as const) {
      const before = performance.now();
      const result = await client.invoke(light, light === 'light-sm' ? '100' : 'x');
      slowestLightMs = Math.max(slowestLightMs, performance.now() - before);
      assert.equal(result.ok ? Buffer.from(result.output).toString() : describe(result), expected, `${light} beside ${name}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { results: await attacks, wallMs: performance.now() - startedAt, slowestLightMs };
}

async function deploy (client: SpringbokClient, name: string, source: string, budget: Partial<Budget>): Promise<void> {
  await client.deploy(name, 'js', Buffer.from(source), budget);
}

async function startWithLights (dir: string): Promise<{ engine: EngineProcess, client: SpringbokClient }> {
  const engine = await startEngineProcess({ dir });
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  await client.deploy('light-sm', 'sm', await readFile(example('sm/sum.sm')));
  await client.deploy('light-js', 'js', Buffer.from('export default (input) => "light " + input'));
  return { engine, client };
}

/** SIGTERM must end the engine within `boundMs`, whatever its isolates are doing (SIGKILL after, so the test cannot hang). */
async function assertStopsWithin (engine: EngineProcess, boundMs: number): Promise<void> {
  const exitCode = await Promise.race([engine.stop(), new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), boundMs))]);
  if (exitCode === 'hung') engine.child.kill('SIGKILL');
  assert.notEqual(exitCode, 'hung', `SIGTERM did not end the engine within ${boundMs} ms; stderr: ${engine.stderr().slice(-2000)}`);
}

test('hostile js functions end with their budget errors, light functions keep answering, RSS stays bounded, SIGTERM ends the engine', async () => {
  await using dir = await temporaryDir();
  const { engine, client } = await startWithLights(dir.path);
  const pid = engine.child.pid!;
  try {
    // 1. A FinalizationRegistry callback that loops for ever used to run with no timeout and block both scheduler threads.
    await deploy(client, 'finalizer-hang', `const fr = new FinalizationRegistry(() => { for (;;) {} });
export default function () {
  for (let i = 0; i < 100; i++) fr.register({}, i);
  let junk = []; for (let i = 0; i < 3e5; i++) junk.push({ i }); junk = null;
  return 'ok';
}`, { cpuMs: 100, wallMs: 1000 });
    const finalizer = await attack(client, 'finalizer-hang', 4);
    for (const result of finalizer.results) {
      assert.equal(code(result), 'ERR_FUNCTION', describe(result));
      assert.match(describe(result), /FinalizationRegistry is not defined/);
    }
    assert.ok(finalizer.wallMs < 2 * 1000 + kSlackMs, `finalizer-hang took ${finalizer.wallMs} ms`);
    assert.ok(finalizer.slowestLightMs < kLightBoundMs, `a light function took ${finalizer.slowestLightMs} ms beside finalizer-hang`);

    // Guest code the host runs outside the timed call (a getter read while the host copies an unhandled rejection) is bounded by the watchdog.
    await deploy(client, 'untimed-getter', `export default function () {
  const error = new Error('x'); Object.defineProperty(error, 'message', { get () { for (;;) {} } });
  Promise.reject(error); return 'ok';
}`, { cpuMs: 100, wallMs: 5000 });
    const untimed = await attack(client, 'untimed-getter', 4);
    for (const result of untimed.results) {
      assert.equal(code(result), 'ERR_CPU_BUDGET', describe(result));
      assert.ok(result.usage.cpuMs >= 90 && result.usage.cpuMs <= 2 * 100 + kSlackMs, `untimed-getter reported ${result.usage.cpuMs} ms of CPU`);
    }
    assert.ok(untimed.wallMs < 4 * (2 * 100) + kSlackMs, `4 untimed-getter calls took ${untimed.wallMs} ms`);
    assert.ok(untimed.slowestLightMs < kLightBoundMs, `a light function took ${untimed.slowestLightMs} ms beside untimed-getter`);

    // 2. A wall timeout stops the isolate: its CPU is reported, and the engine is not left burning CPU afterwards.
    await deploy(client, 'wall-spin', 'export default function () { for (;;) {} }', { cpuMs: 20_000, wallMs: 500 });
    const wall = await attack(client, 'wall-spin', 6);
    for (const result of wall.results) assert.equal(code(result), 'ERR_WALL_TIMEOUT', describe(result));
    assert.ok(wall.results.some((result) => result.usage.cpuMs >= 100), `usage after a wall timeout: ${wall.results.map((r) => r.usage.cpuMs).join(', ')} ms`);
    assert.ok(wall.wallMs < 6 * (2 * 500) / 2 + kSlackMs, `6 wall-spin calls took ${wall.wallMs} ms`);
    assert.ok(wall.slowestLightMs < kLightBoundMs, `a light function took ${wall.slowestLightMs} ms beside wall-spin`);
    const cpuBefore = cpuTimeMs(pid);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idleCpuMs = cpuTimeMs(pid) - cpuBefore;
    assert.ok(idleCpuMs < 400, `the engine used ${idleCpuMs} ms of CPU in the second after the wall timeouts (isolates still running?)`);

    // 4. CPU: a huge output is refused inside the guest before it is copied out.
    await deploy(client, 'huge-output', "export default function () { return 'x'.repeat(1e8); }", { cpuMs: 300, wallMs: 1000, memoryBytes: 256 * kMiB });
    const output = await attack(client, 'huge-output');
    assert.equal(code(output.results[0]!), 'ERR_OUTPUT_TOO_LARGE', describe(output.results[0]!));
    assert.ok(output.results[0]!.usage.cpuMs < 300, `huge-output used ${output.results[0]!.usage.cpuMs} ms of CPU`);
    assert.ok(output.wallMs < 1000, `huge-output took ${output.wallMs} ms`);

    // 6. Cold-start (top-level) CPU is charged to the invocation that waited for it.
    await deploy(client, 'slow-start', 'const t = Date.now(); while (Date.now() - t < 400) {}\nexport default function () { return "ok"; }', { cpuMs: 1000 });
    const cold = await client.invoke('slow-start', '');
    assert.equal(code(cold), 'ok', describe(cold));
    assert.ok(cold.usage.cpuMs >= 300, `the cold start's 400 ms of top-level code reported as ${cold.usage.cpuMs} ms`);
    const warm = await client.invoke('slow-start', '');
    assert.ok(warm.usage.cpuMs < 100, `a warm invocation reported ${warm.usage.cpuMs} ms`);
    await deploy(client, 'slow-start-over', 'for (;;) {}\nexport default function () { return "ok"; }', { cpuMs: 200 });
    const coldOver = await client.invoke('slow-start-over', '');
    assert.equal(code(coldOver), 'ERR_CPU_BUDGET', describe(coldOver));
    assert.ok(coldOver.usage.cpuMs >= 150 && coldOver.usage.cpuMs <= 2 * 200, `top-level loop reported ${coldOver.usage.cpuMs} ms`);

    // 3 and 5. Memory bombs in a loop under 16 MiB: each ends with ERR_MEMORY_BUDGET and the engine's RSS stays bounded.
    const bombs: Record<string, string> = {
      'map-growth': 'export default function () { const m = new Map(); for (let i = 0; ; i++) m.set(i, { i }); }',
      'set-growth': "export default function () { const s = new Set(); for (let i = 0; ; i++) s.add('k' + i); }",
      'array-fill': 'export default function () { return new Array(5e7).fill(0).length; }',
      'typed-array': 'export default function () { return new Uint8Array(2 ** 30).length; }',
      'intl-kept': "const kept = []; export default function () { for (;;) kept.push(new Intl.DateTimeFormat('en', { dateStyle: 'full', timeStyle: 'full' })); }",
      'intl-each-call': "export default function () { const kept = []; for (;;) kept.push(new Intl.Collator('de'), new Intl.DateTimeFormat('en', { dateStyle: 'full' })); }",
    };
    for (const [name, source] of Object.entries(bombs)) await deploy(client, name, source, { cpuMs: 2000, wallMs: 5000, memoryBytes: 16 * kMiB });
    const baseline = rssBytes(pid);
    let peak = baseline;
    const kRounds = 5;
    for (let round = 0; round < kRounds; round++) {
      for (const name of Object.keys(bombs)) {
        const bomb = await attack(client, name);
        const result = bomb.results[0]!;
        assert.equal(code(result), 'ERR_MEMORY_BUDGET', `${name}: ${describe(result)}`);
        assert.ok(bomb.wallMs < 2 * 2000 + kSlackMs, `${name} took ${bomb.wallMs} ms`);
        assert.ok(bomb.slowestLightMs < kLightBoundMs, `a light function took ${bomb.slowestLightMs} ms beside ${name}`);
        peak = Math.max(peak, rssBytes(pid));
      }
    }
    const grownMiB = (peak - baseline) / kMiB;
    // Two threads, each holding a 16 MiB isolate per bomb at most, plus V8's one-piece spikes (≤ 256 MiB) when it happens.
    assert.ok(grownMiB < 400, `engine RSS grew ${grownMiB.toFixed(0)} MiB over ${kRounds * Object.keys(bombs).length} memory bombs (baseline ${(baseline / kMiB).toFixed(0)} MiB)`);
    for (const name of Object.keys(bombs)) await client.remove(name);
    const afterRemove = rssBytes(pid);
    console.log(`# js memory bombs: RSS baseline ${(baseline / kMiB).toFixed(0)} MiB, peak ${(peak / kMiB).toFixed(0)} MiB, after remove ${(afterRemove / kMiB).toFixed(0)} MiB`);

    // The engine still answers every language, and SIGTERM ends it.
    assert.equal(code(await client.invoke('light-js', 'x')), 'ok');
  } finally {
    await client.close();
    await assertStopsWithin(engine, 10_000);
  }
});

test('isolates V8 cannot stop (a catastrophic out-of-memory, an operator that ignores the termination) fail in time and cost their function version one isolate, not one per call; builtins in a loop are stopped', async () => {
  await using dir = await temporaryDir();
  const { engine, client } = await startWithLights(dir.path);
  const pid = engine.child.pid!;
  try {
    // 4. A C++ builtin over a big typed array, called in a loop: V8 looks for the termination only at a function's entry,
    // so the builtin is wrapped in one (entry-checkpoints.ts); the isolate stops and later calls get a fresh one.
    await deploy(client, 'index-of', 'export default function () { const a = new Uint8Array(5e7); for (;;) a.indexOf(1); }', { cpuMs: 300, wallMs: 5000, memoryBytes: 128 * kMiB });
    for (let i = 0; i < 3; i++) {
      const indexOf = await attack(client, 'index-of');
      assert.equal(code(indexOf.results[0]!), 'ERR_CPU_BUDGET', describe(indexOf.results[0]!));
      assert.doesNotMatch(describe(indexOf.results[0]!), /no new isolate/, 'index-of lost its isolate');
      assert.ok(indexOf.results[0]!.usage.cpuMs <= 2 * 300, `index-of used ${indexOf.results[0]!.usage.cpuMs} ms of CPU`);
      assert.ok(indexOf.wallMs < 2 * 300 + kSlackMs, `index-of took ${indexOf.wallMs} ms`);
      assert.ok(indexOf.slowestLightMs < kLightBoundMs, `a light function took ${indexOf.slowestLightMs} ms beside index-of`);
      await new Promise((resolve) => setTimeout(resolve, 1200));
    }

    // An operator cannot be wrapped: comparing two 30-million-character strings in a loop keeps the isolate's thread running.
    await deploy(client, 'string-equality', "export default function () { const s = 'a'.repeat(3e7), t = 'a'.repeat(3e7 - 1) + 'b'; let same = 0; for (;;) same += s === t; }", { cpuMs: 300, wallMs: 5000, memoryBytes: 128 * kMiB });
    const equality = await attack(client, 'string-equality');
    assert.equal(code(equality.results[0]!), 'ERR_CPU_BUDGET', describe(equality.results[0]!));
    assert.ok(equality.wallMs < 2 * 300 + kSlackMs, `string-equality took ${equality.wallMs} ms`);
    assert.ok(equality.slowestLightMs < kLightBoundMs, `a light function took ${equality.slowestLightMs} ms beside string-equality`);

    // Once its thread is seen still running (a second after the kill), the version is refused on that scheduler thread;
    // the other thread may lose one isolate of its own first.
    const later: string[] = [];
    for (let i = 0; i < 10 && !later.some((text) => /no new isolate until it is redeployed/.test(text)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const again = await client.invoke('string-equality', '');
      assert.equal(code(again), 'ERR_CPU_BUDGET', describe(again));
      later.push(describe(again));
    }
    // How soon depends on when each thread sees its isolate's thread still running: on a loaded machine, later.
    assert.match(later.at(-1)!, /no new isolate/, `string-equality after its isolate was lost: ${later.join(' / ')}`);

    await deploy(client, 'object-keys', "export default function () { const o = {}; for (let i = 0; ; i++) o['k' + i] = i; }", { cpuMs: 5000, wallMs: 10_000, memoryBytes: 16 * kMiB });
    const first = await attack(client, 'object-keys');
    assert.equal(code(first.results[0]!), 'ERR_MEMORY_BUDGET', describe(first.results[0]!));
    assert.ok(first.slowestLightMs < kLightBoundMs, `a light function took ${first.slowestLightMs} ms beside object-keys`);
    const afterFirst = rssBytes(pid);
    for (let i = 0; i < 20; i++) {
      const result = await client.invoke('object-keys', '');
      assert.equal(code(result), 'ERR_MEMORY_BUDGET', describe(result));
    }
    const grownMiB = (rssBytes(pid) - afterFirst) / kMiB;
    // One more catastrophe per scheduler thread at most (the other thread may not have had its own yet).
    assert.ok(grownMiB < 80, `engine RSS grew ${grownMiB.toFixed(0)} MiB over 20 more object-keys calls`);
    assert.equal(code(await client.invoke('light-js', 'x')), 'ok');
  } finally {
    await client.close();
    // V8 keeps the isolate's thread after a catastrophic out-of-memory (or one it could not terminate), and isolated-vm
    // waits for it at exit, so process.exit() would hang: serve ends itself with SIGKILL a moment after its shutdown.
    await assertStopsWithin(engine, 15_000);
  }
});
