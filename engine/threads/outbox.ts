import { performance } from 'node:perf_hooks';
import { RecordWriter } from './records.ts';

interface Port {
  postMessage (value: unknown, transferList?: readonly ArrayBuffer[]): void;
}

/** A run of binary records (records.ts) among a batch's messages. */
export interface RecordsMessage {
  readonly t: 'records';
  readonly buffer: ArrayBuffer;
  readonly length: number;
}

/**
 * Batches what one thread says to another into one postMessage: control messages as objects,
 * invocations and results as binary records written into `records`, in the order they were sent.
 * A batch goes out at the end of the current task (a microtask), or at once when it has waited
 * `maxAgeMs` (a thread busy running slices does not reach its microtasks for a while), or when
 * flush() is called.
 */
export class Outbox<T extends { readonly t: string }> {
  /** Write records here, then call wrote(). */
  readonly records = new RecordWriter();
  readonly #port: Port;
  readonly #maxAgeMs: number;
  #items: (T | RecordsMessage)[] = [];
  #transfer: ArrayBuffer[] = [];
  #pending = false;
  #startedAt = 0;

  constructor (port: Port, maxAgeMs: number) {
    this.#port = port;
    this.#maxAgeMs = maxAgeMs;
  }

  send (message: T): void {
    this.#closeRun();
    this.#items.push(message);
    this.#queued();
  }

  /** Records were written into `records`. */
  wrote (): void {
    this.#queued();
  }

  readonly flush = (): void => {
    this.#pending = false;
    this.#closeRun();
    if (this.#items.length === 0) return;
    const items = this.#items;
    const transfer = this.#transfer;
    this.#items = [];
    this.#transfer = [];
    this.#port.postMessage(items, transfer);
  };

  #queued (): void {
    if (!this.#pending) {
      this.#pending = true;
      this.#startedAt = performance.now();
      queueMicrotask(this.flush);
    } else if (performance.now() - this.#startedAt > this.#maxAgeMs) {
      this.flush();
    }
  }

  /** Ends the run of records written so far, so a control message sent next keeps its place after them. */
  #closeRun (): void {
    if (this.records.length === 0) return;
    const { buffer, length } = this.records.take();
    this.#items.push({ t: 'records', buffer, length });
    this.#transfer.push(buffer);
  }
}
