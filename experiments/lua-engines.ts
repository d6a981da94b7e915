#!/usr/bin/env node
/**
 * The two Lua engines side by side, through the plugin contract (no socket): cold start, warm
 * invocation, loop speed, count-hook overhead, fengari's memory accounting (overhead, precision,
 * where bombs stop), memory per state; and Debian's lua5.4, a process per invocation, as a
 * cold-start baseline. Results feed doc/lua.md.
 */
import { execFileSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { kDefaultBudget, type Budget } from '../engine/budget.ts';
import type { LanguagePlugin, Sandbox, SliceOutcome } from '../engine/plugin.ts';
import { luaPlugin } from '../plugins/lua/index.ts';
import { fengariApi, luaString } from '../plugins/lua/fengari-api.ts';
import { lua54Plugin } from '../plugins/lua54/index.ts';
import { WasmLua } from '../plugins/lua54/wasm-lua.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('lua-engines', 'Usage: node experiments/lua-engines.ts [--quick]\n\nfengari (lua) and wasmoon (lua54) side by side: cold start, warm invocation, loop speed, hook overhead, memory accounting, memory per state.');
setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;
/** Several passes: closed sandboxes from earlier measurements must be gone before a baseline. */
const gc = (): void => { for (let i = 0; i < 4; i++) fullGc(); };
const q = args.quick;
const encoder = new TextEncoder();
const header = machineHeader();
console.log(JSON.stringify(header));

const plugins: Record<string, LanguagePlugin> = { lua: luaPlugin(), lua54: lua54Plugin() };

async function sandboxOf (language: string, source: string, budget: Partial<Budget> = {}): Promise<Sandbox> {
  const plugin = plugins[language]!;
  return plugin.instantiate(await plugin.compile(encoder.encode(source), { signal: new AbortController().signal }), { ...kDefaultBudget, ...budget });
}

function runToEnd (sandbox: Sandbox, input: string, budget: Budget = kDefaultBudget): SliceOutcome {
  const fiber = sandbox.invoke(encoder.encode(input), { budget, log: () => {}, fetch: () => Promise.reject(new Error('no network')), invoke: () => Promise.reject(new Error('no invoke')), kv: () => Promise.reject(new Error('no kv')) });
  for (;;) {
    const outcome = fiber.run({ endsAt: performance.now() + 5 });
    if (outcome.state !== 'yield') return outcome;
  }
}

const kTrivial = 'return function (input) return input end';
const kLoop = 'return function (input) local x = 0 for i = 1, tonumber(input) do x = x + i end return x end';
const results: Record<string, unknown> = { experiment: 'lua-engines', quick: args.quick, machine: header };

for (const language of ['lua', 'lua54']) {
  const row: Record<string, unknown> = {};
  // Cold start: instantiate (a new state; for lua54 a new wasm module) + first invocation.
  const coldMs: number[] = [];
  for (let i = 0; i < (q ? 10 : (language === 'lua54' ? 100 : 300)); i++) {
    const t0 = performance.now();
    const sandbox = await sandboxOf(language, kTrivial);
    runToEnd(sandbox, 'x');
    coldMs.push(performance.now() - t0);
    await sandbox.close();
  }
  row.coldStartMs = summarize(coldMs.slice(2));

  // Warm invocation: one sandbox, a new coroutine and environment per invocation.
  const warm = await sandboxOf(language, kTrivial);
  const warmUs: number[] = [];
  for (let i = 0; i < (q ? 2_000 : 20_000); i++) {
    const t0 = performance.now();
    runToEnd(warm, 'x');
    warmUs.push((performance.now() - t0) * 1000);
  }
  row.warmInvocationUs = summarize(warmUs.slice(500));

  // Loop speed through the plugin (hooked, time-sliced).
  const iterations = language === 'lua' ? (q ? 2e6 : 2e7) : (q ? 2e7 : 2e8);
  const loop = await sandboxOf(language, kLoop, { cpuMs: 600_000 });
  const t0 = performance.now();
  runToEnd(loop, String(iterations), { ...kDefaultBudget, cpuMs: 600_000 });
  const hookedMs = performance.now() - t0;
  row.loopIterationsPerSec = Math.round(iterations / (hookedMs / 1000));
  // The same loop in a bare state with no hook: the hook's overhead.
  const bareMs = language === 'lua' ? bareFengariMs(iterations) : await bareWasmoonMs(iterations);
  row.hookOverheadPct = Math.round((hookedMs / bareMs - 1) * 1000) / 10;
  results[language] = row;
  console.log(language, JSON.stringify(row));
}

function bareFengariMs (iterations: number): number {
  const api = fengariApi();
  const L = api.luaL_newstate();
  api.luaL_openlibs(L);
  const source = luaString(`local x = 0 for i = 1, ${iterations} do x = x + i end return x`);
  api.luaL_loadbufferx(L, source, source.length, luaString('=bare'), luaString('t'));
  const t0 = performance.now();
  api.lua_pcall(L, 0, 1, 0);
  return performance.now() - t0;
}

async function bareWasmoonMs (iterations: number): Promise<number> {
  const lua = await WasmLua.create();
  const L = lua.m._luaL_newstate();
  lua.m._luaL_openlibs(L);
  lua.load(L, encoder.encode(`local x = 0 for i = 1, ${iterations} do x = x + i end return x`), '=bare');
  const t0 = performance.now();
  lua.m._lua_pcallk(L, 0, 1, 0, 0, 0);
  return performance.now() - t0;
}

// Memory accounting (fengari): where bombs stop at 16 MiB, what the walk estimates against what
// the V8 heap really grew by, and what accounting costs on an allocation-heavy loop.
const kBudget = 16 * 2 ** 20;
const bombs: Record<string, string> = {
  numberTable: 'local t = {} local i = 0 while true do i = i + 1 t[i] = i end',
  stringTable: 'local t = {} local i = 0 while true do i = i + 1 t[i] = "string number " .. i end',
  tableOfTables: 'local t = {} local i = 0 while true do i = i + 1 t[i] = {i, i} end',
  doubling: 'local s = "x" while true do s = s .. s end',
  rep: 'return string.rep("x", 1e9)',
};
const memory: Record<string, unknown> = {};
for (const [name, body] of Object.entries(bombs)) {
  const row: Record<string, unknown> = {};
  for (const language of ['lua', 'lua54']) {
    gc();
    const before = process.memoryUsage();
    const sandbox = await sandboxOf(language, `return function () ${body} end`, { memoryBytes: kBudget, cpuMs: 60_000 });
    const budget = { ...kDefaultBudget, memoryBytes: kBudget, cpuMs: 60_000 };
    const fiber = sandbox.invoke(new Uint8Array(), { budget, log: () => {}, fetch: () => Promise.reject(new Error('no')), invoke: () => Promise.reject(new Error('no')), kv: () => Promise.reject(new Error('no')) });
    let peakHostBytes = 0;
    let outcome: SliceOutcome;
    const t0 = performance.now();
    do {
      outcome = fiber.run({ endsAt: performance.now() + 5 });
      const now = process.memoryUsage();
      peakHostBytes = Math.max(peakHostBytes, now.heapUsed + now.arrayBuffers - before.heapUsed - before.arrayBuffers);
    } while (outcome.state === 'yield');
    row[language] = { code: outcome.state === 'failed' ? outcome.error.code : outcome.state, reportedBytes: fiber.memoryBytes, reportedOverBudget: Math.round(fiber.memoryBytes / kBudget * 100) / 100, peakHostHeapGrowthBytes: language === 'lua' ? peakHostBytes : undefined, ms: Math.round(performance.now() - t0) };
    await sandbox.close();
  }
  memory[name] = row;
  console.log('bomb', name, JSON.stringify(row));
}
results.bombsAt16MiB = memory;

// Precision: build N live objects, compare the walk with the V8 heap growth after a full GC.
const precision: Record<string, unknown> = {};
const shapes: Record<string, string> = {
  numbers: 't[i] = i',
  shortStrings: 't[i] = "s" .. i',
  longStrings: 't[i] = string.rep("x", 1000) .. i',
  smallTables: 't[i] = {i, i}',
  closures: 't[i] = function () return i end',
};
for (const [name, statement] of Object.entries(shapes)) {
  const n = name === 'longStrings' ? 5_000 : 100_000;
  const sandbox = await sandboxOf('lua', `local keep = {} return function () local t = {} for i = 1, ${n} do ${statement} end keep[1] = t print(collectgarbage("count")) end`, { memoryBytes: 1024 * 2 ** 20 });
  gc();
  const before = process.memoryUsage();
  const logs: string[] = [];
  const fiber = sandbox.invoke(new Uint8Array(), { budget: kDefaultBudget, log: (line) => logs.push(line), fetch: () => Promise.reject(new Error('no')), invoke: () => Promise.reject(new Error('no')), kv: () => Promise.reject(new Error('no')) });
  while (fiber.run({ endsAt: performance.now() + 50 }).state === 'yield');
  gc();
  const after = process.memoryUsage();
  const heapGrowth = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
  // The `keep` table in the chunk is per invocation: the walk ran while it was live.
  const estimate = Number(logs[0]) * 1024;
  precision[name] = { objects: n, estimateBytes: Math.round(estimate), heapGrowthBytes: heapGrowth, ratio: Math.round(estimate / heapGrowth * 100) / 100 };
  await sandbox.close();
}
results.fengariEstimateVsHeap = precision;
console.log('precision', JSON.stringify(precision));

// Accounting overhead: an allocation-heavy loop, plugin (hooked + metered) against a bare state.
{
  const body = 'local t = {} for i = 1, N do t[i % 1000 + 1] = {tostring(i)} end return #t';
  const n = q ? 100_000 : 1_000_000;
  const sandbox = await sandboxOf('lua', `return function () ${body.replace('N', String(n))} end`, { memoryBytes: 64 * 2 ** 20, cpuMs: 600_000 });
  const t0 = performance.now();
  runToEnd(sandbox, '', { ...kDefaultBudget, cpuMs: 600_000 });
  const meteredMs = performance.now() - t0;
  const api = fengariApi();
  const L = api.luaL_newstate();
  api.luaL_openlibs(L);
  const source = luaString(body.replace('N', String(n)));
  api.luaL_loadbufferx(L, source, source.length, luaString('=bare'), luaString('t'));
  const t1 = performance.now();
  api.lua_pcall(L, 0, 1, 0);
  const bareMs = performance.now() - t1;
  results.fengariAllocationLoop = { iterations: n, meteredAndHookedMs: Math.round(meteredMs), bareMs: Math.round(bareMs), overheadPct: Math.round((meteredMs / bareMs - 1) * 1000) / 10 };
  console.log('allocation loop', JSON.stringify(results.fengariAllocationLoop));
}

// Memory per state: 200 idle sandboxes of each engine.
const perState: Record<string, unknown> = {};
for (const language of ['lua', 'lua54']) {
  const count = q ? 20 : 200;
  gc();
  const before = process.memoryUsage();
  const sandboxes: Sandbox[] = [];
  for (let i = 0; i < count; i++) sandboxes.push(await sandboxOf(language, kTrivial));
  gc();
  const after = process.memoryUsage();
  perState[language] = { heapBytesPerState: Math.round((after.heapUsed - before.heapUsed) / count), externalBytesPerState: Math.round((after.external + after.arrayBuffers - before.external - before.arrayBuffers) / count), rssBytesPerState: Math.round((after.rss - before.rss) / count) };
  for (const sandbox of sandboxes) await sandbox.close();
}
results.memoryPerState = perState;
console.log('per state', JSON.stringify(perState));

// Baseline: Debian's lua5.4, a process per invocation.
try {
  const processMs: number[] = [];
  for (let i = 0; i < (q ? 10 : 100); i++) {
    const t0 = performance.now();
    execFileSync('lua5.4', ['-e', 'io.write((...) or "x")'], { stdio: ['ignore', 'pipe', 'ignore'] });
    processMs.push(performance.now() - t0);
  }
  results.lua54ProcessPerInvocationMs = summarize(processMs);
  console.log('lua5.4 process', JSON.stringify(results.lua54ProcessPerInvocationMs));
} catch (error) {
  results.lua54ProcessPerInvocationMs = `not measured: ${error instanceof Error ? error.message : String(error)}`;
}

await writeResult(args.out, results);
