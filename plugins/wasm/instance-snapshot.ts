import type { InvocationContext } from '../../engine/plugin.ts';
import { kMutableGlobalExportPrefix, kRuntimeFuelExport } from '../wasm-common/instrument.ts';
import { guestExit, hostImports, type FiberHost } from './host-imports.ts';

/** What a C/LLVM instance holds that its code can change: its memory and its mutable globals. */
export interface InstanceState {
  readonly memory: WebAssembly.Memory;
  /** The instance's mutable globals, in the snapshot's order (globalsOf). */
  readonly globals: readonly WebAssembly.Global[];
}

/**
 * A C/LLVM function version's state right after instantiation, before any of its code ran: the
 * memory its data segments wrote and the initial values of its mutable globals (the C stack
 * pointer, the fuel counter). Taken once per compiled module on a thread, at compile time, from an
 * instance made for it alone; an instance that ran an invocation is put back to exactly this state
 * (restore), so it can serve the next invocation as if it were new.
 *
 * Constructors are not part of it: wasm-ld's entry wrapper runs them at the start of every
 * invocation, inside its budget (they may call host functions or loop), as on a new instance.
 *
 * What else an instance holds cannot change: the module has no start function, its table cannot
 * be written (plugins/wasm-common/instrument.ts refuses table.set and the bulk table instructions),
 * and its memory cannot shrink, so one that grew is never restored.
 */
export class InstanceSnapshot {
  /** Where the non-zero bytes start; everything outside [offset, offset + image.length) is zero. */
  readonly #offset: number;
  readonly #image: Uint8Array;
  readonly #globalNames: readonly string[];
  readonly #globalValues: readonly unknown[];
  readonly #bytes: number;

  private constructor (bytes: number, offset: number, image: Uint8Array, globalNames: readonly string[], globalValues: readonly unknown[]) {
    this.#bytes = bytes;
    this.#offset = offset;
    this.#image = image;
    this.#globalNames = globalNames;
    this.#globalValues = globalValues;
  }

  /** Instantiates `module` on the thread's scratch memory, with host functions that trap, and keeps what instantiation wrote. */
  static take (module: WebAssembly.Module, minPages: number): InstanceSnapshot {
    const memory = scratchMemory(minPages);
    const { imports } = hostImports(memory, kNoInput, kNoContext, 0, kNoFiber);
    const exports = new WebAssembly.Instance(module, imports).exports;
    const globalNames = WebAssembly.Module.exports(module)
      .filter(({ name, kind }) => kind === 'global' && (name === kRuntimeFuelExport || name.startsWith(kMutableGlobalExportPrefix)))
      .map(({ name }) => name);
    const globalValues = globalNames.map((name) => (exports[name] as WebAssembly.Global).value);
    const bytes = new Uint8Array(memory.buffer);
    const { start, end } = nonZeroSpan(bytes);
    const image = bytes.slice(start, end);
    bytes.fill(0, start, end);
    // The scratch memory may be larger than the module's: data past its own initial memory would not fit in its instances.
    if (end > minPages * kPageBytes) throw new Error(`its data reaches byte ${end}, past its initial memory of ${minPages * kPageBytes} bytes`);
    return new InstanceSnapshot(minPages * kPageBytes, start, image, globalNames, globalValues);
  }

  /** `exports`' mutable globals, in the order restore() sets them. */
  globalsOf (exports: WebAssembly.Exports): WebAssembly.Global[] {
    return this.#globalNames.map((name) => exports[name] as WebAssembly.Global);
  }

  /**
   * Puts an instance back to the snapshot's state: memory zeroed, the image written, globals set.
   * False, and nothing done, when its memory grew (it cannot shrink back): the instance is dropped.
   */
  restore (state: InstanceState): boolean {
    if (state.memory.buffer.byteLength !== this.#bytes) return false;
    const bytes = new Uint8Array(state.memory.buffer);
    // Zero only around the image: it covers the rest.
    bytes.fill(0, 0, this.#offset);
    bytes.set(this.#image, this.#offset);
    bytes.fill(0, this.#offset + this.#image.byteLength);
    for (let i = 0; i < state.globals.length; i++) state.globals[i]!.value = this.#globalValues[i];
    return true;
  }
}

const kPageBytes = 65536;
/** The largest memory the scratch memory grows to; a module that starts bigger gets a memory of its own. */
const kMaxScratchPages = 32;
let scratch: WebAssembly.Memory | undefined;

/**
 * An all-zero memory of at least `pages` for taking a snapshot in. One per thread, zeroed again after
 * each use: a new memory per compiled module (each reserving gigabytes of address space, released by
 * the garbage collector) made the first calls after deploys measurably slower.
 */
function scratchMemory (pages: number): WebAssembly.Memory {
  if (pages > kMaxScratchPages) return new WebAssembly.Memory({ initial: pages });
  scratch ??= new WebAssembly.Memory({ initial: pages });
  const missing = pages - scratch.buffer.byteLength / kPageBytes;
  if (missing > 0) scratch.grow(missing);
  return scratch;
}

/** The smallest range outside which `bytes` is all zero (empty when all of it is). */
function nonZeroSpan (bytes: Uint8Array): { start: number, end: number } {
  // Whole pages are compared eight bytes at a time: the span is found in a few µs, not a byte loop's 100.
  const words = new BigUint64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  let first = 0;
  while (first < words.length && words[first] === 0n) first++;
  if (first === words.length) return { start: 0, end: 0 };
  let last = words.length - 1;
  while (words[last] === 0n) last--;
  return { start: first * 8, end: (last + 1) * 8 };
}

/** An instance between invocations serves none: a host call from it would be a bug, so it traps. */
const outside = (): never => guestExit('ERR_TRAP', 'host call outside any invocation');
/** Every host function starts with a fiber call, so the context is never reached; any use of it traps too. */
export const kNoFiber: FiberHost = { charge: outside, fuel: outside, suspend: outside, suspendForHost: outside, memoryRefused: outside, output: outside, done: outside };
export const kNoContext = new Proxy({}, { get: outside }) as InvocationContext;
export const kNoInput = new Uint8Array(0);
