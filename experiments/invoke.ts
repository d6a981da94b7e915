#!/usr/bin/env node
/**
 * What composition costs, through real engines:
 *
 *   ctx.invoke overhead   a client calls `double` directly, or calls `via`, which ctx.invokes
 *                         `double`: the difference is one internal call (p50/p99). The same with
 *                         workerd: a Worker called directly, or through another Worker's service
 *                         binding (env.DOUBLE.fetch), over HTTP.
 *   kv through functions  a function that does nothing, one that does one kv get, one that does one
 *                         put (latency one at a time, throughput with 64 in flight), on an engine with
 *                         2 scheduler threads (kv is a message to the main thread) and on one with
 *                         none (the store is on the thread running the function). workerd's KV needs
 *                         a storage service behind it that workerd alone does not have, so kv has no
 *                         workerd row.
 *
 * Every variant is measured in alternation, round by round, so a noisy neighbour hits all alike;
 * each figure is the median over rounds of that round's p50 or p99.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SpringbokClient } from '../dispatchers/client.ts';
import { startEngine } from './lib/engine-child.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';
import { startWorkerdWorkers, type WorkerdWorkers } from './lib/workerd-server.ts';

const args = experimentArgs('invoke', 'Usage: node experiments/invoke.ts [--quick]\n\nctx.invoke against a direct call (and workerd service bindings), kv get/put through functions on a threaded and a single-thread engine.');
const rounds = args.quick ? 2 : 7;
const perRound = args.quick ? 30 : 300;
const throughputMs = args.quick ? 200 : 2000;
const header = machineHeader();
console.log(JSON.stringify(header));

const threaded = await startEngine(['--workers', '2']);
const single = await startEngine(['--workers', '0']);
const clients = { threaded: await SpringbokClient.connect({ socketPath: threaded.socketPath }), single: await SpringbokClient.connect({ socketPath: single.socketPath }) };
for (const client of Object.values(clients)) {
  await client.deploy('double', 'js', Buffer.from('export default (input) => String(Number(input) * 2)'));
  await client.deploy('via', 'js', Buffer.from('export default (input, ctx) => ctx.invoke("double", input)'), { allowInvoke: ['double'] });
  await client.deploy('noop', 'js', Buffer.from('export default (input) => input'));
  await client.deploy('kvget', 'js', Buffer.from('export default async (input, ctx) => String(await ctx.kv.get("k" + (Number(input) % 1000)))'));
  await client.deploy('kvput', 'js', Buffer.from('export default async (input, ctx) => { await ctx.kv.put("k" + (Number(input) % 1000), "x".repeat(100)); return "ok"; }'));
}

const workerdDir = await mkdtemp(join(tmpdir(), 'springbok-invoke-workerd-'));
await writeFile(join(workerdDir, 'double.js'), 'export default { async fetch (request) { return new Response(String(Number(await request.text()) * 2)); } };\n');
await writeFile(join(workerdDir, 'via.js'), 'export default { async fetch (request, env) { return env.DOUBLE.fetch("http://double/", { method: "POST", body: await request.text() }); } };\n');
let workerd: WorkerdWorkers | undefined;
try {
  workerd = await startWorkerdWorkers(workerdDir, { double: join(workerdDir, 'double.js'), via: join(workerdDir, 'via.js') }, { services: { via: { DOUBLE: 'double' } } });
} catch (error) {
  console.log(`workerd skipped: ${error instanceof Error ? error.message : String(error)}`);
}

let counter = 0;
type Call = () => Promise<void>;
const springbok = (client: SpringbokClient, name: string): Call => async () => {
  const input = String(counter++);
  const result = await client.invoke(name, input);
  if (!result.ok) throw new Error(`${name}: ${result.error.code}: ${result.error.message}`);
};
const overWorkerd = (url: string): Call => async () => {
  const input = counter++;
  const response = await fetch(url, { method: 'POST', body: String(input) });
  if ((await response.text()) !== String(input * 2)) throw new Error(`workerd ${url} answered ${response.status}`);
};
const latencyVariants: [string, Call][] = [
  ['springbok: double, directly', springbok(clients.threaded, 'double')],
  ['springbok: via -> ctx.invoke(double)', springbok(clients.threaded, 'via')],
  ['springbok 0 threads: double, directly', springbok(clients.single, 'double')],
  ['springbok 0 threads: via -> ctx.invoke(double)', springbok(clients.single, 'via')],
  ...(workerd !== undefined ? [
    ['workerd: double, directly (HTTP)', overWorkerd(workerd.urls.double!)],
    ['workerd: via -> service binding (HTTP)', overWorkerd(workerd.urls.via!)],
  ] as [string, Call][] : []),
  ['springbok: noop function', springbok(clients.threaded, 'noop')],
  ['springbok: one kv get', springbok(clients.threaded, 'kvget')],
  ['springbok: one kv put', springbok(clients.threaded, 'kvput')],
  ['springbok 0 threads: noop function', springbok(clients.single, 'noop')],
  ['springbok 0 threads: one kv get', springbok(clients.single, 'kvget')],
  ['springbok 0 threads: one kv put', springbok(clients.single, 'kvput')],
];
const throughputVariants: [string, Call][] = [
  ['springbok: kv get, 64 in flight', springbok(clients.threaded, 'kvget')],
  ['springbok: kv put, 64 in flight', springbok(clients.threaded, 'kvput')],
  ['springbok: noop, 64 in flight', springbok(clients.threaded, 'noop')],
  ['springbok 0 threads: kv get, 64 in flight', springbok(clients.single, 'kvget')],
  ['springbok 0 threads: kv put, 64 in flight', springbok(clients.single, 'kvput')],
];

async function latencies (call: Call): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < perRound; i++) {
    const startedAt = performance.now();
    await call();
    samples.push(performance.now() - startedAt);
  }
  return samples;
}

async function perSecond (call: Call): Promise<number> {
  let done = 0;
  const startedAt = performance.now();
  const endAt = startedAt + throughputMs;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (performance.now() < endAt) {
      await call();
      done++;
    }
  }));
  return Math.round(done / ((performance.now() - startedAt) / 1000));
}

// Warm every function (cold starts are not what is measured).
for (const [, call] of [...latencyVariants, ...throughputVariants]) for (let i = 0; i < 20; i++) await call();
const p50s = new Map<string, number[]>();
const p99s = new Map<string, number[]>();
const rates = new Map<string, number[]>();
const add = (map: Map<string, number[]>, name: string, value: number): void => { map.set(name, [...map.get(name) ?? [], value]); };
for (let round = 0; round < rounds; round++) {
  for (const [name, call] of latencyVariants) {
    const summary = summarize(await latencies(call));
    add(p50s, name, summary.p50);
    add(p99s, name, summary.p99);
  }
  for (const [name, call] of throughputVariants) add(rates, name, await perSecond(call));
  console.log(`round ${round + 1}/${rounds} done`);
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const latencyRows = latencyVariants.map(([name]) => ({ variant: name, p50Ms: median(p50s.get(name)!), p99Ms: median(p99s.get(name)!) }));
const throughputRows = throughputVariants.map(([name]) => ({ variant: name, perSecond: median(rates.get(name)!) }));
const row = (name: string): { p50Ms: number, p99Ms: number } | undefined => latencyRows.find((r) => r.variant === name);
const overhead = (direct: string, via: string): { p50Ms: number, p99Ms: number } | undefined => {
  const a = row(direct), b = row(via);
  return a === undefined || b === undefined ? undefined : { p50Ms: Math.round((b.p50Ms - a.p50Ms) * 1000) / 1000, p99Ms: Math.round((b.p99Ms - a.p99Ms) * 1000) / 1000 };
};
const overheads = {
  springbok: overhead('springbok: double, directly', 'springbok: via -> ctx.invoke(double)'),
  springbokSingleThread: overhead('springbok 0 threads: double, directly', 'springbok 0 threads: via -> ctx.invoke(double)'),
  workerd: overhead('workerd: double, directly (HTTP)', 'workerd: via -> service binding (HTTP)'),
};
for (const r of latencyRows) console.log(`${r.variant.padEnd(48)} p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms`);
for (const r of throughputRows) console.log(`${r.variant.padEnd(48)} ${r.perSecond} /s`);
console.log(`one internal call adds: ${JSON.stringify(overheads)}`);

for (const client of Object.values(clients)) await client.close();
await threaded.stop();
await single.stop();
await workerd?.stop();
await rm(workerdDir, { recursive: true, force: true });
await writeResult(args.out, { experiment: 'invoke', quick: args.quick, machine: header, note: 'the machine was shared with other work while this ran', rounds, callsPerRound: perRound, throughputMs, latency: latencyRows, overheadOfOneCall: overheads, throughput: throughputRows, workerd: workerd !== undefined });
