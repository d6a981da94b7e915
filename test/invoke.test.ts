import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Engine } from '../engine/index.ts';
import type { Usage } from '../engine/budget.ts';
import { kMaxItemisedCalls } from '../engine/invoke/call-list.ts';
import { kMaxInvokeDepth } from '../engine/invoke/invoke-policy.ts';
import { defaultPlugins } from '../dispatchers/cli/plugins.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { bytes, output } from './support/js-snippets.ts';
import { kRealPlugins } from './support/test-plugins.ts';

// ctx.invoke (doc/invoke.md) through the real engine: every language calls a function and catches
// a callee's failure with the callee's own code; the caller's wait costs it no CPU; and hostile
// callers meet their limits: a recursive invoker the depth limit, a fan-out bomb the calls budget,
// a caller that goes away takes its callees with it.

const hasToolchain = !('missing' in findToolchain());

/** The callees every caller uses: one doubles a number, one spins until its CPU budget ends it, one waits 300 ms of wall time. */
async function deployCallees (engine: Engine): Promise<void> {
  await engine.deploy('double', 'js', bytes('export default (input) => String(Number(input) * 2)'));
  await engine.deploy('spin', 'js', bytes('export default () => { for (;;) {} }'), { cpuMs: 30 });
  await engine.deploy('sleeper', 'js', bytes('export default () => new Promise((resolve) => setTimeout(() => resolve("slept"), 300))'));
}

/** A caller per language: invokes double with its input, then spin, and answers "<doubled> <spin's code>". */
const kCallers: Readonly<Record<string, string>> = {
  js: `export default async (input, ctx) => {
    const doubled = await ctx.invoke('double', input);
    try { await ctx.invoke('spin', ''); return doubled + ' none'; } catch (error) { return doubled + ' ' + error.code; }
  }`,
  lua: `return function (input, ctx)
    local doubled = ctx.invoke('double', input)
    local ok, err = pcall(ctx.invoke, 'spin', '')
    return doubled .. ' ' .. (ok and 'none' or err:match('^(ERR_[A-Z_]+)'))
  end`,
  c: `#include <springbok.h>
#include <stdio.h>
int handler(const char *in, size_t len) {
  char doubled[32], spun[8], line[64];
  int n = sb_invoke("double", 6, in, len, doubled, sizeof doubled);
  if (n < 0) return 1;
  int code = sb_invoke("spin", 4, "", 0, spun, sizeof spun);
  int w = snprintf(line, sizeof line, "%.*s %s", n, doubled, code == SB_ERR_CPU_BUDGET ? "ERR_CPU_BUDGET" : "other");
  sb_output(line, w);
  return 0;
}`,
};
const kLanguages: readonly (readonly [language: string, source: string])[] = [
  ['js', kCallers.js!], ['quickjs', kCallers.js!], ['lua', kCallers.lua!], ['lua54', kCallers.lua!],
  ...(hasToolchain ? [['c', kCallers.c!] as const] : []),
];

test('every language invokes a function, gets its output, and catches a failing callee with the callee\'s code; usage lists each call', { timeout: 120_000 }, async () => {
  await using engine = await Engine.open({ plugins: defaultPlugins() });
  await deployCallees(engine);
  for (const [language, source] of kLanguages) {
    await engine.deploy(`caller-${language}`, language, bytes(source), { allowInvoke: ['double', 'spin'], cpuMs: 2000 });
    const result = await engine.invoke(`caller-${language}`, bytes('21'));
    assert.equal(output(result), '42 ERR_CPU_BUDGET', language);
    const calls = result.usage.calls ?? [];
    assert.deepEqual(calls.map((call) => [call.function, call.ok, call.error]), [['double', true, undefined], ['spin', false, 'ERR_CPU_BUDGET']], language);
    assert.ok(calls[1]!.usage.cpuMs >= 30, `${language}: the callee's own CPU is itemised (${calls[1]!.usage.cpuMs} ms)`);
  }
});

