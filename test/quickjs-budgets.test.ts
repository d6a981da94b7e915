import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Engine, type InvokeResult } from '../engine/index.ts';
import type { Budget } from '../engine/budget.ts';
import { quickjsPlugin } from '../plugins/quickjs/index.ts';
import { smPlugin } from '../plugins/sm/index.ts';
import { example } from './support/engine-process.ts';

/**
 * `quickjs` budgets against work QuickJS does not poll for: top-level module code, ticks that each
 * call an expensive builtin, single builtin calls that run for seconds, and outputs larger than
 * the engine takes. Each attack runs on the test's own thread (the engine's), beside a light `sm`
 * function and a light `quickjs` function that must keep answering within about a second; each
 * must end with its budget error within twice its budget (plus a second of slack for a loaded
 * 2-core machine).
 */

const bytes = (text: string): Uint8Array => Buffer.from(text);
const kMiB = 2 ** 20;
const kSlackMs = 1000;

function describe (result: InvokeResult): string {
  return result.ok ? `ok: ${Buffer.from(result.output).subarray(0, 40).toString()}` : `${result.error.code}: ${result.error.message}`;
}

async function lightEngine (): Promise<Engine> {
  const engine = await Engine.open({ plugins: [smPlugin(), quickjsPlugin()] });
  await engine.deploy('light-sm', 'sm', await readFile(example('sm/sum.sm')));
  await engine.deploy('light-js', 'quickjs', bytes('export default (input) => "light " + input'));
  return engine;
}

/**
 * Invokes `name` once and, until it ends, keeps calling the two light functions one after another.
 * @returns the attack's result, its wall time and the slowest light answer, in ms.
 */
