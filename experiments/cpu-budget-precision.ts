#!/usr/bin/env node
/**
 * How far past its CPU budget does a runaway function get before springbok stops it?
 * Runs the sm infinite loop under several budgets, one invocation at a time, and compares the
 * budget with (a) the CPU the engine charged and (b) the thread CPU time the OS measured around
 * the whole invocation (engine overhead included).
 */
import { readFile } from 'node:fs/promises';
import { Engine } from '../engine/index.ts';
import { smPlugin } from '../plugins/sm/index.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('cpu-budget-precision', 'Usage: node experiments/cpu-budget-precision.ts [--quick]\n\nMeasures how far past its CPU budget an sm infinite loop runs before ERR_CPU_BUDGET.');
const budgets = args.quick ? [10, 50] : [5, 10, 50, 100, 500];
const runs = args.quick ? 10 : 100;

const engine = await Engine.open({ plugins: [smPlugin()] });
const spin = await readFile(new URL('../examples/sm/spin.sm', import.meta.url));
const header = machineHeader();
console.log(JSON.stringify(header));
const rows = [];
for (const cpuMs of budgets) {
  await engine.deploy(`spin-${cpuMs}`, 'sm', spin, { cpuMs, wallMs: cpuMs * 20 + 1000 });
  const charged: number[] = [];
  const thread: number[] = [];
  for (let i = 0; i < runs; i++) {
    const before = process.threadCpuUsage();
    const result = await engine.invoke(`spin-${cpuMs}`, new Uint8Array());
    const used = process.threadCpuUsage(before);
    if (result.ok || result.error.code !== 'ERR_CPU_BUDGET') throw new Error(`expected ERR_CPU_BUDGET, got ${JSON.stringify(result)}`);
    charged.push(result.usage.cpuMs - cpuMs);
    thread.push((used.user + used.system) / 1000 - cpuMs);
  }
  const row = { budgetMs: cpuMs, runs, chargedOvershootMs: summarize(charged), threadCpuOvershootMs: summarize(thread) };
  rows.push(row);
  console.log(`budget ${String(cpuMs).padStart(4)} ms: charged overshoot p50 ${row.chargedOvershootMs.p50} ms p99 ${row.chargedOvershootMs.p99} ms; thread CPU overshoot p50 ${row.threadCpuOvershootMs.p50} ms p99 ${row.threadCpuOvershootMs.p99} ms`);
}
await engine.close();
await writeResult(args.out, { experiment: 'cpu-budget-precision', quick: args.quick, machine: header, rows });
