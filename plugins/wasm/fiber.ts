import type { ErrorRecord } from '../../engine/errors.ts';
import type { Fiber, InvocationContext, Slice, SliceOutcome } from '../../engine/plugin.ts';
import { JspiStack } from '../wasm-common/jspi-stack.ts';
import type { InstanceSource, LiveInstance } from './function-instances.ts';
import { guestExit, type FiberHost } from './host-imports.ts';

/** Fuel handed out per clock check: one unit per loop iteration or call, so ~10–100 µs of work. */
export const kFuelPerCheck = 20_000;

/** The lowest a charge takes the counter (an i32), whatever the host call cost. */
const kMinFuel = -(2 ** 30);

export interface WasmFunction {
  /** Maximum pages: the memory budget. */
  readonly maxPages: number;
  readonly maxOutputBytes: number;
  readonly instances: InstanceSource;
}

/**
 * Where the invocation is: not started; running (its stack runs, is parked or resumed, see
 * JspiStack, or returned inside run() and `stackGone` settles once its promise has); or finished.
 */
type WasmFiberState =
  | { readonly kind: 'new' }
  | { readonly kind: 'running', readonly stackGone: Promise<void> }
  | { readonly kind: 'finished', readonly outcome: SliceOutcome };

const kNew: WasmFiberState = Object.freeze({ kind: 'new' });

/** Raised into a suspended wasm stack to unwind it when the invocation is cancelled. */
class Unwind extends Error {}

/**
 * One invocation of a C/LLVM function: an instance in its initial state (new, or restored from the
 * function's snapshot: function-instances.ts), run with JSPI (JspiStack).
 *
 * The first slice runs inside run(): `promising(__sb_entry)` executes synchronously until the
 * guest finishes (springbok.done) or its fuel check finds the slice over and calls the suspending
 * import. Later slices are 'continue' slices, resumed by run() and bounded by the JSPI stack. A
 * fetch suspends the same way but waits ('wait') for the answer first.
 *
 * Once the invocation has an outcome (done, a trap, cancellation) every host call traps, so no
 * guest code can run on, park a stack or add output after it; the instance goes back (to be restored
 * or dropped) only after its stack is gone.
 */
export class WasmFiber implements Fiber, FiberHost {
  readonly #fn: WasmFunction;
  readonly #input: Uint8Array;
  readonly #context: InvocationContext;
  readonly #stack = new JspiStack<number>();
  #state: WasmFiberState = kNew;
  #instance: LiveInstance | undefined;
  #memoryBytes = 0;
  #memoryRefused = false;
  /** The instance's fuel counter (exported by the instrumentation pass): host calls charge it. */
  #fuelCounter: WebAssembly.Global | undefined;
  /**
   * True while a wasm stack of this invocation exists (running or parked). Its instance goes back
   * only once this is false: a stack that outlived its outcome could otherwise write into the next
   * invocation's memory.
   */
  #stackLive = false;
  readonly #output: Uint8Array[] = [];
  #outputBytes = 0;

  constructor (fn: WasmFunction, input: Uint8Array, context: InvocationContext) {
    this.#fn = fn;
    this.#input = input;
    this.#context = context;
  }

