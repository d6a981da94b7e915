import { summarize } from './report.ts';
import type { BudgetWorkload } from './budget-workloads.ts';
import type { BudgetRunResult } from './budget-child.ts';

/**
 * Turns the invocations of experiments/cpu-budget-precision.ts into its result rows and its
 * printed tables, with a verdict per workload: was it stopped, and in time?
 */

/** Codes that mean the engine stopped the workload on a budget (what every hostile workload should end with). */
const kBudgetStops = new Set(['ERR_CPU_BUDGET', 'ERR_MEMORY_BUDGET', 'ERR_OUTPUT_TOO_LARGE']);

/** "In time": the OS saw at most this much CPU, ms, for a budget of `cpuMs`. Generous: cold starts and GC count. */
export function inTimeLimitMs (cpuMs: number): number {
  return 2 * cpuMs + 20;
}

/** The codes the experiment itself gives, besides the engine's: the language's process had to be killed, or died. */
export const kEngineStuck = 'ENGINE_STUCK';
export const kEngineDied = 'ENGINE_DIED';
export const kDeployFailed = 'DEPLOY_FAILED';

export interface BudgetRow {
  readonly language: string;
  readonly workload: string;
  readonly description: string;
  readonly budget: { readonly cpuMs: number, readonly wallMs: number, readonly memoryBytes: number | null };
  readonly runs: number;
  /** Invocations per outcome: `ok`, an engine error code, or one of kEngineStuck/kEngineDied/kDeployFailed. */
  readonly codes: Record<string, number>;
  /** One message per code (the first seen), to tell what went wrong. */
  readonly messages: Record<string, string>;
  readonly chargedCpuMs: ReturnType<typeof summarize>;
  readonly osCpuMs: ReturnType<typeof summarize>;
  /** Which OS clock osCpuMs is: this thread's CPU, or the whole process's (js: isolates run on their own threads). */
  readonly osCpuClock: 'thread' | 'process';
  readonly wallMs: ReturnType<typeof summarize>;
  /** OS CPU ÷ CPU budget. */
  readonly overshootRatio: { readonly p50: number, readonly p99: number };
  readonly verdict: string;
  readonly stoppedInTime: boolean;
  /** sm rows only, as this experiment reported them before it measured other languages: ms past the budget. */
  readonly chargedOvershootMs?: ReturnType<typeof summarize>;
  readonly threadCpuOvershootMs?: ReturnType<typeof summarize>;
}

