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
  /** An all-zero memory of the shape. */
  acquire (): WebAssembly.Memory;
  /** Takes a memory back after its invocation ended and its stack is gone. */
  release (memory: WebAssembly.Memory): void;
  /**
   * Keeps a memory as it is (not zeroed), with what `owner` attaches to it (its instance), until
   * `reclaim(owner)` takes it back, or the pool needs the memory: then it is zeroed and the
   * attachment dropped. Dropped at once when the shape's idle list or the byte cap is full.
   */
  retain (memory: WebAssembly.Memory, owner: object, attached: unknown): void;
  /** What `owner` retained with a memory of this shape, if the pool still has it. */
  reclaim (owner: object): unknown;
}

/** An idle memory: all zero, or (retained) as its owner left it, with what the owner attached. */
interface IdleMemory {
  readonly memory: WebAssembly.Memory;
  readonly retained?: { readonly owner: object, readonly attached: unknown };
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
 *
 * Retained memories: a C function whose instance is closed (evicted) leaves its instance, restored to
 * the function's snapshot, on its memory in the idle list, so that if it is called again before the
 * pool needs that memory it gets its instance back (plugins/wasm/function-instances.ts). They count
 * as idle memories of their shape (spares are made only when neither kind is there: making new
 * memories while retained ones sat idle cost the first calls after deploys ~0.5 ms in GC and first
 * touches); another user takes one only zeroed whole, its attachment dropped.
 */
export class MemoryPool {
  readonly #idle = new Map<string, IdleMemory[]>();
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
      retain: (memory, owner, attached) => this.#retain(key, memory, minPages, { owner, attached }),
      reclaim: (owner) => this.#reclaim(key, owner),
    };
  }

  /** Drops every idle memory and stops making spares. */
  clear (): void {
    this.#idle.clear();
    this.#toRefill.clear();
    this.#idleBytes = 0;
  }

  #acquire (key: string, minPages: number, maxPages: number): WebAssembly.Memory {
    const idle = this.#idle.get(key) ?? [];
    // A zeroed one first (the most recent), else the oldest retained one, zeroed.
    let at = idle.findLastIndex((entry) => entry.retained === undefined);
    if (at < 0 && idle.length > 0) at = 0;
    const entry = at < 0 ? undefined : idle.splice(at, 1)[0]!;
    if (minPages * kPageBytes <= this.#maxMemoryBytes) this.#scheduleRefill(key, minPages, maxPages);
    if (entry === undefined) {
      this.#created++;
      return new WebAssembly.Memory({ initial: minPages, maximum: maxPages });
    }
    if (entry.retained !== undefined) new Uint8Array(entry.memory.buffer).fill(0);
    this.#idleBytes -= entry.memory.buffer.byteLength;
    this.#reused++;
    return entry.memory;
  }

  #release (key: string, memory: WebAssembly.Memory, minPages: number): void {
    if (!this.#hasRoom(key, memory, minPages)) return;
    new Uint8Array(memory.buffer).fill(0);
    this.#keep(key, { memory });
  }

  #retain (key: string, memory: WebAssembly.Memory, minPages: number, retained: { owner: object, attached: unknown }): void {
    if (this.#hasRoom(key, memory, minPages)) this.#keep(key, { memory, retained });
  }

  #reclaim (key: string, owner: object): unknown {
    const idle = this.#idle.get(key);
    const at = idle?.findIndex((entry) => entry.retained?.owner === owner) ?? -1;
    if (at < 0) return undefined;
    const entry = idle!.splice(at, 1)[0]!;
    this.#idleBytes -= entry.memory.buffer.byteLength;
    this.#reused++;
    return entry.retained!.attached;
  }

  /** Whether `memory` may join its shape's idle list: its initial size, under the size and idle caps. */
  #hasRoom (key: string, memory: WebAssembly.Memory, minPages: number): boolean {
    const bytes = memory.buffer.byteLength;
    if (bytes !== minPages * kPageBytes || bytes > this.#maxMemoryBytes) return false;
    return (this.#idle.get(key)?.length ?? 0) < this.#perShape && this.#idleBytes + bytes <= this.#maxIdleBytes;
  }

  #keep (key: string, entry: IdleMemory): void {
    const idle = this.#idle.get(key) ?? [];
    idle.push(entry);
    this.#idle.set(key, idle);
    this.#idleBytes += entry.memory.buffer.byteLength;
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
      const bytes = minPages * kPageBytes;
      while ((this.#idle.get(key)?.length ?? 0) < this.#perShape / 2 && this.#idleBytes + bytes <= this.#maxIdleBytes) {
        const memory = new WebAssembly.Memory({ initial: minPages, maximum: maxPages });
        // Writing every page now is what makes it resident: the function that gets it pays nothing.
        new Uint8Array(memory.buffer).fill(0);
        this.#created++;
        this.#keep(key, { memory });
      }
    }
  }
}
