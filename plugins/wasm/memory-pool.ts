export interface MemoryPoolOptions {
  /** Idle memories kept per shape, spares included. */
  readonly perShape?: number;
  /** Idle bytes the whole pool keeps at most. */
  readonly maxIdleBytes?: number;
  /** The largest memory kept; bigger ones are dropped when they come back. */
  readonly maxMemoryBytes?: number;
}

/** A function's handle on the pool: memories of its shape. */
export interface MemorySource {
  acquire (): WebAssembly.Memory;
  /** Takes a memory back after its invocation ended and its stack is gone. */
  release (memory: WebAssembly.Memory): void;
}

const kPageBytes = 65536;

/**
 * Idle linear memories, zeroed and already touched, shared by every function of one plugin instance
 * (one scheduler thread), by shape: the initial and maximum page counts a WebAssembly.Memory is
 * created with (the maximum is the memory budget, fixed at creation).
 *
 * A cold start is dominated by first touches: on this kind of VM each 4 KiB page a fresh memory
 * touches costs ~10 µs, so a new function's first 128 KiB cost ~0.3-0.5 ms before any of its code
 * ran, while instantiating the module on a touched memory takes ~1 µs. So memories are never handed
 * out fresh when it can be helped: one that comes back is zeroed (~3 µs for 128 KiB, its pages stay
 * resident) and kept, and a shape that was taken from keeps a few spares made ahead of need, off the
 * invocation's path.
 *
 * Isolation: a memory is zeroed whole before it goes back to the idle list, so the next user sees
 * exactly what a new memory holds (all zero, the initial size); one that grew is dropped (it cannot
 * shrink), as is everything past the byte cap.
 */
export class MemoryPool {
  readonly #idle = new Map<string, WebAssembly.Memory[]>();
  readonly #perShape: number;
  readonly #maxIdleBytes: number;
  readonly #maxMemoryBytes: number;
  #idleBytes = 0;
  /** Shapes waiting for spares to be made. */
  readonly #toRefill = new Map<string, { readonly minPages: number, readonly maxPages: number }>();
  #refillScheduled = false;
  #reused = 0;
  #created = 0;

  constructor (options: MemoryPoolOptions = {}) {
    this.#perShape = options.perShape ?? 4;
    this.#maxIdleBytes = options.maxIdleBytes ?? 8 * 2 ** 20;
    this.#maxMemoryBytes = options.maxMemoryBytes ?? 2 ** 20;
  }

  /** Memories taken from the idle list and made new, since the start (for tests and experiments). */
  get counts (): { readonly reused: number, readonly created: number, readonly idleBytes: number } {
    return { reused: this.#reused, created: this.#created, idleBytes: this.#idleBytes };
  }

  /** The pool seen by a function whose memories start at `minPages` and may grow to `maxPages`. */
  shape (minPages: number, maxPages: number): MemorySource {
    const key = `${minPages}:${maxPages}`;
    return {
      acquire: () => this.#acquire(key, minPages, maxPages),
      release: (memory) => this.#release(key, memory, minPages),
    };
  }

  /** Drops every idle memory and stops making spares. */
  clear (): void {
    this.#idle.clear();
    this.#toRefill.clear();
    this.#idleBytes = 0;
  }

  #acquire (key: string, minPages: number, maxPages: number): WebAssembly.Memory {
    const memory = this.#idle.get(key)?.pop();
    if (minPages * kPageBytes <= this.#maxMemoryBytes) this.#scheduleRefill(key, minPages, maxPages);
    if (memory === undefined) {
      this.#created++;
      return new WebAssembly.Memory({ initial: minPages, maximum: maxPages });
    }
    this.#idleBytes -= memory.buffer.byteLength;
    this.#reused++;
    return memory;
  }

  #release (key: string, memory: WebAssembly.Memory, minPages: number): void {
    const bytes = memory.buffer.byteLength;
    if (bytes !== minPages * kPageBytes || bytes > this.#maxMemoryBytes) return;
    const idle = this.#idle.get(key) ?? [];
    if (idle.length >= this.#perShape || this.#idleBytes + bytes > this.#maxIdleBytes) return;
    new Uint8Array(memory.buffer).fill(0);
    this.#keep(key, idle, memory);
  }

  #keep (key: string, idle: WebAssembly.Memory[], memory: WebAssembly.Memory): void {
    idle.push(memory);
    this.#idle.set(key, idle);
    this.#idleBytes += memory.buffer.byteLength;
  }

  #scheduleRefill (key: string, minPages: number, maxPages: number): void {
    if ((this.#idle.get(key)?.length ?? 0) >= this.#perShape / 2) return;
    this.#toRefill.set(key, { minPages, maxPages });
    if (this.#refillScheduled) return;
    this.#refillScheduled = true;
    // After the current task: the invocation that took a memory runs first.
    setImmediate(() => this.#refill());
  }

  /** Makes spares up to half of perShape for every shape that asked, within the byte cap. */
  #refill (): void {
    this.#refillScheduled = false;
    for (const [key, { minPages, maxPages }] of this.#toRefill) {
      this.#toRefill.delete(key);
      const idle = this.#idle.get(key) ?? [];
      const bytes = minPages * kPageBytes;
      while (idle.length < this.#perShape / 2 && this.#idleBytes + bytes <= this.#maxIdleBytes) {
        const memory = new WebAssembly.Memory({ initial: minPages, maximum: maxPages });
        // Writing every page now is what makes it resident: the function that gets it pays nothing.
        new Uint8Array(memory.buffer).fill(0);
        this.#created++;
        this.#keep(key, idle, memory);
      }
    }
  }
}
