/** Memory budgets (sizes) a pool keeps a spare for; the least recently used size is dropped past it. */
const kMaxSizes = 4;

/**
 * How long after a take its spare is replaced, in ms. Preparing runs on the engine's thread (a
 * QuickJS instance ~5 ms, a Lua state, the ~2 ms of making a V8 isolate, whose context then
 * competes for the cores), so it must not land inside the cold start that took the spare: that
 * start's first invocation still has a few event-loop turns to go. At once, a js cold start's load
 * went from ~1 to 4-11 ms.
 */
const kRefillDelayMs = 20;

export interface SparePoolOptions<T> {
  /** Makes a prepared instance for a function of this memory budget (no function bound yet). */
  readonly prepare: (memoryBytes: number) => Promise<T>;
  /** Whether a spare may still be handed out (a spare can be disposed while it waits). */
  readonly isUsable?: (instance: T) => boolean;
}

/**
 * Spare prepared instances (V8 isolates, QuickJS instances, Lua states), one per recently used
 * memory budget, so a cold start only binds the function to one. A spare taken is replaced in the
 * background, shortly after (kRefillDelayMs); a failed preparation leaves no spare (the next take prepares one). An instance
 * handed out is never taken back: each serves one function version, then is closed.
 */
export class SparePool<T extends { close (): unknown }> {
  readonly #options: SparePoolOptions<T>;
  readonly #spares = new Map<number, Promise<T> | undefined>();
  #closed = false;

  constructor (options: SparePoolOptions<T>) {
    this.#options = options;
  }

  /** A prepared instance for a function of this memory budget, from the pool when one is ready. */
  async take (memoryBytes: number): Promise<T> {
    const spare = this.#spares.get(memoryBytes);
    this.#spares.delete(memoryBytes);
    this.#spares.set(memoryBytes, undefined); // most recently used goes last
    setTimeout(() => this.warm(memoryBytes), kRefillDelayMs).unref();
    const instance = await spare?.catch(() => undefined);
    if (instance !== undefined && (this.#options.isUsable?.(instance) ?? true)) return instance;
    return this.#options.prepare(memoryBytes);
  }

  /** Starts preparing a spare for this memory budget unless one exists. */
  warm (memoryBytes: number): void {
    if (this.#closed || this.#spares.get(memoryBytes) !== undefined) return;
    const spare = this.#options.prepare(memoryBytes);
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
