#!/usr/bin/env node
/**
 * Warm invocation latency and throughput through the real socket: a `springbok serve` child process,
 * one pipelined client connection in this process, for a trivial function (hello.sm) and a CPU-bound
 * one (sum.sm of 20,000 numbers), at concurrency 1, 8 and 64.
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { SpringbokClient } from '../dispatchers/client.ts';
import { startEngine } from './lib/engine-child.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('warm-invoke', 'Usage: node experiments/warm-invoke.ts [--quick]\n\nWarm invocation latency (p50/p99) and throughput through the unix socket, concurrency 1/8/64.');
const seconds = args.quick ? 0.5 : 5;
const header = machineHeader();
console.log(JSON.stringify(header));
const engine = await startEngine();
const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
await client.deploy('trivial', 'sm', await readFile(new URL('../examples/sm/hello.sm', import.meta.url)));
await client.deploy('cpu', 'sm', await readFile(new URL('../examples/sm/sum.sm', import.meta.url)));
const workloads = [{ name: 'trivial', input: 'x' }, { name: 'cpu', input: '20000' }];
const rows = [];
for (const workload of workloads) {
  for (const concurrency of [1, 8, 64]) {
    // Warm-up (the engine's JIT needs about a second to settle), then a timed run of fixed duration.
    const warmUntil = performance.now() + (args.quick ? 200 : 1500);
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < warmUntil) await client.invoke(workload.name, workload.input);
    }));
    const latencies: number[] = [];
    let failures = 0;
    const endAt = performance.now() + seconds * 1000;
    const startedAt = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < endAt) {
        const t0 = performance.now();
        const result = await client.invoke(workload.name, workload.input);
        latencies.push(performance.now() - t0);
        if (!result.ok) failures++;
      }
    }));
    const elapsed = (performance.now() - startedAt) / 1000;
    const row = { function: workload.name, concurrency, invocations: latencies.length, failures, perSecond: Math.round(latencies.length / elapsed), latencyMs: summarize(latencies) };
    rows.push(row);
    console.log(`${workload.name.padEnd(8)} c=${String(concurrency).padStart(2)}: ${String(row.perSecond).padStart(7)} /s  p50 ${row.latencyMs.p50} ms  p99 ${row.latencyMs.p99} ms  failures ${failures}`);
  }
}
await client.close();
await engine.stop();
await writeResult(args.out, { experiment: 'warm-invoke', quick: args.quick, machine: header, secondsPerPoint: seconds, rows });
