import { performance } from 'node:perf_hooks';

interface Port {
  postMessage (value: unknown, transferList?: readonly ArrayBuffer[]): void;
}

/**
 * Batches messages to one port: a batch goes out at the end of the current task (a microtask),
 * or at once when it has waited `maxAgeMs` (a thread busy running slices does not reach its
 * microtasks for a while), or when flush() is called.
 */
export class Outbox<T> {
  readonly #port: Port;
  readonly #maxAgeMs: number;
  #batch: T[] = [];
  #transfer: ArrayBuffer[] = [];
  #startedAt = 0;

  constructor (port: Port, maxAgeMs: number) {
    this.#port = port;
    this.#maxAgeMs = maxAgeMs;
  }

  /** Queues a message; `transfer` lists buffers that move with it (the sender must not use them again). */
  send (message: T, transfer?: ArrayBuffer): void {
    this.#batch.push(message);
    if (transfer !== undefined) this.#transfer.push(transfer);
    if (this.#batch.length === 1) {
      this.#startedAt = performance.now();
      queueMicrotask(this.flush);
    } else if (performance.now() - this.#startedAt > this.#maxAgeMs) {
      this.flush();
    }
  }

  readonly flush = (): void => {
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    const transfer = this.#transfer;
    this.#batch = [];
    this.#transfer = [];
    this.#port.postMessage(batch, transfer);
  };
}

/** The bytes of `view` in a buffer of their own, which can be transferred (a view may share a large pooled buffer). */
export function ownBytes (view: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(view);
}