  get memoryBytes (): number { return this.#instance?.memory.buffer.byteLength ?? this.#memoryBytes; }
  get offThreadCpuMs (): number { return this.#stack.offThreadCpuMs; }

  run (slice: Slice): SliceOutcome {
    const state = this.#state;
    if (state.kind === 'finished') return state.outcome;
    if (state.kind === 'new') return this.#start(slice);
    return this.#stack.resume(slice, kFuelPerCheck) ?? { state: 'wait', until: state.stackGone };
  }

  cancel (reason: ErrorRecord): void {
    if (this.#state.kind === 'finished') return;
    this.#state = { kind: 'finished', outcome: { state: 'failed', error: reason } };
    this.#stack.unwind((gate) => gate.reject(new Unwind(reason.message)));
    this.#release();
  }

  #start (slice: Slice): SliceOutcome {
    this.#stack.runInside(slice);
    let entry: (length: number) => Promise<unknown>;
    try {
      this.#instance = this.#fn.instances.acquire(this.#input, this.#context, this);
      entry = this.#instance.entry;
      this.#fuelCounter = this.#instance.fuelCounter;
    } catch (error) {
      return this.#finish({ state: 'failed', error: { code: 'ERR_TRAP', message: `instance could not start: ${(error as Error).message}` } });
    }
    const stackGone = Promise.withResolvers<void>();
    this.#state = { kind: 'running', stackGone: stackGone.promise };
    this.#stackLive = true;
    entry(this.#input.byteLength).then(() => this.#onStackGone(undefined, stackGone), (error: unknown) => this.#onStackGone(error, stackGone));
    const parked = this.#stack.parkedInRun();
    // promising() returned without parking the stack: the wasm code has returned or thrown.
    if (parked === undefined) this.#stackLive = false;
    // The entry call above may have moved the state on (its type narrowing cannot see that).
    const state = this.#state as WasmFiberState;
    if (state.kind === 'finished') {
      this.#release();
      return state.outcome;
    }
    // Neither finished nor parked: it threw, and the rejection arrives as a promise reaction.
    return parked ?? { state: 'wait', until: stackGone.promise };
  }

  // ---- called by the host imports (host-imports.ts) ----

  /**
   * Every host call starts here: traps the guest when its invocation already has an outcome, and
   * lowers the fuel counter by `units` (one per byte a call handles, see host-imports.ts) so that
   * host work brings the next clock check forward as guest work does.
   */
  charge (units: number): void {
    if (this.#state.kind === 'finished') guestExit('ERR_TRAP', 'host call after the invocation ended');
    const counter = this.#fuelCounter;
    if (counter !== undefined) counter.value = Math.max(kMinFuel, (counter.value as number) - units);
  }

  /** springbok.fuel: more fuel while the slice lasts, 0 when it is over. */
  fuel (): number {
    this.charge(0);
    return this.#stack.sliceOver() ? 0 : kFuelPerCheck;
  }

  /** springbok.suspend: parks the stack until run() resumes it. */
  suspend (): Promise<number> {
    this.charge(0);
    return this.#stack.park();
  }

  /** Every waiting host call (sb_fetch, sb_invoke, sb_kv_*): parks the stack until `answer` settles and run() resumes it. */
  suspendForHost (answer: Promise<number>): Promise<number> {
    this.charge(0);
    let status = 0;
    // Writing the answer can fail (a response pointer outside memory): the guest traps when it resumes.
    let failure: Error | undefined;
    const settled = answer.then((value) => { status = value; }, (error: unknown) => { failure = error instanceof Error ? error : new Error('host call failed'); });
    return this.#stack.park(settled).then(() => {
      if (failure !== undefined) throw failure;
      return status;
    });
  }

  /** springbok.memory_refused: believed only if `bytes` more would indeed pass the memory budget. */
  memoryRefused (bytes: number): void {
    this.charge(0);
    if ((this.#instance?.memory.buffer.byteLength ?? 0) + bytes > this.#fn.maxPages * 65536) this.#memoryRefused = true;
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
    if (status === 0) this.#finish({ state: 'done', output: concat(this.#output, this.#outputBytes) });
    else this.#finish({ state: 'failed', error: this.#memoryRefused ? memoryError(this.#fn) : { code: 'ERR_FUNCTION', message: `handler returned ${status}` } });
  }

  // ----

  /** The entry's promise settled: no frame of the instance is left, so it can go back. */
  #onStackGone (error: unknown, stackGone: PromiseWithResolvers<void>): void {
    this.#stackLive = false;
    if (error !== undefined) this.#onThrow(error);
    // __sb_entry always ends with springbok.done; returning without it would leave the invocation hanging.
    else if (this.#state.kind !== 'finished') this.#finish({ state: 'failed', error: { code: 'ERR_TRAP', message: 'the function ended without reporting its status' } });
    this.#release();
    stackGone.resolve();
  }

  #onThrow (error: unknown): void {
    if (this.#state.kind === 'finished') return;
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

  /** The invocation has its outcome: a resumed slice ends with it, and the instance goes back once the stack is gone. */
  #finish (outcome: SliceOutcome): SliceOutcome {
    this.#state = { kind: 'finished', outcome };
    this.#stack.endSlice();
    this.#release();
    return outcome;
  }

  /** Gives the instance back once the invocation has an outcome and its stack is gone. */
  #release (): void {
    const instance = this.#instance;
    if (instance === undefined) return;
    this.#memoryBytes = Math.max(this.#memoryBytes, instance.memory.buffer.byteLength);
    // A stack still running or parked (a cancelled one unwinds later) may write to its memory.
    if (this.#stackLive) return;
    this.#instance = undefined;
    this.#fuelCounter = undefined;
    this.#fn.instances.release(instance);
  }
}

function memoryError (fn: WasmFunction): ErrorRecord {
  return { code: 'ERR_MEMORY_BUDGET', message: `memory budget of ${fn.maxPages * 64} KiB reached: a memory growth was refused and the function then failed` };
}

function concat (chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) { out.set(chunk, offset); offset += chunk.byteLength; }
  return out;
}