function seconds (ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function verdictOf (workload: BudgetWorkload, runs: readonly BudgetRunResult[], osCpu: ReturnType<typeof summarize>, wall: ReturnType<typeof summarize>): { verdict: string, stoppedInTime: boolean } {
  if (runs.length === 0) return { verdict: 'not run', stoppedInTime: false };
  const problems: string[] = [];
  const byCode = (code: string): BudgetRunResult[] => runs.filter((r) => r.code === code);
  const longest = (list: BudgetRunResult[]): number => Math.max(...list.map((r) => r.wallMs));
  const deploy = byCode(kDeployFailed);
  if (deploy.length > 0) return { verdict: `deploy failed: ${deploy[0]!.message ?? ''}`, stoppedInTime: false };
  const died = byCode(kEngineDied);
  if (died.length > 0) problems.push(`engine process died (${died.length}×): ${died[0]!.message ?? ''}`);
  const stuck = byCode(kEngineStuck);
  if (stuck.length > 0) problems.push(`NOT stopped: engine thread still busy after ${seconds(longest(stuck))}, process killed`);
  const ok = byCode('ok');
  if (ok.length > 0) problems.push(`NOT stopped: returned ok after ${seconds(longest(ok))}`);
  const timedOut = byCode('ERR_WALL_TIMEOUT');
  if (timedOut.length > 0) problems.push(`NOT stopped on CPU: ERR_WALL_TIMEOUT after ${seconds(longest(timedOut))}`);
  const others = [...new Set(runs.map((r) => r.code))].filter((code) => !kBudgetStops.has(code) && ![kEngineDied, kEngineStuck, 'ok', 'ERR_WALL_TIMEOUT'].includes(code));
  for (const code of others) problems.push(`${code}: ${runs.find((r) => r.code === code)!.message ?? ''}`);
  const limit = inTimeLimitMs(workload.cpuMs);
  if (problems.length === 0 && osCpu.max > limit) problems.push(`stopped late: up to ${Math.round(osCpu.max)} ms of OS CPU (${(osCpu.max / workload.cpuMs).toFixed(1)}x the budget); answer after ${seconds(wall.max)}`);
  if (problems.length > 0) return { verdict: problems.join('; '), stoppedInTime: false };
  return { verdict: 'stopped in time', stoppedInTime: true };
}

/** The row of one workload from its invocations (in any order). */
export function budgetRow (workload: BudgetWorkload, runs: readonly BudgetRunResult[], osCpuClock: 'thread' | 'process'): BudgetRow {
  const codes: Record<string, number> = {};
  const messages: Record<string, string> = {};
  for (const run of runs) {
    codes[run.code] = (codes[run.code] ?? 0) + 1;
    if (run.message !== undefined && messages[run.code] === undefined) messages[run.code] = run.message;
  }
  const charged = runs.flatMap((r) => r.chargedCpuMs === undefined ? [] : [r.chargedCpuMs]);
  const os = runs.flatMap((r) => r.osCpuMs === undefined ? [] : [r.osCpuMs]);
  // A killed or failed deploy has no wall time of its own worth summarizing... except a stuck one, which is the point.
  const wall = runs.filter((r) => r.code !== kDeployFailed).map((r) => r.wallMs);
  const osCpuMs = summarize(os);
  const wallMs = summarize(wall);
  const ratio = summarize(os.map((ms) => ms / workload.cpuMs));
  const row: BudgetRow = {
    language: workload.language,
    workload: workload.workload,
    description: workload.description,
    budget: { cpuMs: workload.cpuMs, wallMs: workload.wallMs, memoryBytes: workload.memoryBytes ?? null },
    runs: runs.length,
    codes,
    messages,
    chargedCpuMs: summarize(charged),
    osCpuMs,
    osCpuClock,
    wallMs,
    overshootRatio: { p50: ratio.p50, p99: ratio.p99 },
    ...verdictOf(workload, runs, osCpuMs, wallMs),
  };
  if (workload.smLoop !== true) return row;
  return { ...row, chargedOvershootMs: summarize(charged.map((ms) => ms - workload.cpuMs)), threadCpuOvershootMs: summarize(os.map((ms) => ms - workload.cpuMs)) };
}

function figure (x: number): string {
  if (Number.isNaN(x)) return '–';
  return x >= 100 ? String(Math.round(x)) : String(Math.round(x * 10) / 10);
}

function pair (summary: { p50: number, p99: number }): string {
  return `${figure(summary.p50)} / ${figure(summary.p99)}`;
}

/** One markdown table per language: what doc/budgets.md shows. */
export function budgetTables (rows: readonly BudgetRow[]): string {
  const languages = [...new Set(rows.map((r) => r.language))];
  return languages.map((language) => {
    const mine = rows.filter((r) => r.language === language);
    const clock = mine[0]!.osCpuClock === 'process' ? 'process CPU (all threads)' : 'thread CPU';
    const lines = [
      `### ${language}`,
      '',
      `| workload | budget cpu / wall / memory | runs | outcome | charged CPU ms p50 / p99 | OS ${clock} ms p50 / p99 | wall ms p50 / p99 | OS CPU ÷ budget p50 / p99 | verdict |`,
      '|---|---|---|---|---|---|---|---|---|',
      ...mine.map((r) => {
        const memory = r.budget.memoryBytes === null ? 'default' : `${r.budget.memoryBytes / 2 ** 20} MiB`;
        const codes = Object.entries(r.codes).map(([code, n]) => `${n}× ${code}`).join(', ');
        return `| ${r.workload}: ${r.description.replaceAll('|', '\\|')} | ${r.budget.cpuMs} ms / ${r.budget.wallMs} ms / ${memory} | ${r.runs} | ${codes} | ${pair(r.chargedCpuMs)} | ${pair(r.osCpuMs)} | ${pair(r.wallMs)} | ${pair(r.overshootRatio)} | ${r.verdict.replaceAll('|', '\\|')} |`;
      }),
    ];
    return lines.join('\n');
  }).join('\n\n');
}
