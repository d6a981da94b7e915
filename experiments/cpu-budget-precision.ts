#!/usr/bin/env node
/**
 * How far past its CPU budget does a runaway function get before springbok stops it?
 * For every language, runs infinite loops and hostile workloads (loops around one long built-in or
 * host call, huge strings) one invocation at a time, and compares the budget with (a) the error the
 * engine gave, (b) the CPU the engine charged (usage.cpuMs) and (c) the CPU the OS measured around
 * the whole invocation: the engine thread's, or the whole process's for js, whose isolates run on
 * their own threads. Engine overhead and cold starts are included.
 *
 * Each language runs in its own child process (lib/budget-child.ts) with the engine on its main
 * thread (workers: 0). A workload that is not stopped is reported, never fatal: the engine's wall
 * budget ends most; an invocation that keeps the thread busy past its wall budget plus a grace
 * period has its process killed (ENGINE_STUCK), a process that dies is ENGINE_DIED, and the language
 * goes on from the next invocation in a new process. So the experiment always ends.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { osClockFor, type BudgetChildMessage, type BudgetChildRequest, type BudgetRunResult } from './lib/budget-child.ts';
import { budgetRow, budgetTables, inTimeLimitMs, kDeployFailed, kEngineDied, kEngineStuck } from './lib/budget-rows.ts';
import { budgetWorkloads, type BudgetWorkload } from './lib/budget-workloads.ts';
import { experimentArgs, machineHeader, writeResult } from './lib/report.ts';

const args = experimentArgs('cpu-budget-precision', 'Usage: node experiments/cpu-budget-precision.ts [--quick]\n\nMeasures, per language, how far past its CPU budget an infinite loop or a hostile workload runs\nbefore the engine stops it (or that it is not stopped), by charged and OS-measured CPU.\nFull: sm loops at 5 budgets x 100 runs, 5 runs of each hostile workload. Quick: sm at 10 and 50 ms x 10 runs, 1 run of each.');

/** How long past its wall budget an invocation may keep the engine's thread before its process is killed, ms. */
const kStuckGraceMs = args.quick ? 4000 : 15_000;
/** Time a language's process may take to start and deploy a workload (a C deploy runs clang), ms. */
const kStartupGraceMs = 60_000;

const toolchain = findToolchain();
const spin = await readFile(new URL('../examples/sm/spin.sm', import.meta.url), 'utf8');
const workloads = budgetWorkloads(spin, !('missing' in toolchain)).filter((w) => !args.quick || w.smLoop !== true || w.cpuMs === 10 || w.cpuMs === 50);
const runsOf = (w: BudgetWorkload): number => !args.quick ? w.runs : w.smLoop === true ? 10 : 1;

const header = machineHeader();
console.log(JSON.stringify(header));
if ('missing' in toolchain) console.log(`c rows left out: ${toolchain.missing}`);

const childUrl = new URL('./lib/budget-child.ts', import.meta.url);
const results: BudgetRunResult[][] = workloads.map(() => []);

/**
 * Runs `items` (one language) in a child process, recording each invocation's result; resolves when
 * the child is done, or has died or been killed, after recording what happened to the one in flight.
 */
function runInChild (language: string, items: BudgetChildRequest['items']): Promise<void> {
  return new Promise((resolve) => {
    const child: ChildProcess = fork(childUrl, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000); });
    // The item (position in `items`) being deployed or run, and the invocation in flight, since when.
    let position = 0;
    let running: { since: number } | undefined;
    let finished = false;
    let deadline: NodeJS.Timeout | undefined;
    const arm = (ms: number): void => {
      clearTimeout(deadline);
      deadline = setTimeout(() => { if (!finished) { finished = true; endChild(kEngineStuck); } }, ms);
    };
    const endChild = (code: string): void => {
      clearTimeout(deadline);
      if (code === kEngineStuck) child.kill('SIGKILL');
      const item = items[position];
      if (item !== undefined) {
        const since = running?.since ?? performance.now();
        const message = code === kEngineStuck ? `killed ${running === undefined ? 'while starting or deploying' : 'during the invocation'}` : `exit ${child.exitCode ?? child.signalCode}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`;
        results[item.index]!.push({ code, message, wallMs: performance.now() - since });
      }
      resolve();
    };
    child.on('message', (message: BudgetChildMessage) => {
      if (finished) return;
      if (message.type === 'done') {
        finished = true;
        clearTimeout(deadline);
        // Closing may hang on a thread a workload left busy: it is not measured, so it is not waited for long.
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => clearTimeout(kill));
        resolve();
        return;
      }
      const at = items.findIndex((item) => item.index === message.index);
      if (message.type === 'deploy-failed') {
        results[message.index]!.push({ code: kDeployFailed, message: `${message.code}: ${message.message.slice(0, 300)}`, wallMs: 0 });
        position = at + 1;
        arm(kStartupGraceMs);
      } else if (message.type === 'start') {
        position = at;
        running = { since: performance.now() };
        arm(items[at]!.workload.wallMs + kStuckGraceMs);
      } else {
        running = undefined;
        results[message.index]!.push(message.result);
        // After its last run, whatever happens next (removing it, deploying the next) belongs to the next workload.
        if (message.run === items[at]!.runs - 1) position = at + 1;
        arm(kStartupGraceMs);
      }
    });
    child.once('exit', () => {
      if (finished) return;
      finished = true;
      endChild(kEngineDied);
    });
    arm(kStartupGraceMs);
    child.send({ language, items } satisfies BudgetChildRequest);
  });
}

const languages = [...new Set(workloads.map((w) => w.language))];
const rows = [];
for (const language of languages) {
  // The runs still to make of each workload: after a process is killed or dies (which records a
  // result for the invocation in flight), a new one goes on from there. A failed deploy ends its workload.
  const remaining = (): BudgetChildRequest['items'] => workloads.flatMap((workload, index) => {
    const done = results[index]!;
    const runs = runsOf(workload) - done.length;
    return workload.language === language && runs > 0 && !done.some((r) => r.code === kDeployFailed) ? [{ index, workload, runs }] : [];
  });
  for (let items = remaining(); items.length > 0; items = remaining()) await runInChild(language, items);
  for (const [index, workload] of workloads.entries()) {
    if (workload.language !== language) continue;
    const row = budgetRow(workload, results[index]!, osClockFor(language));
    rows.push(row);
    const codes = Object.entries(row.codes).map(([code, n]) => `${n}x ${code}`).join(', ');
    console.log(`${language.padEnd(7)} ${workload.workload.padEnd(17)} cpu ${String(workload.cpuMs).padStart(3)} ms: ${codes}; OS CPU p50 ${row.osCpuMs.p50} ms p99 ${row.osCpuMs.p99} ms (${row.osCpuClock}); wall p50 ${row.wallMs.p50} ms; ${row.verdict}`);
  }
}

console.log(`\nOS CPU: the engine thread's CPU time around the invocation (process-wide for js). "In time": OS CPU ≤ 2 × budget + 20 ms (${inTimeLimitMs(100)} ms for 100 ms).\n`);
console.log(budgetTables(rows));
await writeResult(args.out, { experiment: 'cpu-budget-precision', quick: args.quick, machine: header, inTimeRule: 'OS CPU <= 2 x cpuMs + 20 ms', cRows: 'missing' in toolchain ? toolchain.missing : 'included', rows });
