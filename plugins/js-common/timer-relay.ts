import { performance } from 'node:perf_hooks';
import type { Settlement } from './host-call-relay.ts';
import { kMaxPendingTimers, kMaxTimerDelayMs } from './web-timers.ts';

/** A timer a little early by Node's clock (it counts whole ms) is taken as due: this much, in ms. */
const kEarlyToleranceMs = 1;

/**
 * The host side of one invocation's timers (web-timers.ts): the due time of each pending timer,
 * one Node timer armed for the earliest, and the timers that fired, queued until the fiber's next
 * run hands them to the guest as settlements `[timerId, true, []]` (through the prelude's deliver,
 * like settled fetches). Shared by both engines. close() drops everything: the invocation is over.
 */
export class TimerRelay {
  /** Timer id → when it is due, by performance.now(), in ms. */
  readonly #due = new Map<number, number>();
  readonly #ready: Settlement[] = [];
  #armed: NodeJS.Timeout | undefined;
  #armedFor = Infinity;
  #wake: (() => void) | undefined;
  #fired: Promise<void> | undefined;
  #closed = false;

  /** Timers set and not yet fired. */
  get pendingCount (): number { return this.#due.size; }

  /** Fired timers waiting to be delivered to the guest. */
  get readyCount (): number { return this.#ready.length; }

  /**
   * Sets (or sets again) a guest's timer, or cancels it when delayMs is -1; arguments come straight from the guest.
   * @returns false when the invocation already has {@link kMaxPendingTimers} pending (the timer is not set).
   */
  set (timerId: unknown, delayMs: unknown): boolean {
    if (typeof timerId !== 'number' || this.#closed) return true;
    if (delayMs === -1) {
      // The Node timer stays armed: when it goes off it finds nothing due and arms for the next.
      this.#due.delete(timerId);
      return true;
    }
    if (!this.#due.has(timerId) && this.#due.size >= kMaxPendingTimers) return false;
    const ms = typeof delayMs === 'number' && delayMs > 0 ? Math.min(delayMs, kMaxTimerDelayMs) : 0;
    const due = performance.now() + ms;
    this.#due.set(timerId, due);
    if (due < this.#armedFor) this.#arm(due);
    return true;
  }

  /** Takes the fired timers not yet delivered, earliest first. */
  takeReady (): Settlement[] {
    return this.#ready.splice(0, this.#ready.length);
  }

  /** Resolves when the next timer fires (never, when none is pending). */
  nextFired (): Promise<void> {
    this.#fired ??= new Promise((resolve) => { this.#wake = resolve; });
    return this.#fired;
  }

  /** Drops every timer: the invocation has ended. */
  close (): void {
    this.#closed = true;
    clearTimeout(this.#armed);
    this.#armed = undefined;
    this.#due.clear();
    this.#ready.length = 0;
  }

  #arm (due: number): void {
    clearTimeout(this.#armed);
    this.#armedFor = due;
    this.#armed = setTimeout(() => this.#fire(), Math.max(0, due - performance.now()));
  }

  #fire (): void {
    this.#armed = undefined;
    this.#armedFor = Infinity;
    const now = performance.now() + kEarlyToleranceMs;
    const fired: [id: number, due: number][] = [];
    let next = Infinity;
    for (const [id, due] of this.#due) {
      if (due <= now) fired.push([id, due]);
      else if (due < next) next = due;
    }
    fired.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    for (const [id] of fired) {
      this.#due.delete(id);
      this.#ready.push([id, true, []]);
    }
    if (next < Infinity) this.#arm(next);
    if (fired.length === 0) return;
    const wake = this.#wake;
    this.#wake = undefined;
    this.#fired = undefined;
    wake?.();
  }
}
