#!/usr/bin/env node
/**
 * A light function's latency alone, then beside CPU hogs: other functions spinning in infinite
 * loops in the same engine. Shows what the scheduler's fairness buys: with H hogs, a light
 * invocation waits for about one slice per hog.
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { SpringbokClient } from '../dispatchers/client.ts';
import { startEngine } from './lib/engine-child.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('noisy-neighbour', 'Usage: node experiments/noisy-neighbour.ts [--quick]\n\nLatency of a light sm function alone and beside 1 and 4 CPU-hog functions (sm infinite loops), slice 2 ms and 0.5 ms.');
const samples = args.quick ? 200 : 3000;
const header = machineHeader();
console.log(JSON.stringify(header));
const hello = await readFile(new URL('../examples/sm/hello.sm', import.meta.url));
const spin = await readFile(new URL('../examples/sm/spin.sm', import.meta.url));
const rows = [];
for (const sliceMs of [2, 0.5]) {
  const engine = await startEngine(['--slice-ms', String(sliceMs)]);
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  await client.deploy('light', 'sm', hello);
  for (let h = 0; h < 4; h++) await client.deploy(`hog-${h}`, 'sm', spin, { cpuMs: 3_600_000, wallMs: 3_600_000 });
  let alone: number[] = [];
  for (const hogs of [0, 1, 4]) {
    // Hogs run on their own connection; closing it cancels them.
    const hogClient = await SpringbokClient.connect({ socketPath: engine.socketPath });
    for (let h = 0; h < hogs; h++) void hogClient.invoke(`hog-${h}`).catch(() => {});
    for (let i = 0; i < 50; i++) await client.invoke('light', 'x');
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      const result = await client.invoke('light', 'x');
      latencies.push(performance.now() - t0);
      if (!result.ok) throw new Error(`light failed: ${result.error.code}`);
    }
    await hogClient.close();
    if (hogs === 0) alone = latencies;
    const summary = summarize(latencies);
    const aloneSummary = summarize(alone);
    const row = { sliceMs, hogs, latencyMs: summary, p99RatioToAlone: Math.round(summary.p99 / aloneSummary.p99 * 100) / 100 };
    rows.push(row);
    console.log(`slice ${sliceMs} ms, ${hogs} hogs: p50 ${summary.p50} ms  p99 ${summary.p99} ms  (p99 ${row.p99RatioToAlone}× alone)`);
  }
  await client.close();
  await engine.stop();
}
await writeResult(args.out, { experiment: 'noisy-neighbour', quick: args.quick, machine: header, samplesPerPoint: samples, rows });
