/**
 * Idle linear memories of one function, kept for reuse. Creating a WebAssembly.Memory costs
 * ~20 µs here (it reserves address space: a process can hold only ~13–16k of them), zeroing a
 * small one ~3 µs. A memory is pooled only if it is still small, and is zeroed when it comes back,
 * so the next invocation sees the same all-zero memory a new one would have; the new instance then
 * writes its data segments into it as usual.
 */
export class MemoryPool {
  readonly #minPages: number;
  readonly #maxPages: number;
  readonly #idle: WebAssembly.Memory[] = [];
  readonly #capacity: number;
  readonly #maxPooledBytes: number;

  constructor (minPages: number, maxPages: number, capacity = 8, maxPooledBytes = 1 * 2 ** 20) {
    this.#minPages = minPages;
    this.#maxPages = maxPages;
    this.#capacity = capacity;
    this.#maxPooledBytes = maxPooledBytes;
  }

  acquire (): WebAssembly.Memory {
    return this.#idle.pop() ?? new WebAssembly.Memory({ initial: this.#minPages, maximum: this.#maxPages });
  }

  /** Takes a memory back after its invocation ended; a grown one is dropped (it cannot shrink). */
  release (memory: WebAssembly.Memory): void {
    const bytes = memory.buffer.byteLength;
    if (this.#idle.length >= this.#capacity || bytes > this.#maxPooledBytes || bytes !== this.#minPages * 65536) return;
    new Uint8Array(memory.buffer).fill(0);
    this.#idle.push(memory);
  }

  /** Lets every idle memory go (the function version is retired). */
  clear (): void {
    this.#idle.length = 0;
  }
}
