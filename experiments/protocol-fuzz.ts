#!/usr/bin/env node
/**
 * Fuzzes the wire protocol of a real engine process with a fixed seed: 100,000 frames (5,000 with
 * --quick). The engine must answer or close every bad connection, keep serving a good client
 * throughout, stay alive, and not grow its memory.
 */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { SpringbokClient } from '../dispatchers/client.ts';
import { startEngine } from './lib/engine-child.ts';
import { fuzzProtocol } from './lib/protocol-fuzzer.ts';
import { machineHeader, writeResult } from './lib/report.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, seed: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help === true) {
  process.stdout.write('Usage: node experiments/protocol-fuzz.ts [--quick] [--seed N] [--out FILE]\n\nFuzzes a running engine\'s protocol (100,000 frames; 5,000 with --quick) and checks it keeps serving.\n');
  process.exit(0);
}
const quick = values.quick === true;
const seed = Number(values.seed ?? 20261122);
const header = machineHeader();
console.log(JSON.stringify(header));
const engine = await startEngine();
const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
await client.deploy('sum', 'sm', await readFile(new URL('../examples/sm/sum.sm', import.meta.url)));
// Warm up, so the memory baseline is taken after the JIT and pools have settled.
await fuzzProtocol(engine.socketPath, { seed: seed + 1, frames: 2000, goodFunction: 'sum', goodInput: '100', goodOutput: '5050' });
// Five rounds; memory is read after each. V8 and the allocator keep freed pages for a while, so
// growth is judged from the second round (after the heap has reached its working size) to the last.
const frames = quick ? 5000 : 100_000;
const rssAfterRound: number[] = [];
const reports = [];
const startedAt = performance.now();
for (let round = 0; round < 5; round++) {
  reports.push(await fuzzProtocol(engine.socketPath, { seed: seed + round * 7919, frames: frames / 5, goodFunction: 'sum', goodInput: '100', goodOutput: '5050' }));
  rssAfterRound.push((await client.stats()).process.rssBytes);
}
const seconds = (performance.now() - startedAt) / 1000;
const report = {
  seed,
  frames: reports.reduce((sum, r) => sum + r.frames, 0),
  connections: reports.reduce((sum, r) => sum + r.connections, 0),
  closedByEngine: reports.reduce((sum, r) => sum + r.closedByEngine, 0),
  goodChecks: reports.reduce((sum, r) => sum + r.goodChecks, 0),
  goodFailures: reports.reduce((sum, r) => sum + r.goodFailures, 0),
};
const before = rssAfterRound[1]!;
const after = rssAfterRound[4]!;
const alive = engine.child.exitCode === null && engine.child.signalCode === null;
await client.close();
await engine.stop();
const result = { experiment: 'protocol-fuzz', quick, machine: header, ...report, seconds: Math.round(seconds * 10) / 10, engineAlive: alive, rssAfterRoundBytes: rssAfterRound, rssBeforeBytes: before, rssAfterBytes: after, rssGrowthPercent: Math.round((after / before - 1) * 1000) / 10 };
console.log(`${report.frames} frames on ${report.connections} connections in ${result.seconds} s (seed ${seed}); engine closed ${report.closedByEngine}; good client ${report.goodChecks - report.goodFailures}/${report.goodChecks} ok; engine alive: ${alive}; rss after each fifth ${rssAfterRound.map((b) => Math.round(b / 2 ** 20)).join(', ')} MiB (${result.rssGrowthPercent}% from the second to the last)`);
await writeResult(values.out ?? new URL(`./results/protocol-fuzz${quick ? '.quick' : ''}.json`, import.meta.url).pathname, result);
process.exitCode = alive && report.goodFailures === 0 ? 0 : 1;
