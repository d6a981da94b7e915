/**
 * What the patched fengari modules (see fengari-loader.ts) and the metered library functions (see
 * metered-library.ts) call while an invocation runs. Only one fiber runs at a time on the engine's
 * thread, so one slot is enough: a fiber points it at its sandbox's meter when run() starts and
 * clears it when run() returns.
 */
export interface MeterHub {
  /** Charges strings, buffers and table slots; undefined while no Lua invocation is running. */
  meter: StringAndSlotMeter | undefined;
  /** Counts steps of work done inside one Lua instruction; undefined while no Lua invocation is running. */
  steps: StepCounter | undefined;
}

export interface StringAndSlotMeter {
  /** A string of `bytes` bytes was just made. May throw a Lua memory error. */
  chargeString (L: unknown, bytes: number): void;
  /** A buffer of `bytes` bytes is about to be allocated. May throw a Lua memory error. */
  reserve (L: unknown, bytes: number): void;
  /** A table got a new slot. */
  chargeSlot (): void;
}

/**
 * The CPU side of work done inside one Lua instruction (a library call, a concatenation), which
 * the count hook does not see: the hook counts instructions, and one instruction can copy
 * megabytes. Two ways in:
 * - loops inside fengari (pattern matching, a plain find, table.sort's comparisons, table.concat's
 *   and table.unpack's elements) decrement `left` once per step and call onExhausted at zero;
 * - calls whose cost follows from their arguments' sizes (string.rep, string.upper, ...) and every
 *   string made call charge() with an estimate, before the work when it is known in advance.
 */
export interface StepCounter {
  /** Steps left before {@link StepCounter.onExhausted} is called. */
  left: number;
  /** Checks the clock; refills `left`, or throws a Lua error that ends the invocation. */
  onExhausted (L: unknown): void;
  /**
   * Work of about `ns` nanoseconds of CPU is about to be done (or was just done) outside Lua
   * instructions. Throws a Lua error that ends the invocation with ERR_CPU_BUDGET if it cannot
   * finish within the CPU budget, or would hold the thread longer than one uninterruptible call may.
   * @param what names the call in that error (`string.rep`).
   */
  charge (L: unknown, ns: number, what: string): void;
}

export const meterHub: MeterHub = { meter: undefined, steps: undefined };
