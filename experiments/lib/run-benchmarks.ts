#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark in experiments/ one after another in its full mode, then
 * plot.ts to render the charts from their results. Every experiments/*.ts is a benchmark except
 * plot.ts and the robustness runs of `npm run stress` (kStress), so a new experiment file is picked
 * up without editing this list. An experiment that fails is reported and the others still run; the
 * exit status is then 1. Timing figures never fail the run. The durations go to
 * experiments/results/bench.json (with --quick: a temporary file, as no doc reads it).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { findToolchain } from '../../plugins/wasm/toolchain.ts';
import { machineHeader, writeResult } from './report.ts';

/** The robustness runs: `npm run stress`, not part of the benchmark set. */
export const kStress: readonly string[] = ['protocol-fuzz', 'crash-durability', 'overload', 'soak'];
/** Benchmarks that cannot run at all without the C toolchain (as test/experiments-smoke.test.ts knows too). */
const kNeedsToolchain: readonly string[] = ['c-wasm', 'network-rate'];

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, list: { type: 'boolean' }, only: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help === true) {
  process.stdout.write(`Usage: node experiments/lib/run-benchmarks.ts [--quick] [--list] [--only a,b]

Runs every benchmark in experiments/ (all *.ts but plot.ts and the stress runs ${kStress.join(', ')})
one after another, full mode (about 25 minutes on 2 cores), then plot.ts to render doc/plots/.
  --quick      the smoke set: every benchmark with --quick (results *.quick.json), then plot.ts --quick
  --list       print the benchmarks it would run, and exit
  --only a,b   run only these (names without .ts), then plot.ts
`);
  process.exit(0);
}
const quick = values.quick === true;
const dir = new URL('..', import.meta.url).pathname;
let names = readdirSync(dir).filter((file) => file.endsWith('.ts')).map((file) => file.slice(0, -3))
  .filter((name) => name !== 'plot' && !kStress.includes(name)).sort();
if (values.only !== undefined) {
  const wanted = values.only.split(',').map((name) => name.trim().replace(/\.ts$/, ''));
  const unknown = wanted.filter((name) => !names.includes(name));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')} (known: ${names.join(', ')})\n`);
    process.exit(2);
  }
  names = names.filter((name) => wanted.includes(name));
}
if (values.list === true) {
  process.stdout.write(`${names.join('\n')}\n`);
  process.exit(0);
}

const header = machineHeader();
const runs: { name: string, seconds: number, exitCode: number | null, signal: string | null }[] = [];
const skipped: { name: string, reason: string }[] = [];
const toolchain = findToolchain();
if ('missing' in toolchain) {
  for (const name of names.filter((n) => kNeedsToolchain.includes(n))) {
    skipped.push({ name, reason: toolchain.missing });
    process.stdout.write(`skipped ${name}: ${toolchain.missing}\n`);
  }
  names = names.filter((n) => !kNeedsToolchain.includes(n));
}
const startedAt = performance.now();
for (const name of [...names, 'plot']) {
  const t0 = performance.now();
  const elapsedMin = ((t0 - startedAt) / 60_000).toFixed(1);
  process.stdout.write(`\n==== ${name}${quick ? ' --quick' : ''} (${runs.length + 1} of ${names.length + 1}, ${elapsedMin} min so far) ====\n`);
  const child = spawn(process.execPath, [join(dir, `${name}.ts`), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });
  const [exitCode, signal] = await once(child, 'exit') as [number | null, string | null];
  const seconds = Math.round((performance.now() - t0) / 100) / 10;
  runs.push({ name, seconds, exitCode, signal });
  process.stdout.write(`==== ${name}: ${exitCode === 0 ? 'done' : `FAILED (exit ${exitCode ?? signal})`} in ${seconds} s ====\n`);
}
const totalSeconds = Math.round((performance.now() - startedAt) / 100) / 10;
const failed = runs.filter((run) => run.exitCode !== 0);
process.stdout.write(`\nbenchmarks: ${runs.length - failed.length} of ${runs.length} done in ${(totalSeconds / 60).toFixed(1)} min\n`);
for (const run of runs) process.stdout.write(`  ${run.name.padEnd(22)} ${String(run.seconds).padStart(7)} s${run.exitCode === 0 ? '' : '  FAILED'}\n`);
const out = quick ? join(tmpdir(), `springbok-bench-${process.pid}.quick.json`) : new URL('../results/bench.json', import.meta.url).pathname;
for (const skip of skipped) process.stdout.write(`  ${skip.name.padEnd(22)} skipped (${skip.reason})\n`);
await writeResult(out, { experiment: 'bench', quick, machine: header, totalSeconds, runs, skipped });
if (failed.length > 0) process.exitCode = 1;
