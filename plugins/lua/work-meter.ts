import { kFengariMaxUninterruptibleMs, kFengariWorkNsPerCheck, kMatchStepsPerCheck } from '../lua-common/limits.ts';
import type { SliceClock } from '../lua-common/slice-clock.ts';
import type { LuaState } from './fengari-api.ts';
import type { StepCounter } from './meter-hub.ts';
import { preemptRequested } from '../../engine/preemption.ts';

/** Ends the invocation with ERR_CPU_BUDGET (raises a Lua error on L); `detail` is added to the message. */
export type CpuKill = (L: LuaState, now: number, detail?: string) => never;

/**
 * The clock checks of one fengari invocation for work done inside a single Lua instruction
 * (doc/lua.md, "Library calls"), where the count hook, which counts instructions, sees nothing:
 * one `s:upper()` or `s .. t` on a big string is one instruction and can take milliseconds.
 *
 * Counted steps (pattern matching, plain find, sort, concat, unpack) and estimated work (library
 * calls by their sizes, strings made by their bytes) both lead to a check of the clock:
 * - past the CPU budget: the invocation is killed (a Lua error, raised again at every hook);
 * - the engine's thread held by library code for more than kFengariMaxUninterruptibleMs since the
 *   last count hook: killed too, as lua54 does with its metered wasm;
 * - the slice is over: the count hook is asked to run at the next instruction, so the invocation
 *   yields as soon as it is back in Lua code instead of up to 1,000 instructions later.
 * A call estimated in advance to overrun the budget (or the uninterruptible limit) is refused
 * before it starts, so the budget is exceeded by at most one call whose size the estimate bounds.
 */
export class FengariWorkMeter implements StepCounter {
  left = kMatchStepsPerCheck;
  readonly #clock: SliceClock;
  readonly #kill: CpuKill;
  #pendingNs = 0;
  /** performance.now() of the last count hook (or of the run() start): Lua code ran then. */
  #lastInLuaAt = 0;

  constructor (clock: SliceClock, kill: CpuKill) {
    this.#clock = clock;
    this.#kill = kill;
  }

  /** The count hook ran (the invocation executed Lua instructions) at `now`. */
  markInLua (now: number): void {
    this.#lastInLuaAt = now;
  }

  onExhausted (L: unknown): void {
    this.left = kMatchStepsPerCheck;
    this.#check(L as LuaState, performance.now());
  }

  charge (L: unknown, ns: number, what: string): void {
    this.#pendingNs += ns;
    if (this.#pendingNs < kFengariWorkNsPerCheck) return;
    this.#pendingNs = 0;
    const now = performance.now();
    const ms = ns / 1e6;
    if (ms > kFengariMaxUninterruptibleMs) {
      this.#kill(L as LuaState, now, `${what} would run about ${ms.toFixed(0)} ms without returning to Lua code (at most ${kFengariMaxUninterruptibleMs} ms)`);
    }
    const leftMs = this.#clock.budgetMs - this.#clock.usedAt(now);
    if (ms > leftMs) this.#kill(L as LuaState, now, `${what} would need about ${ms.toFixed(0)} ms, ${Math.max(0, leftMs).toFixed(0)} ms were left`);
    this.#check(L as LuaState, now);
  }

  #check (L: LuaState, now: number): void {
    if (this.#clock.isOverBudget(now)) this.#kill(L, now);
    const heldMs = now - this.#lastInLuaAt;
    if (heldMs > kFengariMaxUninterruptibleMs) {
      this.#kill(L, now, `a call into Lua's library ran ${heldMs.toFixed(0)} ms without returning to Lua code (at most ${kFengariMaxUninterruptibleMs} ms)`);
    }
    // The slice is over: have the count hook run at the next instruction of this coroutine.
    if (now >= this.#clock.endsAt || preemptRequested()) (L as unknown as { hookcount: number }).hookcount = 1;
  }
}
