import { setTimeout as sleep } from 'node:timers/promises';

/** Layout of a bucket's shared state: a lock word, then the balance and the time it was last refilled. */
const kLock = 0;
const kTokens = 0;
const kUpdatedAt = 1;
const kStateBytes = 24;

/**
 * A function's outbound byte rate, shared by all its invocations. Bytes are taken after the fact
 * (a chunk's size is known once it arrives), so the balance may go negative; the taker then waits
 * until it is back to zero. The burst is a tenth of a second's worth, so over any stretch longer
 * than that the rate holds to within the burst.
 *
 * The balance lives in a SharedArrayBuffer, so the scheduler threads of a multi-core engine can
 * each hold a TokenBucket over the same `state` and the function's rate holds across all of them.
 * Times are absolute (timeOrigin + now): each thread's performance.now() starts at its own zero.
 */
export class TokenBucket {
  /** Hand this to another thread's TokenBucket to share the balance. */
  readonly state: SharedArrayBuffer;
  readonly #bytesPerSecond: number;
  readonly #burstBytes: number;
  readonly #lock: Int32Array;
  readonly #values: Float64Array;

  constructor (bytesPerSecond: number, state?: SharedArrayBuffer) {
    this.#bytesPerSecond = bytesPerSecond;
    this.#burstBytes = Math.max(1, bytesPerSecond / 10);
    this.state = state ?? new SharedArrayBuffer(kStateBytes);
    this.#lock = new Int32Array(this.state, 0, 1);
    this.#values = new Float64Array(this.state, 8, 2);
    if (state === undefined) {
      this.#values[kTokens] = this.#burstBytes;
      this.#values[kUpdatedAt] = now();
    }
  }

  /** Charges `bytes`, then waits until the balance is back to zero, so the bytes are paid for before the caller goes on. Rejects if `signal` aborts. */
  async take (bytes: number, signal: AbortSignal): Promise<void> {
    let tokens = this.#update(-bytes);
    while (tokens < 0) {
      await sleep(Math.ceil((-tokens / this.#bytesPerSecond) * 1000), undefined, { signal });
      tokens = this.#update(0);
    }
  }

  /** Refills for the time passed, adds `delta`, returns the new balance. A spin lock: the section is a few loads and stores. */
  #update (delta: number): number {
    while (Atomics.compareExchange(this.#lock, kLock, 0, 1) !== 0);
    try {
      const at = now();
      const refilled = Math.min(this.#burstBytes, this.#values[kTokens]! + ((at - this.#values[kUpdatedAt]!) / 1000) * this.#bytesPerSecond);
      this.#values[kTokens] = refilled + delta;
      this.#values[kUpdatedAt] = at;
      return refilled + delta;
    } finally {
      Atomics.store(this.#lock, kLock, 0);
    }
  }
}

function now (): number {
  return performance.timeOrigin + performance.now();
}