async function attack (engine: Engine, name: string, input = ''): Promise<{ result: InvokeResult, wallMs: number, slowestLightMs: number }> {
  const startedAt = performance.now();
  let ended = false;
  const running = engine.invoke(name, bytes(input)).then((result) => { ended = true; return result; });
  let slowestLightMs = 0;
  let round = 0;
  while (!ended) {
    const lightStartedAt = performance.now();
    const [sm, js] = await Promise.all([engine.invoke('light-sm', bytes('100')), engine.invoke('light-js', bytes(String(round)))]);
    slowestLightMs = Math.max(slowestLightMs, performance.now() - lightStartedAt);
    assert.equal(describe(sm), 'ok: 5050');
    assert.equal(describe(js), `ok: light ${round}`);
    round++;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const result = await running;
  return { result, wallMs: performance.now() - startedAt, slowestLightMs };
}

async function expectBudgetError (engine: Engine, name: string, source: string, budget: Partial<Budget>, code: string): Promise<InvokeResult> {
  await engine.deploy(name, 'quickjs', bytes(source), budget);
  const { result, wallMs, slowestLightMs } = await attack(engine, name);
  assert.equal(result.ok ? 'ok' : result.error.code, code, `${name}: ${describe(result)}`);
  const boundMs = 2 * (budget.cpuMs ?? 1000) + kSlackMs;
  assert.ok(wallMs < boundMs, `${name}: ended after ${wallMs.toFixed(0)} ms (bound ${boundMs} ms): ${describe(result)}`);
  assert.ok(result.usage.cpuMs < boundMs, `${name}: charged ${result.usage.cpuMs} ms`);
  assert.ok(slowestLightMs < 1000, `${name}: a light function took ${slowestLightMs.toFixed(0)} ms to answer`);
  return result;
}

test('quickjs budgets: top-level code is sliced, stops at the CPU budget and is charged to the invocation', async () => {
  await using engine = await lightEngine();
  const result = await expectBudgetError(engine, 'top-level', 'for (;;) {} export default () => 1;', { cpuMs: 100, wallMs: 1000 }, 'ERR_CPU_BUDGET');
  assert.ok(result.usage.cpuMs >= 90, `the cold start's CPU is in the usage: ${result.usage.cpuMs} ms`);
  // Top-level code under the wall budget: it parks between slices, so the wall timer ends it.
  const wall = await expectBudgetError(engine, 'top-level-wall', 'for (;;) {} export default () => 1;', { cpuMs: 60_000, wallMs: 300 }, 'ERR_WALL_TIMEOUT');
  assert.ok(wall.usage.cpuMs > 0);
});

test('quickjs budgets: a cold start that finishes is charged to the first invocation only', async () => {
  await using engine = await Engine.open({ plugins: [quickjsPlugin()] });
  // A fixed amount of work (not a wall-clock wait: on a loaded machine 60 ms of wall can be 15 ms of CPU).
  await engine.deploy('slow-start', 'quickjs', bytes('let x = 0; for (let i = 0; i < 1e6; i++) x = (x + i) % 7; let calls = 0; export default () => String(++calls);'), { cpuMs: 5000 });
  const first = await engine.invoke('slow-start', bytes(''));
  assert.equal(describe(first), 'ok: 1');
  const second = await engine.invoke('slow-start', bytes(''));
  assert.equal(describe(second), 'ok: 2', 'the module ran once');
  assert.ok(first.usage.cpuMs >= 20 && first.usage.cpuMs > 5 * second.usage.cpuMs, `the first invocation was charged ${first.usage.cpuMs} ms, the second ${second.usage.cpuMs} ms`);
});

test('quickjs budgets: a module that throws fails each invocation with its own error (a failed load is not cached)', async () => {
  await using engine = await Engine.open({ plugins: [quickjsPlugin()] });
  await engine.deploy('flaky', 'quickjs', bytes('globalThis.n = (globalThis.n ?? 0) + 1; if (Math.random() < 2) throw new Error("bad start"); export default () => 1;'));
  for (let i = 0; i < 2; i++) {
    const result = await engine.invoke('flaky', bytes(''));
    assert.equal(result.ok ? 'ok' : result.error.code, 'ERR_FUNCTION');
    assert.match(result.ok ? '' : result.error.message, /bad start/);
  }
});

test('quickjs budgets: a loop of expensive ticks (indexOf on a 50 MB typed array) stops at the CPU budget', async () => {
  await using engine = await lightEngine();
  await expectBudgetError(engine, 'index-of', 'export default () => { const a = new Uint8Array(5e7); for (;;) a.indexOf(1); }', { cpuMs: 100, memoryBytes: 256 * kMiB }, 'ERR_CPU_BUDGET');
});

test('quickjs budgets: cheap ticks first, then a loop of linear builtins on a big receiver, stop at the CPU budget, on a warm instance too', async () => {
  // The cheap loop raises the ticks between polls to their most; without a poll after each big call
  // the builtin loop ran 10,000 calls before the next poll (8.4 s against 100 ms, measured).
  await using engine = await lightEngine();
  const train = 'let s = 0; for (let i = 0; i < 3e5; i++) s += i;';
  const rows: Record<string, string> = {
    typedIndexOf: `export default () => { const a = new Uint8Array(5e7); ${train} for (;;) a.indexOf(1); }`,
    stringIncludes: `export default () => { let a = 'xy'; while (a.length < 1e7) a += a; ${train} for (;;) a.includes('z'); }`,
    arraySlice: `export default () => { const a = []; for (let i = 0; i < 1e6; i++) a.push(i); ${train} for (;;) a.slice(); }`,
    jsonParse: `export default () => { const a = '[' + new Array(2e5).fill(1).join(',') + ']'; ${train} for (;;) JSON.parse(a); }`,
  };
  for (const [name, source] of Object.entries(rows)) {
    await expectBudgetError(engine, name, source, { cpuMs: 100, memoryBytes: 256 * kMiB }, 'ERR_CPU_BUDGET');
    // Again on the instance the first call left (its pacer already at its most ticks after the cheap loop).
    const { result, wallMs } = await attack(engine, name);
    assert.equal(result.ok ? 'ok' : result.error.code, 'ERR_CPU_BUDGET', `${name}, warm: ${describe(result)}`);
    assert.ok(wallMs < 200 + kSlackMs && result.usage.cpuMs < 200 + kSlackMs, `${name}, warm: ended after ${wallMs.toFixed(0)} ms, charged ${result.usage.cpuMs} ms`);
  }
});

test('quickjs budgets: single long builtin calls stop at the CPU budget', async () => {
  await using engine = await lightEngine();
  const budget = { cpuMs: 300, memoryBytes: 1024 * kMiB };
  const rows: Record<string, string> = {
    join: "export default () => new Array(3e7).fill('abc').join(',').length;",
    repeatReplaceAll: "export default () => 'a'.repeat(1e8).replaceAll('a', 'bb').length;",
    // The same string built without repeat (concatenation is cheap), so replaceAll itself is what runs long.
    replaceAll: "export default () => { let s = 'a'.repeat(1e6); while (s.length < 1e8) s += s; return s.replaceAll('a', 'bb').length; }",
    repeat: "export default () => 'ab'.repeat(2e8).length;",
    padStart: "export default () => ''.padStart(5e8, 'xy').length;",
    numbersJoin: 'export default () => { const a = []; for (let i = 0; i < 3e6; i++) a.push(i); return a.join(",").length; }',
  };
  for (const [name, source] of Object.entries(rows)) {
    const result = await expectBudgetError(engine, name, source, budget, 'ERR_CPU_BUDGET');
    assert.match(result.ok ? '' : result.error.message, /CPU budget/);
  }
});

test('quickjs budgets: a builtin result larger than the memory budget is refused before it is built', async () => {
  await using engine = await lightEngine();
  const result = await expectBudgetError(engine, 'repeat-big', "export default () => 'ab'.repeat(2e8).length;", { cpuMs: 300, memoryBytes: 64 * kMiB }, 'ERR_MEMORY_BUDGET');
  assert.ok(result.usage.cpuMs < 50, `refused before the work: ${result.usage.cpuMs} ms`);
});

test('quickjs budgets: an output bomb is refused in the guest before it is copied; engine RSS stays bounded', async () => {
  await using engine = await lightEngine();
  const rssBefore = process.memoryUsage().rss;
  // 5.1e8 characters as a rope (concatenation does not copy): before, copying it out took the engine's RSS to 2.3 GB.
  const result = await expectBudgetError(engine, 'output', "export default () => { let s = 'x'.repeat(1e6); while (s.length < 5e8) s += s; return s; }", { cpuMs: 300, wallMs: 1000, memoryBytes: 2048 * kMiB }, 'ERR_OUTPUT_TOO_LARGE');
  assert.match(result.ok ? '' : result.error.message, /over the limit/);
  const grownMiB = (process.memoryUsage().rss - rssBefore) / kMiB;
  assert.ok(grownMiB < 300, `the engine's RSS grew by ${grownMiB.toFixed(0)} MiB`);
  // The brief's original row: the 2e8-character output built with repeat stops at the CPU budget.
  await expectBudgetError(engine, 'output-repeat', "export default () => 'x'.repeat(2e8);", { cpuMs: 300, wallMs: 1000, memoryBytes: 1024 * kMiB }, 'ERR_CPU_BUDGET');
});

test('quickjs budgets: running out of memory reads as the memory budget, not "uncaught null"', async () => {
  await using engine = await Engine.open({ plugins: [quickjsPlugin()] });
  const bombs = {
    objects: 'export default () => { const a = []; for (;;) a.push({ a: 1, b: 2 }); }',
    asyncMap: 'export default async () => { await null; const m = new Map(); for (let i = 0; ; i++) m.set(i, String(i)); }',
  };
  for (const [name, source] of Object.entries(bombs)) {
    await engine.deploy(name, 'quickjs', bytes(source), { memoryBytes: 16 * kMiB, cpuMs: 10_000 });
    const result = await engine.invoke(name, bytes(''));
    assert.equal(result.ok ? 'ok' : result.error.code, 'ERR_MEMORY_BUDGET', describe(result));
    const message = result.ok ? '' : result.error.message;
    assert.doesNotMatch(message, /uncaught null/);
    assert.match(message, /memory budget of 16777216 bytes/);
  }
});
