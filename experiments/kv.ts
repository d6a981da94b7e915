#!/usr/bin/env node
/**
 * Why kv is node:sqlite on the main thread, with group commit: the store's own latency and
 * throughput, without the engine around it (experiments/invoke.ts measures kv through functions).
 *
 *   put, one at a time:   the engine's store (SqliteKv: WAL, synchronous=FULL, so one fsync per
 *                         commit), the same database with synchronous=NORMAL (no fsync per commit:
 *                         safe against a killed process, not a power cut), and an append-only log
 *                         with an fsync per record (the simplest durable store there is: its floor)
 *   put, 64 in flight:    SqliteKv (the puts of one event-loop turn share a commit) against one
 *                         transaction per put
 *   get:                  SqliteKv (a prepared SELECT) against a Map, and against what asking
 *                         another thread costs (a postMessage round trip to a worker_thread): what a
 *                         scheduler thread pays to reach a store on the main thread
 *
 * Variants are measured in alternation, round by round, on one disk (the data dir's), so a noisy
 * neighbour hits all alike; each figure is the median over rounds of that round's p50 or p99.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { SqliteKv } from '../engine/kv/sqlite-kv.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('kv', 'Usage: node experiments/kv.ts [--quick]\n\nThe kv store: put latency (fsync per commit, without, an fsync\'d log), put throughput with group commit, get latency against a Map and a thread round trip.');
const rounds = args.quick ? 2 : 7;
const perRound = args.quick ? 50 : 400;
const header = machineHeader();
console.log(JSON.stringify(header));
const dir = mkdtempSync(join(tmpdir(), 'springbok-kv-bench-'));
const encoder = new TextEncoder();
const value = new Uint8Array(100).fill(120);
const key = (n: number): Uint8Array => encoder.encode(`key-${n}`);

const store = new SqliteKv(join(dir, 'engine.sqlite'));
const normal = new DatabaseSync(join(dir, 'normal.sqlite'));
normal.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE entries (ns TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID');
const normalPut = normal.prepare('INSERT OR REPLACE INTO entries (ns, key, value) VALUES (?, ?, ?)');
// The store's settings without its group commit: every put its own transaction, so its own fsync.
const eachCommit = new DatabaseSync(join(dir, 'each.sqlite'));
eachCommit.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE entries (ns TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID');
const eachCommitPut = eachCommit.prepare('INSERT OR REPLACE INTO entries (ns, key, value) VALUES (?, ?, ?)');
const log = openSync(join(dir, 'append.log'), 'a');
const map = new Map<string, Uint8Array>();
const echo = new Worker('const { parentPort } = require("node:worker_threads"); parentPort.on("message", (m) => parentPort.postMessage(m));', { eval: true });
const roundTrip = (message: unknown): Promise<unknown> => new Promise((resolve) => { echo.once('message', resolve); echo.postMessage(message); });

let counter = 0;
type Variant = { readonly name: string, readonly op: () => unknown };
const putVariants: Variant[] = [
  { name: 'sqlite WAL synchronous=FULL (the store)', op: () => store.apply({ op: 'put', namespace: 'bench', key: key(counter++ % 5000), value, limitBytes: 2 ** 40 }) },
  { name: 'sqlite WAL synchronous=NORMAL', op: () => normalPut.run('bench', key(counter++ % 5000), value) },
  { name: 'append-only log, fsync per record', op: () => { writeSync(log, value); fsyncSync(log); } },
];
const getVariants: Variant[] = [
  { name: 'sqlite get (the store)', op: () => store.apply({ op: 'get', namespace: 'bench', key: key(counter++ % 5000) }) },
  { name: 'Map get', op: () => map.get(`key-${counter++ % 5000}`) },
  { name: 'postMessage round trip to a thread', op: () => roundTrip({ op: 'get', namespace: 'bench', key: key(counter++ % 5000) }) },
];
for (let n = 0; n < 5000; n++) map.set(`key-${n}`, value);
await Promise.all(Array.from({ length: 5000 }, (_, n) => store.apply({ op: 'put', namespace: 'bench', key: key(n), value, limitBytes: 2 ** 40 })));

/** Latencies of `perRound` operations, one at a time, in ms. */
async function sequential (variant: Variant): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < perRound; i++) {
    const startedAt = performance.now();
    await variant.op();
    samples.push(performance.now() - startedAt);
  }
  return samples;
}

/** Puts per second with `inFlight` puts waiting at once: each worker starts its next put as its last one is acknowledged. */
async function throughput (inFlight: number, groupCommit: boolean): Promise<number> {
  const total = perRound * 2;
  let started = 0;
  const startedAt = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (started < total) {
      started++;
      const k = key(counter++ % 5000);
      if (groupCommit) await store.apply({ op: 'put', namespace: 'bench', key: k, value, limitBytes: 2 ** 40 });
      else await Promise.resolve(eachCommitPut.run('bench', k, value));
    }
  }));
  return Math.round(total / ((performance.now() - startedAt) / 1000));
}

const perVariant = new Map<string, { p50: number[], p99: number[] }>();
const record = (name: string, samples: number[]): void => {
  const summary = summarize(samples);
  const entry = perVariant.get(name) ?? { p50: [], p99: [] };
  entry.p50.push(summary.p50);
  entry.p99.push(summary.p99);
  perVariant.set(name, entry);
};
const throughputs = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  for (const variant of [...putVariants, ...getVariants]) record(variant.name, await sequential(variant));
  for (const [name, inFlight, group] of [['64 puts in flight, group commit (the store)', 64, true], ['64 puts in flight, a commit each', 64, false], ['1 put in flight', 1, true]] as const) {
    throughputs.set(name, [...throughputs.get(name) ?? [], await throughput(inFlight, group)]);
  }
  console.log(`round ${round + 1}/${rounds} done`);
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const latencyRows = [...perVariant].map(([name, { p50, p99 }]) => ({ variant: name, p50Ms: median(p50), p99Ms: median(p99) }));
const throughputRows = [...throughputs].map(([name, values]) => ({ variant: name, putsPerSecond: median(values) }));
for (const row of latencyRows) console.log(`${row.variant.padEnd(45)} p50 ${row.p50Ms} ms  p99 ${row.p99Ms} ms`);
for (const row of throughputRows) console.log(`${row.variant.padEnd(45)} ${row.putsPerSecond} puts/s`);

store.close();
normal.close();
eachCommit.close();
closeSync(log);
await echo.terminate();
rmSync(dir, { recursive: true, force: true });
await writeResult(args.out, { experiment: 'kv', quick: args.quick, machine: header, note: 'the machine was shared with other work while this ran', rounds, operationsPerRound: perRound, valueBytes: value.byteLength, latency: latencyRows, throughput: throughputRows });
