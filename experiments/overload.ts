#!/usr/bin/env node
/**
 * Overload a real engine: a flood of 10× (and more) the invocations its queues admit, 1,000
 * connections at once, and a client that never reads its (large) answers. Bounded queues must answer
 * ERR_QUEUE_FULL quickly, memory must stay bounded, and throughput must recover after the flood.
 */
import { readFile } from 'node:fs/promises';
import { SpringbokClient } from '../dispatchers/client.ts';
import { startEngine } from './lib/engine-child.ts';
import { kBigAnswer, overload } from './lib/overload.ts';
import { experimentArgs, machineHeader, writeResult } from './lib/report.ts';

const args = experimentArgs('overload', 'Usage: node experiments/overload.ts [--quick]\n\nFlood (queue limit 1,000 per function), 1,000 connections, a slow reader; memory and recovery.');
const header = machineHeader();
console.log(JSON.stringify(header));
const engine = await startEngine(['--max-in-flight-per-function', '1000']);
let report;
let alive;
try {
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  await client.deploy('work', 'sm', await readFile(new URL('../examples/sm/sum.sm', import.meta.url)));
  await client.deploy('big', 'sm', Buffer.from(kBigAnswer));
  await client.close();
  report = await overload(engine.socketPath, {
    floodRequests: args.quick ? 10_000 : 50_000,
    connections: 1000,
    slowRequests: args.quick ? 200 : 1000,
    work: 'work', workInput: '2000',
    big: 'big', bigInput: '',
  });
  alive = engine.child.exitCode === null;
} finally {
  // Also when the run fails: an engine left behind would hold its parent's pipes open.
  await engine.stop();
}
const mb = (bytes: number): number => Math.round(bytes / 2 ** 20);
console.log(`flood of ${report.flood.requests}: ${report.flood.ok} ok, ${report.flood.queueFull} ERR_QUEUE_FULL (answered in p50 ${report.flood.queueFullLatencyMs.p50} ms, p99 ${report.flood.queueFullLatencyMs.p99} ms), ${report.flood.otherErrors} other`);
console.log(`throughput ${report.baselinePerSecond}/s before, ${report.recoveredPerSecond}/s after the flood; ${report.connections.answered}/${report.connections.opened} connections answered; slow reader grew rss by ${mb(report.slowReader.rssGrowthBytes)} MiB; rss ${mb(report.rssBytes.before)} → ${mb(report.rssBytes.afterFlood)} → ${mb(report.rssBytes.end)} MiB; engine alive: ${alive}`);
await writeResult(args.out, { experiment: 'overload', quick: args.quick, machine: header, engineAlive: alive, ...report });
