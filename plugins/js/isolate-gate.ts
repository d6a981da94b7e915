import { availableParallelism } from 'node:os';

/**
 * Bounds how many isolates run guest code at once. Isolates run on isolated-vm's threads, not on
 * the engine's thread; without a bound, as many busy isolates as there are functions would compete
 * with the engine's own thread for the cores. Entries wait their turn in arrival order.
 */
export class IsolateGate {
  readonly #slots: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  /** @param slots isolates allowed to run at once; default: the machine's cores. */
  constructor (slots: number = availableParallelism()) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`isolate slots must be a positive integer: got ${slots}`);
    this.#slots = slots;
  }

  /** Entries running now. */
  get running (): number { return this.#running; }

  /** Runs `task` once a slot is free; the slot is held until its promise settles. */
  async run<T> (task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#slots) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#running++;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, so the count never dips and lets a newcomer jump the queue.
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#running--;
    }
  }
}
