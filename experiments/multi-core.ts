#!/usr/bin/env node
/**
 * Multi-core scaling: the same engine (`springbok serve`, a child process) with --workers 0 (every
 * function on the thread that serves the socket), 1 and 2 (and more on bigger machines) scheduler
 * threads, one run after another, the same client. CPU-bound functions (fib by recursion in js, c,
 * lua54) at concurrency 8, trivial ones (an echo in sm and js) at concurrency 64.
 * Headline: throughput with N threads ÷ with 1 thread (the target is ≥ 1.7 at N = 2 for CPU-bound
 * work, and no drop for trivial work). Then the first concurrent burst after a deploy: two
 * CPU-bound invocations sent together to a function just deployed, against two in a row.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { SpringbokClient } from '../dispatchers/client.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { startEngine } from './lib/engine-child.ts';
import { runFor } from './lib/load-loop.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('multi-core', 'Usage: node experiments/multi-core.ts [--quick]\n\nThroughput and latency of CPU-bound and trivial functions with 0, 1, 2 … N scheduler threads (serve --workers), and the ratios against 1 thread; then two CPU-bound invocations sent together right after a deploy against two in a row (the first-burst speed-up).');
const q = args.quick;
const warmUpMs = q ? 200 : 1500;
const measureMs = q ? 400 : 5000;
const cores = availableParallelism();
const workerCounts = [...new Set([0, 1, 2, cores])].sort((a, b) => a - b);
const header = machineHeader();
console.log(JSON.stringify(header));
const loadAtStart = loadavg();
const example = (path: string): Promise<Buffer> => readFile(new URL(`../examples/${path}`, import.meta.url));
const hasC = !('missing' in findToolchain());

interface Workload { readonly name: string, readonly language: string, readonly source: Buffer | string, readonly input: string, readonly expected: string, readonly kind: 'cpu' | 'trivial', readonly concurrency: number }
const workloads: Workload[] = [
  { name: 'fib-js', language: 'js', source: await example('js/fib.js'), input: '25', expected: '75025', kind: 'cpu', concurrency: 8 },
  ...(hasC ? [{ name: 'fib-c', language: 'c', source: await example('c/fib.c'), input: '27', expected: '196418', kind: 'cpu' as const, concurrency: 8 }] : []),
  { name: 'fib-lua54', language: 'lua54', source: await example('lua/fib.lua'), input: '22', expected: '17711', kind: 'cpu', concurrency: 8 },
  { name: 'echo-sm', language: 'sm', source: '        outin\n        halt\n', input: 'hello', expected: 'hello', kind: 'trivial', concurrency: 64 },
  { name: 'echo-js', language: 'js', source: 'export default (input) => input;\n', input: 'hello', expected: 'hello', kind: 'trivial', concurrency: 64 },
];
if (!hasC) console.log('skipped fib-c: the C toolchain is missing (clang, wasm-ld, wasi-libc)');

const rows: { workers: number, function: string, kind: string, concurrency: number, perSecond: number, failures: number, latencyMs: ReturnType<typeof summarize> }[] = [];
for (const workers of workerCounts) {
  const engine = await startEngine(['--workers', String(workers)]);
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  try {
    for (const workload of workloads) {
      await client.deploy(workload.name, workload.language, typeof workload.source === 'string' ? Buffer.from(workload.source) : workload.source);
      const call = async (): Promise<boolean> => {
        const result = await client.invoke(workload.name, workload.input);
        return result.ok && Buffer.from(result.output).toString() === workload.expected;
      };
      // Every thread gets an instance and the JIT settles before the timed run.
      await runFor(warmUpMs, workload.concurrency, call);
      const startedAt = performance.now();
      const load = await runFor(measureMs, workload.concurrency, call);
      const row = { workers, function: workload.name, kind: workload.kind, concurrency: workload.concurrency, perSecond: load.perSecond, failures: load.failures, latencyMs: summarize(load.latenciesMs), seconds: Math.round(performance.now() - startedAt) / 1000 };
      rows.push(row);
      console.log(`workers=${workers} ${workload.name.padEnd(9)} c=${String(workload.concurrency).padStart(2)}: ${String(row.perSecond).padStart(6)} /s  p50 ${row.latencyMs.p50} ms  p99 ${row.latencyMs.p99} ms  failures ${row.failures}`);
    }
  } finally {
    await client.close();
    await engine.stop();
  }
}

// ---- the first concurrent burst after a deploy --------------------------------------------------
// Two CPU-bound invocations sent together right after a deploy, on as many threads as cores: the
// second thread has no instance yet (and, without a shared compiled module, would compile the
// function again first). First-burst speed-up: two in a row right after a deploy of the same
// source under another name (the first of them cold too) ÷ the two together; warm speed-up: the
// same once both threads hold an instance. 2× is perfect.
const burstTrials = q ? 1 : 4;
const burstWorkloads = [
  ...(hasC ? [{ language: 'c', source: await example('c/fib.c'), input: q ? '27' : '33' }] : []),
  { language: 'lua54', source: await example('lua/fib.lua'), input: q ? '20' : '26' },
  { language: 'js', source: await example('js/fib.js'), input: q ? '22' : '30' },
];
const bursts: { language: string, input: string, trial: number, firstBurstMs: number, firstInARowMs: number, twoInARowMs: number, warmBurstMs: number, firstBurstSpeedUp: number, warmBurstSpeedUp: number }[] = [];
if (cores >= 2) {
  const engine = await startEngine(['--workers', String(cores)]);
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  const timed = async (name: string, input: string, together: boolean): Promise<number> => {
    const startedAt = performance.now();
    const results = together ? await Promise.all([client.invoke(name, input), client.invoke(name, input)]) : [await client.invoke(name, input), await client.invoke(name, input)];
    const ms = performance.now() - startedAt;
    const failed = results.find((result) => !result.ok);
    if (failed !== undefined && !failed.ok) throw new Error(`${name}: ${failed.error.code} ${failed.error.message}`);
    return ms;
  };
  const round2 = (x: number): number => Math.round(x * 100) / 100;
  try {
    for (const workload of burstWorkloads) {
      for (let trial = 0; trial < burstTrials; trial++) {
        const name = `burst-${workload.language}-${trial}`;
        await client.deploy(name, workload.language, workload.source);
        const firstBurstMs = await timed(name, workload.input, true);
        await client.deploy(`${name}-in-a-row`, workload.language, workload.source);
        const firstInARowMs = await timed(`${name}-in-a-row`, workload.input, false);
        const twoInARowMs = await timed(name, workload.input, false);
        const warmBurstMs = await timed(name, workload.input, true);
        const row = { language: workload.language, input: workload.input, trial, firstBurstMs: round2(firstBurstMs), firstInARowMs: round2(firstInARowMs), twoInARowMs: round2(twoInARowMs), warmBurstMs: round2(warmBurstMs), firstBurstSpeedUp: round2(firstInARowMs / firstBurstMs), warmBurstSpeedUp: round2(twoInARowMs / warmBurstMs) };
        bursts.push(row);
        console.log(`burst ${workload.language.padEnd(5)} fib(${workload.input}) trial ${trial}: after a deploy together ${row.firstBurstMs} ms, in a row ${row.firstInARowMs} ms (×${row.firstBurstSpeedUp}); warm together ${row.warmBurstMs} ms, in a row ${row.twoInARowMs} ms (×${row.warmBurstSpeedUp})`);
      }
    }
  } finally {
    await client.close();
    await engine.stop();
  }
}

// Throughput with N threads ÷ with one thread, per function.
const ratios = rows.filter((row) => row.workers !== 1).map((row) => {
  const one = rows.find((other) => other.workers === 1 && other.function === row.function)!;
  return { workers: row.workers, function: row.function, kind: row.kind, throughputVsOneThread: Math.round((row.perSecond / one.perSecond) * 100) / 100 };
});
for (const ratio of ratios) console.log(`workers=${ratio.workers} ÷ workers=1  ${ratio.function.padEnd(9)} throughput ×${ratio.throughputVsOneThread}`);
await writeResult(args.out, { experiment: 'multi-core', quick: q, machine: header, loadAverage: { atStart: loadAtStart, atEnd: loadavg() }, warmUpMs, measureMs, rows, ratios, bursts });
