import { performance } from 'node:perf_hooks';
import type { ErrorRecord } from '../../engine/errors.ts';
import { kYield, type Fiber, type InvocationContext, type Slice, type SliceOutcome } from '../../engine/plugin.ts';
import { guestExit, hostImports } from './host-imports.ts';
import { kRuntimeFuelExport } from '../wasm-common/instrument.ts';
import type { MemoryPool } from './memory-pool.ts';

/** Fuel handed out per clock check: one unit per loop iteration or call, so ~10–100 µs of work. */
export const kFuelPerCheck = 20_000;

/** The lowest a charge takes the counter (an i32), whatever the host call cost. */
const kMinFuel = -(2 ** 30);

export interface WasmFunction {
  readonly module: WebAssembly.Module;
  readonly minPages: number;
  /** Maximum pages: the memory budget. */
  readonly maxPages: number;
  readonly maxOutputBytes: number;
  readonly memories: MemoryPool;
}

type FiberState = 'new' | 'suspended' | 'resumed' | 'finished' | 'cancelled';

/** Raised into a suspended wasm stack to unwind it when the invocation is cancelled. */
class Unwind extends Error {}

/**
 * One invocation of a C/LLVM function: a fresh instance and memory, run with JSPI.
 *
 * The first slice runs inside run(): `promising(__sb_entry)` executes synchronously until the
 * guest finishes (springbok.done) or its fuel check finds the slice over and calls the suspending
 * import. A suspended stack can only be resumed by a promise reaction, which runs after run()
 * returns, so later slices are 'continue' slices: run() opens the gate and the scheduler ends its
 * turn; the resumed slice measures its own time (offThreadCpuMs) and ends itself at the deadline
 * the scheduler gave run(). A fetch suspends the same way but waits ('wait') for the answer first.
 *
 * Once the invocation has an outcome (done, a trap, cancellation) every host call traps, so no
 * guest code can run on, park a stack or add output after it; the instance is discarded and its
 * memory is pooled (zeroed) only after its stack is gone.
 */
export class WasmFiber implements Fiber {
  readonly #fn: WasmFunction;
  readonly #input: Uint8Array;
  readonly #context: InvocationContext;
  #state: FiberState = 'new';
  #memory: WebAssembly.Memory | undefined;
  #memoryBytes = 0;
  #sliceEndsAt = 0;
  #sliceMs = 0;
  #resumedAt = 0;
  #offThreadCpuMs = 0;
  /** Resolves the promise the suspended stack waits on (with the value the import returns); rejects to unwind it. */
  #gate: { resolve: (value: number) => void, reject: (error: Error) => void } | undefined;
  /** While suspended on a fetch: settles when the answer (or refusal) is in and written to the guest. */
  #fetchSettled: Promise<unknown> | undefined;
  /** Settles when a resumed slice ends (suspended again, finished or trapped). */
  #sliceEnded: { promise: Promise<void>, resolve: () => void } | undefined;
  #outcome: SliceOutcome | undefined;
  #memoryRefused = false;
  /** The instance's fuel counter (exported by the instrumentation pass): host calls charge it. */
  #fuelCounter: WebAssembly.Global | undefined;
  /**
   * True while a wasm stack of this invocation exists (running or parked). Its memory goes back to
   * the pool only once this is false: a stack that outlived its outcome could otherwise write
   * into the next invocation's memory.
   */
  #stackLive = false;
  readonly #output: Uint8Array[] = [];
  #outputBytes = 0;

  constructor (fn: WasmFunction, input: Uint8Array, context: InvocationContext) {
    this.#fn = fn;
    this.#input = input;
    this.#context = context;
  }

