import type { Slice } from '../../engine/plugin.ts';

/**
 * The time side of a Lua fiber, shared by both engines' count hooks: when the current slice is
 * over (yield at the next yieldable point) and when the invocation's whole CPU budget is gone
 * (kill, even where yielding is impossible). The engine also enforces the budget between slices;
 * this copy exists for code that cannot yield (a table.sort comparator, a gsub callback, a
 * guest's own coroutine), where only the plugin can stop it.
 */
export class SliceClock {
  /** CPU budget of the invocation, in ms. */
  readonly budgetMs: number;
  /** CPU used by finished run() calls, in ms. */
  usedMs = 0;
  /** performance.now() at which the current run() started. */
  startedAt = 0;
  /** performance.now() at which the current slice ends. */
  endsAt = 0;

  constructor (budgetMs: number) {
    this.budgetMs = budgetMs;
  }

  begin (slice: Slice): void {
    this.startedAt = performance.now();
    this.endsAt = slice.endsAt;
  }

  end (): void {
    this.usedMs += performance.now() - this.startedAt;
  }

  /** True when the whole CPU budget is used up at `now`. */
  isOverBudget (now: number): boolean {
    return this.usedMs + (now - this.startedAt) >= this.budgetMs;
  }

  /** CPU used so far, in ms, including the current run(). */
  usedAt (now: number): number {
    return this.usedMs + (now - this.startedAt);
  }
}