test('waiting for a callee costs the caller no CPU', async () => {
  await using engine = await Engine.open({ plugins: defaultPlugins() });
  await deployCallees(engine);
  await engine.deploy('waits', 'js', bytes('export default (input, ctx) => ctx.invoke("sleeper", "")'), { allowInvoke: ['sleeper'] });
  output(await engine.invoke('waits', bytes(''))); // warm
  const result = await engine.invoke('waits', bytes(''));
  assert.equal(output(result), 'slept');
  const call = result.usage.calls![0]!;
  assert.ok(call.wallMs >= 290, `the call took the callee's 300 ms (${call.wallMs} ms)`);
  assert.ok(result.usage.cpuMs < 100, `the caller used ${result.usage.cpuMs} ms of CPU while it waited ${call.wallMs} ms`);
});

test('a callee the deploy does not name is refused (ERR_INVOKE_DENIED); a prefix entry allows its names', async () => {
  await using engine = await Engine.open({ plugins: defaultPlugins() });
  await deployCallees(engine);
  const source = bytes('export default async (input, ctx) => { try { return await ctx.invoke(input, "4"); } catch (error) { return error.code; } }');
  await engine.deploy('picky', 'js', source, { allowInvoke: ['dou*'] });
  assert.equal(output(await engine.invoke('picky', bytes('double'))), '8');
  assert.equal(output(await engine.invoke('picky', bytes('spin'))), 'ERR_INVOKE_DENIED');
  await engine.deploy('closed', 'js', source);
  assert.equal(output(await engine.invoke('closed', bytes('double'))), 'ERR_INVOKE_DENIED', 'no --allow-invoke: no calls at all');
  await engine.deploy('open', 'js', source, { allowInvoke: ['*'] });
  assert.equal(output(await engine.invoke('open', bytes('nowhere'))), 'ERR_UNKNOWN_FUNCTION', 'a refusal by the engine comes back with its code too');
  // A flow is not a callee: its steps would start again at depth 0.
  await engine.deploy('a-flow', 'flow', bytes(JSON.stringify({ steps: [{ id: 'twice', function: 'double' }], output: '$twice' })));
  assert.equal(output(await engine.invoke('a-flow', bytes('3'))), '6');
  assert.equal(output(await engine.invoke('open', bytes('a-flow'))), 'ERR_INVOKE_DENIED');
});

/** Calls itself with depth + 1 until refused; answers the refusal's code and the depth it was refused at. */
const kRecursive = 'export default async (input, ctx) => { try { return await ctx.invoke("rec", String(Number(input) + 1)); } catch (error) { return error.code + " at " + input; } }';
/** Starts 100 calls at once and answers how many were answered and the codes of the refused. */
const kFanOut = 'export default async (input, ctx) => { const all = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => ctx.invoke("double", String(i)))); const codes = new Set(all.filter((r) => r.status === "rejected").map((r) => r.reason.code)); return all.filter((r) => r.status === "fulfilled").length + " " + [...codes].join(","); }';

