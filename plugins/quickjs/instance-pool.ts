import { QuickJsInstance } from './instance.ts';

/** Memory budgets (sizes) the pool keeps a spare for; the least recently used size is dropped past it. */
const kMaxSizes = 4;
/** Delay before a taken spare is replaced, in ms. */
const kRefillDelayMs = 20;

/**
 * Spare prepared QuickJS instances (build instance, runtime, context, bridge and prelude; no
 * function yet), one per recently used memory budget, so a cold start only evaluates and binds the
 * function's module. A spare taken is replaced {@link kRefillDelayMs} later: preparing one is
 * ~5 ms of work on the engine's thread (measured), which must not land inside the cold start that
 * took the spare (its invocation still has a few event-loop turns to go). An idle spare holds ~0.25 MB of
 * resident memory (16 MiB reserved, untouched; doc/js.md).
 */
export class InstancePool {
  readonly #spares = new Map<number, Promise<QuickJsInstance> | undefined>();
  #closed = false;

  /** A prepared instance for a function of this memory budget, from the pool when one is ready. */
  async take (memoryBytes: number): Promise<QuickJsInstance> {
    const spare = this.#spares.get(memoryBytes);
    this.#spares.delete(memoryBytes);
    this.#spares.set(memoryBytes, undefined); // most recently used goes last
    if (!this.#closed) setTimeout(() => this.warm(memoryBytes), kRefillDelayMs).unref();
    const instance = await spare?.catch(() => undefined);
    return instance ?? QuickJsInstance.prepare(memoryBytes);
  }

  /** Starts preparing a spare for this memory budget unless one exists. */
  warm (memoryBytes: number): void {
    if (this.#closed || this.#spares.get(memoryBytes) !== undefined) return;
    const spare = QuickJsInstance.prepare(memoryBytes);
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
