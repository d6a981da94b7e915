#!/usr/bin/env node
/**
 * Soak: one million invocations (20,000 with --quick) mixed across every loaded language through a
 * real engine process. Resident memory after warm-up should grow less than 5%, and the engine should
 * hold no more file descriptors at the end than after warm-up.
 */
import { startEngine } from './lib/engine-child.ts';
import { soak } from './lib/soak.ts';
import { experimentArgs, machineHeader, writeResult } from './lib/report.ts';

const args = experimentArgs('soak', 'Usage: node experiments/soak.ts [--quick]\n\nOne million invocations mixed across all languages; memory growth and descriptor leaks.');
const header = machineHeader();
console.log(JSON.stringify(header));
const engine = await startEngine();
const report = await soak(engine.socketPath, engine.child.pid!, args.quick ? 20_000 : 1_000_000, new URL('../examples/', import.meta.url));
const alive = engine.child.exitCode === null;
await engine.stop();
const mb = (bytes: number): number => Math.round(bytes / 2 ** 20);
console.log(`${report.invocations} invocations over ${report.languages.join(', ')} in ${report.seconds} s: ${report.failures} failed, ${report.wrongOutputs} wrong; rss ${mb(report.rssAfterWarmupBytes)} → ${mb(report.rssEndBytes)} MiB (${report.rssGrowthPercent}%); fds ${report.fdsAfterWarmup} → ${report.fdsEnd}; engine alive: ${alive}`);
await writeResult(args.out, { experiment: 'soak', quick: args.quick, machine: header, engineAlive: alive, ...report });
process.exitCode = alive && report.failures === 0 && report.wrongOutputs === 0 ? 0 : 1;
