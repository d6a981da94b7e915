#!/usr/bin/env node
/**
 * A light function's latency alone, then beside hogs: other functions of the same engine that
 * (1) spin in infinite loops (CPU hogs; 1 and 4, at 2 ms and 0.5 ms slices), (2) allocate until
 * their memory budget stops them, over and over (memory hogs), (3) download as fast as they may
 * from a loopback server, over and over (network hogs), and the same under a 1 MiB/s rate budget.
 * Shows what the scheduler's fairness, the scheduler threads and the budgets buy.
 */
import { readFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { SpringbokClient } from '../dispatchers/client.ts';
import { startEngine } from './lib/engine-child.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('noisy-neighbour', 'Usage: node experiments/noisy-neighbour.ts [--quick]\n\nLatency of a light sm function alone and beside 1 and 4 CPU-hog functions (sm infinite loops), slice 2 ms and 0.5 ms; then beside 4 memory hogs (allocation bombs, again and again) and 4 network hogs (downloads from loopback, again and again; then with a 1 MiB/s rate budget).');
const samples = args.quick ? 200 : 3000;
const header = machineHeader();
console.log(JSON.stringify(header));
const hello = await readFile(new URL('../examples/sm/hello.sm', import.meta.url));
const spin = await readFile(new URL('../examples/sm/spin.sm', import.meta.url));
/** The light function's latencies, after 50 warm-up invocations. */
async function measureLight (client: SpringbokClient): Promise<number[]> {
  for (let i = 0; i < 50; i++) await client.invoke('light', 'x');
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    const result = await client.invoke('light', 'x');
    latencies.push(performance.now() - t0);
    if (!result.ok) throw new Error(`light failed: ${result.error.code}`);
  }
  return latencies;
}

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
    const latencies = await measureLight(client);
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
// ---- memory and network hogs, at the default slice ---------------------------------------------
const kHogs = 4;
// The server the network hogs download from runs in a process of its own, so that serving them
// takes nothing from this process, which times the light function.
const serverCode = `const body = Buffer.alloc(1 << 20, 0x61);
const server = require('node:http').createServer((q, r) => { r.setHeader('content-length', body.length); r.end(body); });
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
const server = spawn(process.execPath, ['-e', serverCode], { stdio: ['ignore', 'pipe', 'inherit'] });
process.once('exit', () => server.kill('SIGKILL'));
const [portLine] = await once(server.stdout, 'data') as [Buffer];
const url = `http://127.0.0.1:${portLine.toString().trim()}/`;
const allocBomb = await readFile(new URL('../examples/sm/alloc-bomb.sm', import.meta.url));
const downloader = 'export default async (url, ctx) => { let bytes = 0; for (let i = 0; i < 8; i++) bytes += (await ctx.fetch(url)).body.length; return String(bytes); };\n';
const neighbours = [];
// The download server is on loopback: the operator opens it, as the engine's deny list refuses it otherwise.
const engine = await startEngine(['--net-allow-private', '127.0.0.1']);
const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
await client.deploy('light', 'sm', hello);
for (let h = 0; h < kHogs; h++) {
  await client.deploy(`memory-hog-${h}`, 'sm', allocBomb, { memoryBytes: 4 * 2 ** 20, cpuMs: 60_000, wallMs: 60_000 });
  await client.deploy(`network-hog-${h}`, 'js', Buffer.from(downloader), { allowHosts: [url.slice(7, -1)], netRequests: 8, netBytes: 16 * 2 ** 20, wallMs: 60_000 });
  // The same downloads under a rate budget of 1 MiB/s per function: what an operator sets to bound them.
  await client.deploy(`rated-network-hog-${h}`, 'js', Buffer.from(downloader), { allowHosts: [url.slice(7, -1)], netRequests: 8, netBytes: 16 * 2 ** 20, netRateBytesPerSec: 2 ** 20, wallMs: 60_000 });
}
const aloneNow = summarize(await measureLight(client));
neighbours.push({ kind: 'none', hogs: 0, latencyMs: aloneNow, p99RatioToAlone: 1, hogInvocations: 0 });
console.log(`alone: p50 ${aloneNow.p50} ms  p99 ${aloneNow.p99} ms`);
for (const kind of ['memory', 'network', 'rated-network'] as const) {
  // Each hog is invoked again as soon as it ends (a memory bomb ends with ERR_MEMORY_BUDGET), from its own connection.
  const hogClient = await SpringbokClient.connect({ socketPath: engine.socketPath });
  let running = true;
  let hogInvocations = 0;
  const loops = Array.from({ length: kHogs }, async (_, h) => {
    while (running) {
      const result = await hogClient.invoke(`${kind}-hog-${h}`, kind === 'memory' ? '' : url).catch(() => undefined);
      hogInvocations++;
      if (kind !== 'memory' && result !== undefined && !result.ok) throw new Error(`network hog failed: ${result.error.code}: ${result.error.message}`);
    }
  });
  const summary = summarize(await measureLight(client));
  running = false;
  await Promise.all(loops);
  await hogClient.close();
  const row = { kind, hogs: kHogs, latencyMs: summary, p99RatioToAlone: Math.round(summary.p99 / aloneNow.p99 * 100) / 100, hogInvocations };
  neighbours.push(row);
  console.log(`${kHogs} ${kind} hogs (${hogInvocations} hog invocations): p50 ${summary.p50} ms  p99 ${summary.p99} ms  (p99 ${row.p99RatioToAlone}× alone)`);
}
await client.close();
await engine.stop();
server.kill();

await writeResult(args.out, { experiment: 'noisy-neighbour', quick: args.quick, machine: header, samplesPerPoint: samples, rows, neighbours });
