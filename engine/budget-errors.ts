import type { ErrorRecord } from './errors.ts';

/**
 * The one ERR_CPU_BUDGET every plugin and the scheduler report: the budget, what was used, and,
 * where the plugin stopped the invocation for a reason of its own before the budget ran out (a
 * library call that would not return, a call refused because it cannot finish in time), why.
 */
export function cpuBudgetError (budgetMs: number, usedMs: number, detail?: string): ErrorRecord {
  const used = usedMs.toFixed(1);
  if (detail === undefined) return { code: 'ERR_CPU_BUDGET', message: `CPU budget of ${budgetMs} ms used up (${used} ms)` };
  if (usedMs >= budgetMs) return { code: 'ERR_CPU_BUDGET', message: `CPU budget of ${budgetMs} ms used up (${used} ms): ${detail}` };
  return { code: 'ERR_CPU_BUDGET', message: `stopped at ${used} ms of a CPU budget of ${budgetMs} ms: ${detail}` };
}
