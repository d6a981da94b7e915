#!/usr/bin/env node
/**
 * The two JavaScript engines side by side, through the real in-process Engine (the scheduler is
 * needed: `js` fibers wait on isolated-vm's threads, `quickjs` fibers resume parked stacks with
 * 'continue'): cold start, warm invocation, memory per idle instance, CPU-budget precision; and
 * for quickjs what JSPI time slicing costs (a loop through the plugin against a bare QuickJS call)
 * and a short function's latency while a loop of another function runs. Results feed doc/js.md.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { newQuickJSWASMModuleFromVariant, type QuickJSSyncVariant } from 'quickjs-emscripten-core';
import RELEASE_SYNC from '@jitl/quickjs-wasmfile-release-sync';
import { Engine, type InvokeResult } from '../engine/index.ts';
import type { LanguagePlugin } from '../engine/plugin.ts';
import { jsPlugin } from '../plugins/js/index.ts';
import { quickjsPlugin } from '../plugins/quickjs/index.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('js-engines', 'Usage: node experiments/js-engines.ts [--quick]\n\njs (V8 isolates) and quickjs (QuickJS in wasm, JSPI-sliced) side by side: cold start, warm invocation, memory per idle instance, CPU-budget precision, slicing overhead, latency next to a loop.');
setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;
const gc = (): void => { for (let i = 0; i < 4; i++) fullGc(); };
const q = args.quick;
const encoder = new TextEncoder();
const header = machineHeader();
console.log(JSON.stringify(header));

const kTrivial = 'export default (input) => input;';
const kLoop = 'export default function (input) { const n = Number(input); let x = 0; for (let i = 0; i < n; i++) x = (x + i) % 1000003; return String(x); }';
const makers: Record<string, () => LanguagePlugin> = { js: () => jsPlugin(), quickjs: () => quickjsPlugin() };
const results: Record<string, unknown> = { experiment: 'js-engines', quick: q, machine: header };

function ok (result: InvokeResult, what: string): void {
  if (!result.ok) throw new Error(`${what}: ${result.error.code}: ${result.error.message}`);
}
const round = (x: number): number => Math.round(x * 1000) / 1000;

for (const language of ['js', 'quickjs']) {
  const row: Record<string, unknown> = {};
  await using engine = await Engine.open({ plugins: [makers[language]!()] });

  // Cold start: the first invocation of a freshly deployed function (instantiate + load + call).
  // "pooled": 50 ms between deploys, so the plugin's pool has its spare ready (the usual case);
  // "burst": back to back, so most cold starts also wait for (part of) a spare's preparation.
  for (const [name, pauseMs] of [['coldStartPooledMs', 50], ['coldStartBurstMs', 0]] as const) {
    const coldMs: number[] = [];
    for (let i = 0; i < (q ? 15 : 150); i++) {
      await engine.deploy(`cold${i}`, language, encoder.encode(kTrivial));
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      const t0 = performance.now();
      ok(await engine.invoke(`cold${i}`, encoder.encode('x')), 'cold');
      coldMs.push(performance.now() - t0);
      await engine.remove(`cold${i}`);
    }
    row[name] = summarize(coldMs.slice(3));
  }

  // Warm invocation: one function, invoked one after another.
  await engine.deploy('warm', language, encoder.encode(kTrivial));
  const warmUs: number[] = [];
  for (let i = 0; i < (q ? 1_000 : 10_000); i++) {
    const t0 = performance.now();
    ok(await engine.invoke('warm', encoder.encode('x')), 'warm');
    warmUs.push((performance.now() - t0) * 1000);
  }
  row.warmInvocationUs = summarize(warmUs.slice(200));

  // Memory per idle instance: N functions deployed and invoked once, then idle.
  const count = q ? 10 : 50;
  gc();
  const before = process.memoryUsage();
  for (let i = 0; i < count; i++) {
    await engine.deploy(`idle${i}`, language, encoder.encode(kTrivial));
    ok(await engine.invoke(`idle${i}`, encoder.encode('x')), 'idle');
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  gc();
  const after = process.memoryUsage();
  row.memoryPerIdleInstance = {
    instances: count,
    rssBytes: Math.round((after.rss - before.rss) / count),
    jsHeapBytes: Math.round((after.heapUsed - before.heapUsed) / count),
    arrayBuffersBytes: Math.round((after.arrayBuffers - before.arrayBuffers) / count),
  };
  for (let i = 0; i < count; i++) await engine.remove(`idle${i}`);

  // CPU-budget precision: while(true){} under 20 and 100 ms budgets: what usage reports, and the wall time.
  const precision: Record<string, unknown> = {};
  for (const cpuMs of [20, 100]) {
    await engine.deploy(`spin${cpuMs}`, language, encoder.encode('export default function () { while (true) {} }'), { cpuMs });
    const usedMs: number[] = [];
    const wallMs: number[] = [];
    for (let i = 0; i < (q ? 5 : 30); i++) {
      const t0 = performance.now();
      const result = await engine.invoke(`spin${cpuMs}`, encoder.encode(''));
      wallMs.push(performance.now() - t0);
      if (result.ok || result.error.code !== 'ERR_CPU_BUDGET') throw new Error(`spin: ${JSON.stringify(result)}`);
      usedMs.push(result.usage.cpuMs);
    }
    precision[`budget${cpuMs}ms`] = { reportedCpuMs: summarize(usedMs), wallMs: summarize(wallMs) };
  }
  row.cpuBudgetPrecision = precision;

  // Loop speed: iterations per second through the engine (quickjs: time-sliced in 5 ms slices by default).
  const iterations = language === 'js' ? 2e8 : (q ? 2e6 : 1e7);
  await engine.deploy('loop', language, encoder.encode(kLoop), { cpuMs: 600_000, wallMs: 600_000 });
  ok(await engine.invoke('loop', encoder.encode('1000')), 'loop warm-up');
  const t0 = performance.now();
  const loopResult = await engine.invoke('loop', encoder.encode(String(iterations)));
  ok(loopResult, 'loop');
  const loopMs = performance.now() - t0;
  row.loop = { iterations, ms: Math.round(loopMs), iterationsPerSec: Math.round(iterations / (loopMs / 1000)), reportedCpuMs: loopResult.usage.cpuMs };

  if (language === 'quickjs') {
    // The same loop in a bare QuickJS (same build, no interrupt handler, no JSPI): the cost of slicing.
    const module = await newQuickJSWASMModuleFromVariant(RELEASE_SYNC as unknown as QuickJSSyncVariant);
    const runtime = module.newRuntime();
    const context = runtime.newContext();
    const fn = context.unwrapResult(context.evalCode(`(function () { const n = ${iterations}; let x = 0; for (let i = 0; i < n; i++) x = (x + i) % 1000003; return String(x); })`));
    context.unwrapResult(context.callFunction(fn, context.undefined)).dispose();
    const t1 = performance.now();
    context.unwrapResult(context.callFunction(fn, context.undefined)).dispose();
    const bareMs = performance.now() - t1;
    fn.dispose();
    context.dispose();
    runtime.dispose();
    row.bareLoopMs = Math.round(bareMs);
    row.slicingOverheadPct = Math.round((loopMs / bareMs - 1) * 1000) / 10;

    // A short function's latency while a loop of another function runs (both on the engine's thread).
    await engine.deploy('short', language, encoder.encode(kTrivial));
    const hog = engine.invoke('loop', encoder.encode(String(iterations * 2)));
    let hogDone = false;
    void hog.then(() => { hogDone = true; });
    const shortUs: number[] = [];
    while (!hogDone && shortUs.length < (q ? 200 : 2_000)) {
      const t2 = performance.now();
      ok(await engine.invoke('short', encoder.encode('x')), 'short');
      shortUs.push((performance.now() - t2) * 1000);
    }
    await hog;
    row.shortLatencyNextToLoopUs = summarize(shortUs);
  }
  results[language] = row;
  console.log(language, JSON.stringify(row));
}

await writeResult(args.out, results);
void round;