test('hostile: a recursive invoker stops at the depth limit; a fan-out bomb at its calls budget', async () => {
  await using engine = await Engine.open({ plugins: defaultPlugins() });
  await deployCallees(engine);
  await engine.deploy('rec', 'js', bytes(kRecursive), { allowInvoke: ['rec'] });
  const deep = await engine.invoke('rec', bytes('0'));
  assert.equal(output(deep), `ERR_INVOKE_DEPTH at ${kMaxInvokeDepth}`);
  // The usage nests: each level lists the next.
  let levels = 0;
  for (let usage = deep.usage; usage.calls !== undefined; usage = usage.calls[0]!.usage) levels++;
  assert.equal(levels, kMaxInvokeDepth);
  await engine.deploy('bomb', 'js', bytes(kFanOut), { allowInvoke: ['double'] });
  assert.equal(output(await engine.invoke('bomb', bytes(''))), '16 ERR_INVOKE_BUDGET');
  await engine.deploy('bomb4', 'js', bytes(kFanOut), { allowInvoke: ['double'], invokeCalls: 4 });
  assert.equal(output(await engine.invoke('bomb4', bytes(''))), '4 ERR_INVOKE_BUDGET');
  // Not caught: the function fails because of its budget, and says so (as for the network budget).
  await engine.deploy('bomb-uncaught', 'lua', bytes('return function (_, ctx) for i = 1, 100 do ctx.invoke("double", tostring(i)) end end'), { allowInvoke: ['double'] });
  const uncaught = await engine.invoke('bomb-uncaught', bytes(''));
  assert.equal(uncaught.ok ? '' : uncaught.error.code, 'ERR_INVOKE_BUDGET');
  assert.match(uncaught.ok ? '' : uncaught.error.message, /invoke budget of 16 calls per invocation used up \(the function then failed: /);
  assert.equal(uncaught.usage.calls?.length, 16);
});

test('hostile: a self-replicating fan-out is contained: when the root ends, every call still running under it is cancelled', async () => {
  await using engine = await Engine.open({ plugins: defaultPlugins(), maxInFlightPerFunction: 200 });
  // Each invocation calls itself 4 times and waits for all: 4^8 calls if nothing stopped it.
  await engine.deploy('tree', 'js', bytes('export default async (input, ctx) => { await Promise.allSettled([1, 2, 3, 4].map(() => ctx.invoke("tree", ""))); await new Promise((resolve) => setTimeout(resolve, 10000)); return "done"; }'), { allowInvoke: ['tree'], invokeCalls: 4, wallMs: 30_000 });
  await engine.deploy('root', 'js', bytes('export default (input, ctx) => ctx.invoke("tree", "")'), { allowInvoke: ['tree'], wallMs: 500 });
  const result = await engine.invoke('root', bytes(''));
  assert.equal(result.ok, false);
  assert.equal(result.ok ? '' : result.error.code, 'ERR_WALL_TIMEOUT');
  const deadline = performance.now() + 5000;
  while (engine.stats().inFlight > 0 && performance.now() < deadline) await sleep(20);
  assert.equal(engine.stats().inFlight, 0, 'the callees (and theirs) were cancelled with the root, not left to wait out their own 30 s');
});

test('a large tree of calls is itemised up to 1024 entries; the rest is counted, not lost', async () => {
  await using engine = await Engine.open({ plugins: defaultPlugins() });
  await deployCallees(engine);
  // 40 calls of 40 calls each: 1,640 calls under the root.
  await engine.deploy('mid', 'js', bytes('export default async (input, ctx) => { for (let i = 0; i < 40; i++) await ctx.invoke("double", String(i)); return "mid"; }'), { allowInvoke: ['double'], invokeCalls: 40 });
  await engine.deploy('wide', 'js', bytes('export default async (input, ctx) => (await Promise.all(Array.from({ length: 40 }, () => ctx.invoke("mid", "")))).length'), { allowInvoke: ['mid'], invokeCalls: 40 });
  const result = await engine.invoke('wide', bytes(''));
  assert.equal(output(result), '40');
  const listed = (usage: Usage): number => (usage.calls ?? []).reduce((sum, call) => sum + 1 + listed(call.usage), 0);
  const made = (usage: Usage): number => (usage.callsOmitted ?? 0) + (usage.calls ?? []).reduce((sum, call) => sum + 1 + made(call.usage), 0);
  assert.ok(listed(result.usage) <= kMaxItemisedCalls, `${listed(result.usage)} entries listed`);
  assert.ok(listed(result.usage) > kMaxItemisedCalls - 41, 'the list is filled before anything is left out');
  assert.equal(made(result.usage), 40 + 40 * 40, 'every call is listed or counted');
});

test('on a multi-core engine: calls cross threads, in any language, and the depth travels with them', { timeout: 90_000 }, async () => {
  await using engine = await Engine.open({ workers: 2, pluginModule: kRealPlugins });
  await deployCallees(engine);
  await engine.deploy('caller-lua', 'lua', bytes(kCallers.lua!), { allowInvoke: ['double', 'spin'] });
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => engine.invoke('caller-lua', bytes(String(i)))));
  assert.deepEqual(results.map(output), Array.from({ length: 8 }, (_, i) => `${i * 2} ERR_CPU_BUDGET`));
  // The usage's calls cross from the scheduler thread with the result.
  assert.deepEqual(results[0]!.usage.calls?.map((call) => [call.function, call.error]), [['double', undefined], ['spin', 'ERR_CPU_BUDGET']]);
  await engine.deploy('rec', 'js', bytes(kRecursive), { allowInvoke: ['rec'] });
  assert.equal(output(await engine.invoke('rec', bytes('0'))), `ERR_INVOKE_DEPTH at ${kMaxInvokeDepth}`);
});
