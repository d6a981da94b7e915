#!/usr/bin/env node
/**
 * A fan-out over 100 items, two ways, against one `springbok serve` child process: a flow whose map
 * step runs a function on each item and joins the outputs (one request), and a client doing the same
 * itself (100 pipelined invocations over its one connection, at the same concurrency, then the join
 * in the client). Per run: the time from the request to the joined array. The two are measured in
 * alternation, run by run, so a noisy neighbour hits both alike. workerd has no flows (its nearest
 * thing, service bindings, is a Worker calling a Worker), so the comparison is with the client.
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { SpringbokClient } from '../dispatchers/client.ts';
import { startEngine } from './lib/engine-child.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('flows', 'Usage: node experiments/flows.ts [--quick]\n\nA map flow over 100 items against a client making the same 100 calls itself (p50/p99 per fan-out), at concurrency 8 and 64.');
const kItems = 100;
const runs = args.quick ? 10 : 150;
const header = machineHeader();
console.log(JSON.stringify(header));
const engine = await startEngine();
const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
const items = Array.from({ length: kItems }, (_, i) => i + 1);
const input = JSON.stringify(items);
const expected = JSON.stringify(items.map((n) => n * (n + 1) / 2));

// A small function (sm: the sum 1..N), so what is measured is the composition, not the work.
await client.deploy('sum', 'sm', await readFile(new URL('../examples/sm/sum.sm', import.meta.url)));

/** One fan-out as a flow: one request, the engine runs the 100 steps and joins. */
async function viaFlow (name: string): Promise<string> {
  const result = await client.invoke(name, input);
  if (!result.ok) throw new Error(`${name}: ${result.error.code}: ${result.error.message}`);
  return result.output.toString();
}

/** The same by the client: 100 invocations, at most `concurrency` in flight, joined here. */
async function viaClient (concurrency: number): Promise<string> {
  const outputs: unknown[] = new Array(kItems);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < kItems) {
      const index = next++;
      const result = await client.invoke('sum', String(items[index]));
      if (!result.ok) throw new Error(`sum: ${result.error.code}: ${result.error.message}`);
      outputs[index] = JSON.parse(result.output.toString());
    }
  }));
  return JSON.stringify(outputs);
}

const rows = [];
for (const concurrency of [8, 64]) {
  const name = `fan-out-${concurrency}`;
  await client.deploy(name, 'flow', Buffer.from(JSON.stringify({ steps: [{ id: 'each', map: 'sum', over: '$input', concurrency, maxItems: kItems }], output: '$each' })));
  const ways = { flow: () => viaFlow(name), client: () => viaClient(concurrency) };
  // Warm-up: the function's instances on every scheduler thread, the JIT of both paths.
  for (let i = 0; i < (args.quick ? 3 : 20); i++) for (const run of Object.values(ways)) await run();
  const latencies: Record<keyof typeof ways, number[]> = { flow: [], client: [] };
  for (let i = 0; i < runs; i++) {
    // Alternate which goes first, so neither always follows the other's garbage.
    const order = i % 2 === 0 ? (['flow', 'client'] as const) : (['client', 'flow'] as const);
    for (const way of order) {
      const startedAt = performance.now();
      const output = await ways[way]();
      latencies[way].push(performance.now() - startedAt);
      if (output !== expected) throw new Error(`${way} at concurrency ${concurrency} answered ${output.slice(0, 80)}…`);
    }
  }
  for (const way of ['flow', 'client'] as const) {
    const row = { way, items: kItems, concurrency, runs, fanOutMs: summarize(latencies[way]) };
    rows.push(row);
    console.log(`${way.padEnd(6)} ${kItems} items, concurrency ${String(concurrency).padStart(2)}: p50 ${row.fanOutMs.p50} ms  p99 ${row.fanOutMs.p99} ms  (${runs} runs)`);
  }
}
await client.close();
await engine.stop();
await writeResult(args.out, { experiment: 'flows', quick: args.quick, machine: header, peer: 'none: workerd has no flows; compared with a client doing the same calls', rows });
