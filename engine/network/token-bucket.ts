import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A function's outbound byte rate, shared by all its invocations. Bytes are taken after the fact
 * (a chunk's size is known once it arrives), so the balance may go negative; the taker then waits
 * until it is back to zero. The burst is a tenth of a second's worth, so over any stretch longer
 * than that the rate holds to within the burst.
 */
export class TokenBucket {
  readonly #bytesPerSecond: number;
  readonly #burstBytes: number;
  #tokens: number;
  #updatedAt = performance.now();

  constructor (bytesPerSecond: number) {
    this.#bytesPerSecond = bytesPerSecond;
    this.#burstBytes = Math.max(1, bytesPerSecond / 10);
    this.#tokens = this.#burstBytes;
  }

  /** Charges `bytes`, then waits until the balance is back to zero, so the bytes are paid for before the caller goes on. Rejects if `signal` aborts. */
  async take (bytes: number, signal: AbortSignal): Promise<void> {
    this.#refill();
    this.#tokens -= bytes;
    while (this.#tokens < 0) {
      await sleep(Math.ceil((-this.#tokens / this.#bytesPerSecond) * 1000), undefined, { signal });
      this.#refill();
    }
  }

  #refill (): void {
    const now = performance.now();
    this.#tokens = Math.min(this.#burstBytes, this.#tokens + ((now - this.#updatedAt) / 1000) * this.#bytesPerSecond);
    this.#updatedAt = now;
  }
}
