#!/usr/bin/env node
/**
 * Kills the engine with SIGKILL at random moments during deploys, redeploys and removes (100 trials;
 * 5 with --quick) and checks after each restart that every acknowledged deploy is present and
 * intact, nothing half-written is loaded, and the engine starts without warnings.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crashTrial } from './lib/crash-trial.ts';
import { experimentArgs, machineHeader, writeResult } from './lib/report.ts';

const args = experimentArgs('crash-durability', 'Usage: node experiments/crash-durability.ts [--quick]\n\nSIGKILLs the engine during deploys/removes and checks that no acknowledged deploy is lost.');
const header = machineHeader();
console.log(JSON.stringify(header));
const dir = await mkdtemp(join(tmpdir(), 'springbok-crash-'));
const trials = args.quick ? 5 : 100;
let acknowledged = 0;
const failures: string[] = [];
try {
  for (let trial = 0; trial < trials; trial++) {
    const result = await crashTrial(dir, join(dir, 'data'), 1000 + trial);
    acknowledged += result.acknowledged;
    failures.push(...result.lost.map((line) => `trial ${trial}: ${line}`));
    if (result.warnings.trim() !== '') failures.push(`trial ${trial}: warnings at start: ${result.warnings.trim()}`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
console.log(`${trials} SIGKILL trials, ${acknowledged} acknowledged operations, ${failures.length} problems`);
for (const failure of failures) console.log(`  ${failure}`);
await writeResult(args.out, { experiment: 'crash-durability', quick: args.quick, machine: header, trials, acknowledged, problems: failures });
process.exitCode = failures.length === 0 ? 0 : 1;
