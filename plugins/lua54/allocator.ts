import type { WasmLua } from './wasm-lua.ts';

/**
 * The Lua state's allocator (lua_Alloc), counting every byte Lua asks for and refusing growth
 * past `limitBytes`: Lua then runs a full collection and asks again, and if that is refused too,
 * raises its own "not enough memory" error. The second refusal of the same request is what
 * marks the budget as exceeded (a first one may be cured by the collection).
 */
/** About a millisecond of copying here: at most this many bytes are made between two clock checks. */
const kHeavyBytes = 4 * 2 ** 20;

export class LimitedAllocator {
  usedBytes = 0;
  limitBytes = Number.POSITIVE_INFINITY;
  /** Highest usedBytes since {@link LimitedAllocator.markPeak}. */
  peakBytes = 0;
  /** Set when Lua could not get memory even after a full collection; cleared by whoever reports it. */
  exhausted = false;
  /** The size of the request that exhausted it. */
  exhaustedRequestBytes = 0;
  /** Requests refused since {@link LimitedAllocator.markPeak}. */
  refusals = 0;
  readonly pointer: number;
  /**
   * Bytes allocated since the count hook last ran. Work that copies bytes (`..`, `string.rep`) costs
   * per byte but counts as one instruction, so past kHeavyBytes `onHeavyWork` is called to bring the
   * hook (and its clock check) forward to the next instruction.
   */
  bytesSinceHook = 0;
  onHeavyWork: (() => void) | undefined;
  #lastRefusal = '';

  constructor (lua: WasmLua) {
    const m = lua.m;
    this.pointer = m.addFunction((_ud: number, block: number, oldSize: number, newSize: number): number => {
      if (newSize === 0) {
        if (block !== 0) {
          this.usedBytes -= oldSize;
          m._free(block);
        }
        return 0;
      }
      const delta = block !== 0 ? newSize - oldSize : newSize;
      if (delta > 0 && this.usedBytes + delta > this.limitBytes) {
        const request = `${block}:${oldSize}:${newSize}`;
        if (request === this.#lastRefusal) {
          this.exhausted = true;
          this.exhaustedRequestBytes = newSize;
        }
        this.#lastRefusal = request;
        this.refusals++;
        return 0;
      }
      const result = m._realloc(block, newSize);
      if (result !== 0) {
        if (delta > 0) {
          this.bytesSinceHook += delta;
          if (this.bytesSinceHook >= kHeavyBytes) {
            this.bytesSinceHook = 0;
            this.onHeavyWork?.();
          }
        }
        this.usedBytes += delta;
        if (this.usedBytes > this.peakBytes) this.peakBytes = this.usedBytes;
      }
      return result;
    }, 'iiiii');
  }

  /** Starts a new high-water mark at the current use. */
  markPeak (): void {
    this.peakBytes = this.usedBytes;
    this.refusals = 0;
  }
}
