/**
 * Paces QuickJS's interrupt poll by time, not by a fixed tick count.
 *
 * QuickJS calls its interrupt handler when a per-context counter, decremented at every backward
 * jump and call, reaches zero, and then sets it back to 10,000 (JS_INTERRUPT_COUNTER_INIT) before
 * calling the handler. A tick is cheap in a plain loop, but a tick that calls a builtin can cost a
 * millisecond or more (`for (;;) a.indexOf(1)` on a 50 MB typed array: measured 9 s between polls
 * against a 100 ms budget). So at each poll the pacer measures how long the last interval took and
 * writes a new count into the counter (the handler runs after the reset, so the value stays):
 * fewer ticks when ticks are expensive, down to one (a poll per tick), back up to 10,000 when they
 * are cheap again. A poll then comes about every {@link kPollTargetMs}, whatever a tick costs.
 *
 * The counter is `JSContext.interrupt_counter`, at {@link kCounterOffset} bytes into the context
 * in the pinned build. The pacer writes only when the slot holds 10,000 (the value QuickJS has just
 * written): if a new build moved the field, the check fails and nothing is written, so a layout
 * change costs precision, never correctness.
 */

/** Byte offset of `interrupt_counter` in QuickJS's JSContext, in the build this plugin pins (found by probing). */
const kCounterOffset = 232;
/** QuickJS's own reset value of the counter (JS_INTERRUPT_COUNTER_INIT). */
export const kQuickJsPollTicks = 10_000;
/** Aimed-for time between two polls, in ms: a slice or budget ends within about this of its deadline. */
export const kPollTargetMs = 0.1;

export class PollPacer {
  readonly #memory: WebAssembly.Memory;
  readonly #slot: number;
  #heap: Int32Array;
  #ticks = kQuickJsPollTicks;
  #lastPollAt = 0;
  /** A poll has found the slot at 10,000: the offset is the counter's. */
  #verified = false;

  /**
   * @param memory the build instance's wasm memory.
   * @param contextPointer the JSContext's address in it.
   */
  constructor (memory: WebAssembly.Memory, contextPointer: number) {
    this.#memory = memory;
    this.#slot = (contextPointer + kCounterOffset) >> 2;
    this.#heap = new Int32Array(memory.buffer);
  }

  /** Ticks between polls now (1 … 10,000). */
  get ticks (): number { return this.#ticks; }

  /** Guest code starts or resumes at `now` (performance.now()): time before it is not a tick's cost. */
  restart (now: number): void {
    this.#lastPollAt = now;
  }

  /** Makes the very next tick poll (once the counter has been found where it is expected). */
  pollSoon (): void {
    if (!this.#verified) return;
    if (this.#heap.length === 0) this.#heap = new Int32Array(this.#memory.buffer);
    this.#heap[this.#slot] = 1;
  }

  /** Called at every poll with the clock: sets the ticks until the next poll. */
  poll (now: number): void {
    const elapsedMs = now - this.#lastPollAt;
    this.#lastPollAt = now;
    let ticks = this.#ticks;
    if (elapsedMs > kPollTargetMs) ticks = Math.max(1, Math.floor(ticks * kPollTargetMs / elapsedMs));
    else if (elapsedMs < kPollTargetMs / 4) ticks = Math.min(kQuickJsPollTicks, ticks * 2);
    this.#ticks = ticks;
    if (this.#heap.length === 0) this.#heap = new Int32Array(this.#memory.buffer); // the memory grew
    // Not just reset: this poll came another way (the regexp engine's own timeout check), or the
    // build moved the field. Either way, leave the slot alone.
    if (this.#heap[this.#slot] !== kQuickJsPollTicks) return;
    this.#verified = true;
    if (ticks !== kQuickJsPollTicks) this.#heap[this.#slot] = ticks;
  }
}
