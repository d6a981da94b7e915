#!/usr/bin/env node
/**
 * Fuzzes the wire protocol with a fixed seed: 200,000 frames (10,000 with --quick), in rounds of
 * 20,000 (1,000). Every good-client check between batches must succeed, nothing may throw, and the
 * engine's heap after a full garbage collection must not grow from the middle round to the last.
 *
 * The engine runs in this process (so a full GC can be forced between rounds; the process re-runs
 * itself with --expose-gc) and is reached over a real unix socket, exactly as `springbok serve`
 * would be; test/protocol-fuzz.test.ts fuzzes a separate `springbok serve` process.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Engine } from '../engine/index.ts';
import { defaultPlugins } from '../dispatchers/cli/plugins.ts';
import { SocketServer } from '../dispatchers/socket-server.ts';
import { fuzzProtocol } from './lib/protocol-fuzzer.ts';
import { machineHeader, writeResult } from './lib/report.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  // Re-run with a collector we can call; the child's output is ours.
  try {
    execFileSync(process.execPath, ['--expose-gc', ...process.argv.slice(1)], { stdio: 'inherit' });
  } catch (error) {
    process.exitCode = (error as { status?: number }).status ?? 1;
  }
  process.exit();
}

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, seed: { type: 'string' }, rounds: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help === true) {
  process.stdout.write('Usage: node experiments/protocol-fuzz.ts [--quick] [--seed N] [--rounds N] [--out FILE]\n\nFuzzes the engine\'s protocol (10 rounds of 20,000 frames; 1,000 with --quick) and checks it keeps serving without heap growth.\n');
  process.exit(0);
}
const quick = values.quick === true;
const seed = Number(values.seed ?? 20261122);
const rounds = Number(values.rounds ?? 10);
const framesPerRound = quick ? 1000 : 20_000;
const header = machineHeader();
console.log(JSON.stringify(header));

const dir = await mkdtemp(join(tmpdir(), 'springbok-fuzz-'));
const engine = await Engine.open({ plugins: defaultPlugins() });
const server = await SocketServer.start({ engine, socketPath: join(dir, 'engine.sock') });
await engine.deploy('sum', 'sm', await readFile(new URL('../examples/sm/sum.sm', import.meta.url)));
const heapAfterRound: number[] = [];
const rssAfterRound: number[] = [];
const totals = { frames: 0, connections: 0, closedByEngine: 0, goodChecks: 0, goodFailures: 0 };
const startedAt = performance.now();
try {
  for (let round = 0; round < rounds; round++) {
    const report = await fuzzProtocol(server.addresses.socketPath!, { seed: seed + round * 7919, frames: framesPerRound, goodFunction: 'sum', goodInput: '100', goodOutput: '5050' });
    for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += report[key];
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the last connections close
    gc();
    const memory = process.memoryUsage();
    heapAfterRound.push(memory.heapUsed + memory.external);
    rssAfterRound.push(memory.rss);
  }
} finally {
  await server.close();
  await engine.close();
  await rm(dir, { recursive: true, force: true });
}
const seconds = (performance.now() - startedAt) / 1000;
const middle = heapAfterRound[Math.floor(rounds / 2) - 1]!;
const last = heapAfterRound[rounds - 1]!;
const result = {
  experiment: 'protocol-fuzz', quick, machine: header, seed, ...totals, seconds: Math.round(seconds * 10) / 10,
  heapAfterGcBytes: heapAfterRound, rssBytes: rssAfterRound, heapGrowthPercent: Math.round((last / middle - 1) * 1000) / 10,
};
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
console.log(`${totals.frames} frames on ${totals.connections} connections in ${result.seconds} s (seed ${seed}); engine closed ${totals.closedByEngine}; good client ${totals.goodChecks - totals.goodFailures}/${totals.goodChecks} ok`);
console.log(`heap + external after a full GC, per round: ${heapAfterRound.map(mb).join(', ')} MiB (${result.heapGrowthPercent}% from the middle round to the last); rss ${rssAfterRound.map((b) => Math.round(b / 2 ** 20)).join(', ')} MiB`);
await writeResult(values.out ?? new URL(`./results/protocol-fuzz${quick ? '.quick' : ''}.json`, import.meta.url).pathname, result);
process.exitCode = totals.goodFailures === 0 ? 0 : 1;
