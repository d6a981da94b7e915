import { performance } from 'node:perf_hooks';
import { kYield, type Slice, type SliceOutcome } from '../../engine/plugin.ts';
import { preemptRequested } from '../../engine/preemption.ts';

/** Lets a parked stack go: `resolve` resumes it with the suspending import's result, `reject` throws into it. */
export interface Gate<R> {
  resolve (value: R): void;
  reject (error: Error): void;
}

/**
 * Where an invocation's wasm stack is, seen from run():
 * - `in-run`: nothing of it is parked or running outside run(); whatever guest code runs, runs
 *   inside run() (or the stack has returned and its promise is still settling).
 * - `parked`: a suspending import parked it; run() resumes it through `gate`, once `waitFor` (host
 *   work it parked on, such as a fetch) has settled.
 * - `resumed`: run() opened the gate; the stack runs as a promise reaction after run() returned,
 *   and `sliceEnded` settles when that slice ends (parked again, finished or thrown).
 */
export type StackState<R> =
  | { readonly kind: 'in-run' }
  | { readonly kind: 'parked', readonly gate: Gate<R>, readonly waitFor: Promise<void> | undefined }
  | { readonly kind: 'resumed', readonly sliceEnded: PromiseWithResolvers<void> };

const kInRun = Object.freeze({ kind: 'in-run' } as const);

/**
 * The JSPI side of a fiber whose guest code is a wasm stack entered through
 * `WebAssembly.promising`: the stack suspends on a `WebAssembly.Suspending` import (park) and can
 * only be resumed by a promise reaction, which runs after run() has returned. So the first slice
 * of a stack runs inside run(), and every later one is a 'continue' slice: run() opens the gate,
 * the scheduler ends its turn, and the resumed slice measures its own time (offThreadCpuMs) and
 * ends itself when the time run() was given is up, counted from the moment it resumes.
 *
 * It keeps the slice's books (its deadline, when a resumed slice began, the CPU used outside
 * run()) and the gate; the fiber keeps what is its language's own (entering the stack, what the
 * guest reported, its outcome). `R` is what the suspending import returns to the guest.
 */
export class JspiStack<R> {
  #state: StackState<R> = kInRun;
  /** When the slice in progress must end (performance.now()): run()'s deadline, or a resumed slice's own. */
  #sliceEndsAt = 0;
  /** The time run() gave the next resumed slice, in ms. */
  #sliceMs = 0;
  /** When the resumed slice in progress began running (0 when none runs). */
  #resumedAt = 0;
  #offThreadCpuMs = 0;

  get state (): StackState<R> { return this.#state; }

  /** Time of the slices that ran as promise reactions after run() returned ('continue'), in ms. */
  get offThreadCpuMs (): number { return this.#offThreadCpuMs; }

  /** {@link offThreadCpuMs} with the resumed slice in progress counted up to `now`. */
  offThreadCpuMsAt (now: number): number {
    return this.#offThreadCpuMs + (this.#resumedAt > 0 ? now - this.#resumedAt : 0);
  }

  /** run() is about to run guest code itself, until `slice.endsAt`. */
  runInside (slice: Slice): void {
    this.#sliceEndsAt = slice.endsAt;
  }

  /** True once the slice in progress (inside run(), or resumed) is over: the guest should park. */
  sliceOver (): boolean {
    return performance.now() >= this.#sliceEndsAt || preemptRequested();
  }

  /**
   * For the suspending import: ends the slice in progress and parks the stack until run() resumes
   * it, and not before `waitFor` (host work, e.g. a fetch) has settled. Resolves with the value
   * run() resumes it with, as the stack resumes: the resumed slice starts then.
   */
  park (waitFor?: Promise<unknown>): Promise<R> {
    this.endSlice();
    const { promise, resolve, reject } = Promise.withResolvers<R>();
    const gate: Gate<R> = { resolve, reject };
    // The scheduler waits on the same chain, so the state says "ready" by the time it wakes the fiber;
    // and the chain never rejects (a rejected wait would wake the fiber again and again).
    const ready = (): void => {
      if (this.#state === parked) this.#state = { kind: 'parked', gate, waitFor: undefined };
    };
    const parked: StackState<R> = { kind: 'parked', gate, waitFor: waitFor?.then(ready, ready) };
    this.#state = parked;
    return promise.then((value) => {
      this.#resumedAt = performance.now();
      this.#sliceEndsAt = this.#resumedAt + this.#sliceMs;
      return value;
    });
  }

  /**
   * How run() ends when the stack parked inside it: 'yield', or 'wait' for what it parked on.
   * Undefined when it did not park (it returned, or threw).
   */
  parkedInRun (): SliceOutcome | undefined {
    const state = this.#state;
    if (state.kind !== 'parked') return undefined;
    return state.waitFor === undefined ? kYield : { state: 'wait', until: state.waitFor };
  }

  /**
   * run() with the stack away from run(): resumes a parked stack with `value` for what is left of
   * `slice` ('continue'), or waits for what it parked on, or answers 'continue' again while a
   * resumed slice runs. Undefined when the stack is in-run: run() runs guest code itself.
   */
  resume (slice: Slice, value: R): SliceOutcome | undefined {
    const state = this.#state;
    if (state.kind === 'in-run') return undefined;
    if (state.kind === 'resumed') return { state: 'continue', until: state.sliceEnded.promise };
    if (state.waitFor !== undefined) return { state: 'wait', until: state.waitFor };
    this.#sliceMs = Math.max(0, slice.endsAt - performance.now());
    const sliceEnded = Promise.withResolvers<void>();
    this.#state = { kind: 'resumed', sliceEnded };
    state.gate.resolve(value);
    return { state: 'continue', until: sliceEnded.promise };
  }

  /**
   * The slice in progress ended (the stack parked again, finished or threw). A resumed slice's time
   * is CPU the scheduler did not see; the scheduler, waiting for the slice to end, wakes.
   */
  endSlice (): void {
    const state = this.#state;
    if (state.kind !== 'resumed') return;
    if (this.#resumedAt > 0) {
      this.#offThreadCpuMs += performance.now() - this.#resumedAt;
      this.#resumedAt = 0;
    }
    this.#state = kInRun;
    state.sliceEnded.resolve();
  }

  /**
   * Cancellation: lets a parked stack go with `open(gate)` (a rejection, or a value the guest
   * unwinds on), so it unwinds as a promise reaction. No run() follows, so no one waits for it.
   */
  unwind (open: (gate: Gate<R>) => void): void {
    const state = this.#state;
    if (state.kind !== 'parked') return;
    this.#state = { kind: 'resumed', sliceEnded: Promise.withResolvers<void>() };
    open(state.gate);
  }
}
