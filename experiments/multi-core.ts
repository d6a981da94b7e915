#!/usr/bin/env node
/**
 * Multi-core scaling: the same engine (`springbok serve`, a child process) with --workers 0 (every
 * function on the thread that serves the socket), 1 and 2 (and more on bigger machines) scheduler
 * threads, one run after another, the same client. CPU-bound functions (fib by recursion in js, c,
 * lua54) at concurrency 8, trivial ones (an echo in sm and js) at concurrency 64.
 * Headline: throughput with N threads ÷ with 1 thread (the target is ≥ 1.7 at N = 2 for CPU-bound
 * work, and no drop for trivial work).
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { SpringbokClient } from '../dispatchers/client.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { startEngine } from './lib/engine-child.ts';
import { runFor } from './lib/load-loop.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('multi-core', 'Usage: node experiments/multi-core.ts [--quick]\n\nThroughput and latency of CPU-bound and trivial functions with 0, 1, 2 … N scheduler threads (serve --workers), and the ratios against 1 thread.');
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

// Throughput with N threads ÷ with one thread, per function.
const ratios = rows.filter((row) => row.workers !== 1).map((row) => {
  const one = rows.find((other) => other.workers === 1 && other.function === row.function)!;
  return { workers: row.workers, function: row.function, kind: row.kind, throughputVsOneThread: Math.round((row.perSecond / one.perSecond) * 100) / 100 };
});
for (const ratio of ratios) console.log(`workers=${ratio.workers} ÷ workers=1  ${ratio.function.padEnd(9)} throughput ×${ratio.throughputVsOneThread}`);
await writeResult(args.out, { experiment: 'multi-core', quick: q, machine: header, loadAverage: { atStart: loadAtStart, atEnd: loadavg() }, warmUpMs, measureMs, rows, ratios });
