import type { ErrorRecord } from './errors.ts';

/**
 * The one ERR_CPU_BUDGET every plugin and the scheduler report: the budget, what was used, and,
 * where the plugin knows more than the clock does, why it stopped there (`detail`).
 */
export function cpuBudgetError (budgetMs: number, usedMs: number, detail?: string): ErrorRecord {
  const base = `CPU budget of ${budgetMs} ms used up (${usedMs.toFixed(1)} ms)`;
  return { code: 'ERR_CPU_BUDGET', message: detail === undefined ? base : `${base}: ${detail}` };
}