  get memoryBytes (): number { return this.#memory?.buffer.byteLength ?? this.#memoryBytes; }
  get offThreadCpuMs (): number { return this.#offThreadCpuMs; }

  run (slice: Slice): SliceOutcome {
    if (this.#outcome !== undefined) return this.#outcome;
    if (this.#state === 'new') return this.#start(slice);
    if (this.#state === 'suspended') {
      if (this.#fetchSettled !== undefined) return { state: 'wait', until: this.#fetchSettled };
      this.#sliceMs = slice.endsAt - performance.now();
      this.#state = 'resumed';
      this.#sliceEnded = deferred();
      this.#gate!.resolve(kFuelPerCheck);
      this.#gate = undefined;
      return { state: 'continue', until: this.#sliceEnded.promise };
    }
    // 'resumed': the scheduler woke us before the slice ended; it cannot (it waits on #sliceEnded).
    return { state: 'continue', until: this.#sliceEnded!.promise };
  }

  cancel (reason: ErrorRecord): void {
    if (this.#state === 'cancelled' || this.#state === 'finished') return;
    this.#state = 'cancelled';
    this.#outcome = { state: 'failed', error: reason };
    this.#gate?.reject(new Unwind(reason.message));
    this.#gate = undefined;
    this.#release();
  }

  #start (slice: Slice): SliceOutcome {
    this.#sliceEndsAt = slice.endsAt;
    this.#state = 'resumed'; // running: a suspension from here on parks the stack
    let entry: (length: number) => Promise<unknown>;
    try {
      this.#memory = this.#fn.memories.acquire();
      const instance = new WebAssembly.Instance(this.#fn.module, hostImports(this.#memory, this.#input, this.#context, this.#fn.maxOutputBytes, this));
      entry = WebAssembly.promising(instance.exports.__sb_entry as (length: number) => void);
      this.#fuelCounter = instance.exports[kRuntimeFuelExport] as WebAssembly.Global | undefined;
    } catch (error) {
      return this.#finish({ state: 'failed', error: { code: 'ERR_TRAP', message: `instance could not start: ${(error as Error).message}` } });
    }
    const slowPathBegun = this.#sliceEnded = deferred();
    this.#stackLive = true;
    entry(this.#input.byteLength).then(() => this.#onStackGone(undefined), (error: unknown) => this.#onStackGone(error));
    // The entry call above may have moved the state on (its type narrowing cannot see that).
    if ((this.#state as FiberState) !== 'suspended') {
      // promising() returned without parking the stack: the wasm code has returned or thrown.
      this.#stackLive = false;
      if (this.#outcome !== undefined) this.#release();
    }
    if (this.#outcome !== undefined) return this.#outcome;
    if ((this.#state as FiberState) === 'suspended') {
      if (this.#fetchSettled !== undefined) return { state: 'wait', until: this.#fetchSettled };
      return kYield;
    }
    // Neither finished nor suspended: it threw, and the rejection arrives as a promise reaction.
    return { state: 'wait', until: slowPathBegun.promise };
  }

  // ---- called by the host imports (host-imports.ts) ----

  /**
   * Every host call starts here: traps the guest when its invocation already has an outcome, and
   * lowers the fuel counter by `units` (one per byte a call handles, see host-imports.ts) so that
   * host work brings the next clock check forward as guest work does.
   */
  charge (units: number): void {
    if (this.#state === 'finished' || this.#state === 'cancelled') guestExit('ERR_TRAP', 'host call after the invocation ended');
    const counter = this.#fuelCounter;
    if (counter !== undefined) counter.value = Math.max(kMinFuel, (counter.value as number) - units);
  }

  /** springbok.fuel: more fuel while the slice lasts, 0 when it is over. */
  fuel (): number {
    this.charge(0);
    return performance.now() < this.#sliceEndsAt ? kFuelPerCheck : 0;
  }

  /** springbok.suspend: parks the stack until run() opens the gate. */
  suspend (): Promise<number> {
    this.charge(0);
    this.#endSlice();
    if (this.#state === 'cancelled') return Promise.reject(new Unwind('cancelled'));
    this.#state = 'suspended';
    return this.#parkedUntilResumed();
  }

  /** springbok.fetch: parks the stack until `answer` settles and run() resumes it. */
  suspendForFetch (answer: Promise<number>): Promise<number> {
    this.charge(0);
    this.#endSlice();
    if (this.#state === 'cancelled') return Promise.reject(new Unwind('cancelled'));
    this.#state = 'suspended';
    let status = 0;
    // Writing the answer can fail (a response pointer outside memory): the guest traps when it resumes.
    // #fetchSettled itself never rejects: the scheduler would wake the fiber on it again and again.
    let failure: unknown;
    this.#fetchSettled = answer.then(
      (value) => { status = value; this.#fetchSettled = undefined; },
      (error: unknown) => { failure = error ?? new Error('fetch failed'); this.#fetchSettled = undefined; },
    );
    return this.#parkedUntilResumed().then(() => {
      if (failure !== undefined) throw failure;
      return status;
    });
  }

  /** springbok.memory_refused: believed only if `bytes` more would indeed pass the memory budget. */
  memoryRefused (bytes: number): void {
    this.charge(0);
    if ((this.#memory?.buffer.byteLength ?? 0) + bytes > this.#fn.maxPages * 65536) this.#memoryRefused = true;
  }

  /** Appends a copy of `bytes` (a view of guest memory) to the output, or false past the limit (nothing copied). */
  output (bytes: Uint8Array): boolean {
    if (this.#outputBytes + bytes.byteLength > this.#fn.maxOutputBytes) return false;
    this.#output.push(bytes.slice());
    this.#outputBytes += bytes.byteLength;
    return true;
  }

  /** springbok.done: the handler returned. */
  done (status: number): void {
    this.charge(0);
    this.#endSlice();
    if (status === 0) this.#finish({ state: 'done', output: concat(this.#output, this.#outputBytes) });
    else this.#finish({ state: 'failed', error: this.#memoryRefused ? memoryError(this.#fn) : { code: 'ERR_FUNCTION', message: `handler returned ${status}` } });
  }

  // ----

  #parkedUntilResumed (): Promise<number> {
    return new Promise<number>((resolve, reject) => { this.#gate = { resolve, reject }; }).then((fuel) => {
      // Runs as the stack resumes: the slice starts now and lasts what run() was given.
      this.#resumedAt = performance.now();
      this.#sliceEndsAt = this.#resumedAt + this.#sliceMs;
      return fuel;
    });
  }

  /** Closes a resumed slice's books: its time is CPU the scheduler did not see. */
  #endSlice (): void {
    if (this.#state === 'resumed' && this.#resumedAt > 0) {
      this.#offThreadCpuMs += performance.now() - this.#resumedAt;
      this.#resumedAt = 0;
    }
    const ended = this.#sliceEnded;
    this.#sliceEnded = undefined;
    ended?.resolve();
  }

  /** The entry's promise settled: no frame of the instance is left, so its memory can go back. */
  #onStackGone (error: unknown): void {
    this.#stackLive = false;
    if (error !== undefined) this.#onThrow(error);
    // __sb_entry always ends with springbok.done; returning without it would leave the invocation hanging.
    else if (this.#outcome === undefined) this.#finish({ state: 'failed', error: { code: 'ERR_TRAP', message: 'the function ended without reporting its status' } });
    this.#release();
  }

  #onThrow (error: unknown): void {
    if (this.#state === 'cancelled' || this.#outcome !== undefined) return;
    this.#endSlice();
    const exit = error as { springbokExit?: ErrorRecord };
    if (exit?.springbokExit !== undefined) {
      const record = exit.springbokExit;
      if (record.code === 'ERR_FUNCTION' && record.message === 'exit(0)') this.#finish({ state: 'done', output: concat(this.#output, this.#outputBytes) });
      else this.#finish({ state: 'failed', error: this.#memoryRefused && record.code === 'ERR_FUNCTION' ? memoryError(this.#fn) : record });
      return;
    }
    const message = error instanceof RangeError ? 'stack overflow (call stack exhausted)' : error instanceof Error ? error.message : String(error);
    this.#finish({ state: 'failed', error: this.#memoryRefused ? memoryError(this.#fn) : { code: 'ERR_TRAP', message: `wasm trap: ${message}` } });
  }

  #finish (outcome: SliceOutcome): SliceOutcome {
    this.#outcome = outcome;
    this.#state = 'finished';
    this.#release();
    return outcome;
  }

  /** Gives the memory back to the pool once the invocation has an outcome and its stack is gone. */
  #release (): void {
    const memory = this.#memory;
    if (memory === undefined) return;
    this.#memoryBytes = Math.max(this.#memoryBytes, memory.buffer.byteLength);
    // A stack still running or parked (a cancelled one unwinds later) may write to its memory.
    if (this.#stackLive) return;
    this.#memory = undefined;
    this.#fn.memories.release(memory);
  }
}

function memoryError (fn: WasmFunction): ErrorRecord {
  return { code: 'ERR_MEMORY_BUDGET', message: `memory budget of ${fn.maxPages * 64} KiB reached: a memory growth was refused and the function then failed` };
}

function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

function concat (chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) { out.set(chunk, offset); offset += chunk.byteLength; }
  return out;
}
