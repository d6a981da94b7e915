import type { IsolateGate } from './isolate-gate.ts';
import { IsolateInstance } from './isolate-instance.ts';

/** Memory budgets (sizes) the pool keeps a spare for; the least recently used size is dropped past it. */
const kMaxSizes = 4;

/**
 * Spare prepared isolates (context and prelude installed, no function yet), one per recently used
 * memory budget, so a cold start only compiles and binds the function's module. A spare taken is
 * replaced in the background. Spares hold about 1 MB each (doc/js.md).
 */
export class IsolatePool {
  readonly #gate: IsolateGate;
  readonly #spares = new Map<number, Promise<IsolateInstance> | undefined>();
  #closed = false;

  constructor (gate: IsolateGate) {
    this.#gate = gate;
  }

  /** A prepared isolate for a function of this memory budget, from the pool when one is ready. */
  async take (memoryBytes: number): Promise<IsolateInstance> {
    const spare = this.#spares.get(memoryBytes);
    this.#spares.delete(memoryBytes);
    this.#spares.set(memoryBytes, undefined); // most recently used goes last
    this.warm(memoryBytes);
    if (spare !== undefined) {
      const instance = await spare.catch(() => undefined);
      if (instance !== undefined && instance.state === 'prepared') return instance;
    }
    return IsolateInstance.prepare(memoryBytes, this.#gate);
  }

  /** Starts preparing a spare for this memory budget unless one exists. */
  warm (memoryBytes: number): void {
    if (this.#closed || this.#spares.get(memoryBytes) !== undefined) return;
    const spare = IsolateInstance.prepare(memoryBytes, this.#gate);
    spare.catch(() => { if (this.#spares.get(memoryBytes) === spare) this.#spares.set(memoryBytes, undefined); });
    this.#spares.delete(memoryBytes);
    this.#spares.set(memoryBytes, spare);
    while (this.#spares.size > kMaxSizes) {
      const [oldest, dropped] = this.#spares.entries().next().value!;
      this.#spares.delete(oldest);
      void dropped?.then((instance) => instance.close(), () => {});
    }
  }

  /** Disposes every spare; later takes still work but nothing is pooled. */
  close (): void {
    this.#closed = true;
    for (const spare of this.#spares.values()) void spare?.then((instance) => instance.close(), () => {});
    this.#spares.clear();
  }
}
