import { cpuBudgetError } from '../../engine/budget-errors.ts';
import ivm from 'isolated-vm';
import type { ErrorRecord } from '../../engine/errors.ts';
import { guestPreludeSource, type PreludeLimits } from '../js-common/guest-prelude.ts';
import { clip } from '../js-common/host-values.ts';
import { hostDigest } from '../js-common/web-crypto.ts';
import { hostRandomBytes, webGlobalsGroupSource } from '../js-common/web-globals.ts';
import { hostUrl } from '../js-common/web-url.ts';
import type { IsolateGate } from './isolate-gate.ts';

/** What an invocation hears from the guest while its entries run (the prelude's host functions). */
export interface InvocationHooks {
  log (line: string): void;
  /** An asynchronous host call (js-common/host-calls.ts). */
  call (callId: number, op: unknown, a: unknown, b: unknown, c: unknown, d: unknown): void;
  /** `response`: a Workers-format function's status and headers, as the prelude encodes them (guest-prelude.ts). */
  settled (ok: boolean, payload: unknown, response: unknown): void;
  /** Sets a timer (delayMs -1: cancels it); false when the invocation has too many. */
  timer (timerId: unknown, delayMs: unknown): boolean;
}

/**
 * One finished entry into the isolate. `started` is false when the isolate was already dead when
 * the entry's turn came: no guest code ran, so the caller may try again on a new isolate.
 */
export type EntryResult =
  | { readonly ok: true, readonly value: unknown, readonly cpuMs: number, readonly started: true }
  | { readonly ok: false, readonly error: ErrorRecord, readonly cpuMs: number, readonly started: boolean };

/** What one entry may use before the watchdog ends the isolate under it. */
export interface EntryBounds {
  /** CPU the entry may use, in ms (isolated-vm's own timeout is the same figure). */
  readonly cpuMs: number;
  /** Wall-clock time the entry may take once it has its gate slot, in ms. */
  readonly wallMs: number;
}

/** Isolate states: prepared (context and prelude, no function yet; pooled) → loaded → dead. */
export type InstanceState = 'prepared' | 'loaded' | 'dead';

/** isolated-vm's minimum memoryLimit, in MiB. */
export const kMinMemoryLimitMb = 8;
const kTimeoutMessage = 'Script execution timed out.';
/** How often the watchdog looks at a running entry, in ms. Reading `isolate.cpuTime` takes a timer mutex, never the isolate's lock. */
const kWatchdogTickMs = 10;
/**
 * CPU an entry may use past its bound before the watchdog disposes the isolate, in ms. isolated-vm's
 * timeout normally stops the guest at the bound; the watchdog is for what that timeout does not
 * cover: tasks the isolate runs outside the timed call (finalization callbacks, the microtask
 * checkpoint after it) and builtins that do not look at the timeout.
 */
const kWatchdogCpuSlackMs = 50;
/** A call still running this long after its isolate was disposed means the isolate's thread is lost, in ms. */
const kLostAfterKillMs = 1000;
/** Bytes each Map/Set entry is allowed for, when the prelude caps collections (see PreludeLimits.maxCollectionEntries). */
const kBytesPerCollectionEntry = 128;
/** ICU memory assumed per live Intl object, in bytes (a DateTimeFormat measured ~28 KiB outside the heap). */
const kBytesPerIntlObject = 32 * 1024;

export class IsolateInstance {
  readonly memoryBytes: number;
  state: InstanceState = 'prepared';
  /** True once loaded with a Workers-format module: its invocations take their input as bytes. */
  worker = false;
  readonly #isolate: ivm.Isolate;
  readonly #context: ivm.Context;
  readonly #gate: IsolateGate;
  readonly #hooks = new Map<number, InvocationHooks>();
  #api: { start: ivm.Reference, deliver: ivm.Reference, forget: ivm.Reference, bind: ivm.Reference } | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #death: ErrorRecord | undefined;
  #onDeath: ((error: ErrorRecord) => void)[] = [];
  #peakHeapBytes = 0;
  /** Ends the wait of the entry running now (entries run one at a time). */
  #wakeEntry: (() => void) | undefined;
  /** The invocation whose entry is running (0: none). */
  #entryInvocation = 0;
  /** isolate.cpuTime when the running entry started, in ns (undefined: no entry running). */
  #entryStartNs: bigint | undefined;
  /** Time the running entry spent in host calls that work on this thread (URL parsing, digests), in ms: isolate.cpuTime does not see it. */
  #entryHostMs = 0;
  /** The last isolate.cpuTime read, in ns: what is known of the CPU once the isolate is disposed. */
  #lastCpuNs = 0n;
  /** Set once a catastrophic error was reported: V8 left the isolate's thread stuck for good. */
  #catastrophic = false;
  /** True while an entry's call into the isolate has not settled (it may outlive a kill). */
  #workPending = false;
  /** When kill() ran, by performance.now(), in ms. */
  #killedAt = 0;

  private constructor (memoryBytes: number, isolate: ivm.Isolate, context: ivm.Context, gate: IsolateGate) {
    this.memoryBytes = memoryBytes;
    this.#isolate = isolate;
    this.#context = context;
    this.#gate = gate;
  }

  /**
   * Makes an isolate with its context and prelude, ready for {@link IsolateInstance.load}: the part
   * of a cold start that does not depend on the function, so a pool can do it ahead of time.
   * @param memoryBytes the function's memory budget; isolated-vm's limit is that in MiB (at least 8).
   * @param maxOutputBytes largest output the engine takes, in bytes; the guest refuses a larger one before copying it out.
   */
  static async prepare (memoryBytes: number, gate: IsolateGate, maxOutputBytes: number): Promise<IsolateInstance> {
    let instance: IsolateInstance | undefined;
    const isolate = new ivm.Isolate({
      memoryLimit: Math.max(kMinMemoryLimitMb, Math.ceil(memoryBytes / 2 ** 20)),
      onCatastrophicError: (message) => {
        if (instance === undefined) return;
        instance.#catastrophic = true;
        instance.kill({ code: 'ERR_MEMORY_BUDGET', message: `the function's isolate failed (${message}); it was discarded` });
      },
    });
    try {
      const context = await isolate.createContext();
      instance = new IsolateInstance(memoryBytes, isolate, context, gate);
      await instance.#installPrelude({
        maxArrayElements: Math.floor(memoryBytes / 8),
        maxOutputUnits: Math.min(memoryBytes, maxOutputBytes),
        maxLogLineChars: 8192,
        maxCollectionEntries: Math.max(1024, Math.floor(memoryBytes / kBytesPerCollectionEntry)),
        maxIntlObjects: Math.max(16, Math.floor(memoryBytes / kBytesPerIntlObject)),
        hideWeakReferences: true,
        checkpointLongBuiltins: true,
      });
      return instance;
    } catch (error) {
      if (!isolate.isDisposed) isolate.dispose();
      throw error;
    }
  }

  async #installPrelude (limits: PreludeLimits): Promise<void> {
    const global = this.#context.global;
    // Host functions are copied-argument callbacks: the guest gets plain functions of its own realm.
    // console is global in the shared context: a line belongs to the invocation whose entry is running.
    await global.set('__sbHostLog', new ivm.Callback((line: unknown) => this.#hooks.get(this.#entryInvocation)?.log(typeof line === 'string' ? line : String(line))));
    await global.set('__sbHostCall', new ivm.Callback((id: number, callId: number, op: unknown, a: unknown, b: unknown, c: unknown, d: unknown) => this.#hooks.get(id)?.call(callId, op, a, b, c, d)));
    await global.set('__sbHostSettled', new ivm.Callback((id: number, ok: boolean, payload: unknown, response: unknown) => this.#hooks.get(id)?.settled(ok === true, payload, response)));
    // The returned bytes are copied into the isolate as a Uint8Array of its own realm; the host's time is the entry's CPU.
    await global.set('__sbHostRandom', new ivm.Callback((byteCount: unknown) => this.#charged(() => hostRandomBytes(byteCount))));
    // A constant string, asked for once per group and isolate: not worth counting.
    await global.set('__sbHostSource', new ivm.Callback((group: unknown) => webGlobalsGroupSource(group)));
    // Runs on this thread while the isolate's thread waits: its time is added to the entry's CPU (#entryCpuMs).
    await global.set('__sbHostUrl', new ivm.Callback((input: unknown, base: unknown, setter: unknown, value: unknown) => this.#charged(() => hostUrl(input, base, setter, value))));
    // Bytes in, bytes out (copied both ways); hashing runs on this thread too, so it is charged the same way.
    await global.set('__sbHostDigest', new ivm.Callback((hash: unknown, key: unknown, data: unknown) => this.#charged(() => hostDigest(hash, key, data))));
    // An invocation that has ended (no hooks) sets nothing: nothing of it runs again.
    await global.set('__sbHostTimer', new ivm.Callback((id: number, timerId: unknown, delayMs: unknown) => this.#hooks.get(id)?.timer(timerId, delayMs) ?? true));
    const api = await this.#context.eval(guestPreludeSource(limits), { reference: true, timeout: 1000 });
    const [start, deliver, forget, bind] = await Promise.all(['start', 'deliver', 'forget', 'bind'].map((name) => api.get(name, { reference: true }) as Promise<ivm.Reference>));
    this.#api = { start: start!, deliver: deliver!, forget: forget!, bind: bind! };
    api.release();
  }

  /** Runs a host call made from the running entry, adding its time to the entry's CPU. */
  #charged<T> (call: () => T): T {
    const started = performance.now();
    try {
      return call();
    } finally {
      this.#entryHostMs += performance.now() - started;
    }
  }

  /**
   * Compiles, evaluates and binds the function's module (the cold start). Top-level code runs
   * under the function's CPU budget and the watchdog.
   * @returns the entry: an error when the module throws, runs too long or has no function as
   * default export; `cpuMs` is the top-level code's CPU either way.
   */
  load (source: string, bounds: EntryBounds, envJson: string | undefined): Promise<EntryResult> {
    const timeout = Math.max(1, Math.ceil(bounds.cpuMs));
    return this.#enter(0, bounds, async () => {
      const module = await this.#isolate.compileModule(source, { filename: 'file:///function.js' });
      await module.instantiate(this.#context, () => { throw new Error('imports are not supported'); });
      await module.evaluate({ timeout });
      const exported = await module.namespace.get('default', { reference: true });
      this.worker = await this.#api!.bind.apply(undefined, [exported.derefInto(), envJson], { timeout, result: { copy: true } }) === true;
      this.state = 'loaded';
    });
  }

  /** Registers the hooks of an invocation, by the id the guest will use. */
  attach (invocationId: number, hooks: InvocationHooks): void {
    this.#hooks.set(invocationId, hooks);
  }

  detach (invocationId: number): void {
    this.#hooks.delete(invocationId);
  }

  /**
   * Calls the function: value `[1, output]`, `[0, [code, message]]`, or undefined while it is pending.
   * `input` is bytes for a Workers-format module ({@link worker}), a string otherwise.
   */
  start (invocationId: number, input: string | Uint8Array, requestJson: string | undefined, bounds: EntryBounds): Promise<EntryResult> {
    // Copied into a buffer of its own first: the input may be a view into a larger one (a batch of records, Node's Buffer pool).
    const guestInput = typeof input === 'string' ? input : new ivm.ExternalCopy(new Uint8Array(input)).copyInto({ release: true });
    return this.#enter(invocationId, bounds, () => this.#api!.start.apply(undefined, [invocationId, guestInput, requestJson], { timeout: timeoutOf(bounds), result: { copy: true } }));
  }

  /** Hands settled fetches to the guest (see the prelude's deliver). */
  deliver (invocationId: number, settlements: unknown[], bounds: EntryBounds): Promise<EntryResult> {
    return this.#enter(invocationId, bounds, () => this.#api!.deliver.apply(undefined, [new ivm.ExternalCopy(settlements).copyInto()], { timeout: timeoutOf(bounds) }));
  }

  /** Drops a cancelled invocation's pending fetches in the guest. Best effort. */
  forget (invocationId: number): void {
    if (this.state === 'dead') return;
    void this.#enter(invocationId, { cpuMs: 100, wallMs: 1000 }, () => this.#api!.forget.apply(undefined, [invocationId], { timeout: 100 }));
  }

  /**
   * Ends the isolate if `invocationId`'s entry is running in it (its invocation was cancelled or
   * passed its wall-clock budget: V8 cannot stop one call and keep the isolate).
   * @returns the CPU that entry used up to now, in ms (0 when it was not running).
   */
  interrupt (invocationId: number, reason: ErrorRecord): number {
    if (this.#entryInvocation !== invocationId || this.#entryStartNs === undefined || this.#death !== undefined) return 0;
    const cpuMs = this.#entryCpuMs();
    this.kill(reason);
    return cpuMs;
  }

  /** True once V8 reported a catastrophic error in this isolate (its thread and memory are lost). */
  get catastrophic (): boolean { return this.#catastrophic; }

  /**
   * True when the isolate's thread is lost: a catastrophic error, or guest code still running a
   * second after the isolate was disposed (V8 did not act on the termination: seen with a loop of
   * TypedArray indexOf calls on a 50 MB array, whose builtin drops the interrupt).
   */
  get lost (): boolean {
    return this.#catastrophic || (this.#death !== undefined && this.#workPending && performance.now() - this.#killedAt > kLostAfterKillMs);
  }

  /** Highest heap use seen after an entry (V8 heap plus external memory such as ArrayBuffers), in bytes. */
  get peakHeapBytes (): number { return this.#peakHeapBytes; }

  /** Why the isolate died, once dead. */
  get death (): ErrorRecord | undefined { return this.#death; }

  /** Calls `listener` when the isolate dies (at once if it already has). */
  onDeath (listener: (error: ErrorRecord) => void): void {
    if (this.#death !== undefined) listener(this.#death);
    else this.#onDeath.push(listener);
  }

  /** Ends the isolate: running and queued entries fail with `error`. Idempotent. */
  kill (error: ErrorRecord): void {
    if (this.#death !== undefined) return;
    this.#death = error;
    this.state = 'dead';
    this.#killedAt = performance.now();
    // The CPU used so far cannot be read once the isolate is disposed.
    this.#readCpuNs();
    try {
      if (!this.#isolate.isDisposed) this.#isolate.dispose();
    } catch {
      // Already disposed by isolated-vm itself (memory limit): nothing left to release.
    }
    this.#wakeEntry?.();
    for (const listener of this.#onDeath.splice(0)) listener(error);
  }

  /** Releases the isolate for good. */
  close (): void {
    this.kill({ code: 'ERR_INTERNAL', message: 'the function instance was closed' });
  }

  /** Runs one entry after the previous one, inside a gate slot, under the watchdog, and measures its CPU. */
  #enter (invocationId: number, bounds: EntryBounds, work: () => Promise<unknown>): Promise<EntryResult> {
    const run = (): Promise<EntryResult> => this.#gate.run(() => {
      this.#entryInvocation = invocationId;
      return this.#measure(bounds, work);
    });
    const result = this.#tail.then(run, run);
    this.#tail = result;
    return result;
  }

  async #measure (bounds: EntryBounds, work: () => Promise<unknown>): Promise<EntryResult> {
    if (this.#death !== undefined) {
      this.#entryInvocation = 0;
      return { ok: false, error: this.#death, cpuMs: 0, started: false };
    }
    const startNs = this.#readCpuNs();
    this.#entryStartNs = startNs;
    this.#entryHostMs = 0;
    const startedAt = performance.now();
    // A catastrophic error or a watchdog kill leaves the entry's promise unsettled for ever; kill() ends the wait.
    const died = new Promise<void>((resolve) => { this.#wakeEntry = resolve; });
    const watchdog = setInterval(() => this.#watch(bounds, startedAt), kWatchdogTickMs);
    let outcome: EntryResult;
    try {
      this.#workPending = true;
      const call = work().finally(() => { this.#workPending = false; });
      call.catch(() => {});
      const value = await Promise.race([call, died]);
      // The heap is read inside the entry (async, under the watchdog): a sync read would wait for the isolate's lock.
      if (this.#death === undefined) await Promise.race([this.#checkHeap(), died]);
      outcome = this.#death !== undefined ? { ok: false, error: this.#death, cpuMs: 0, started: true } : { ok: true, value, cpuMs: 0, started: true };
    } catch (error) {
      outcome = { ok: false, error: this.#classify(error, bounds), cpuMs: 0, started: true };
    } finally {
      clearInterval(watchdog);
    }
    this.#wakeEntry = undefined;
    const cpuMs = this.#entryCpuMs();
    this.#entryInvocation = 0;
    this.#entryStartNs = undefined;
    return { ...outcome, cpuMs };
  }

  /** One watchdog look at the running entry: disposes the isolate once the entry is past its bounds. */
  #watch (bounds: EntryBounds, startedAt: number): void {
    if (this.#death !== undefined) return;
    const cpuMs = this.#entryCpuMs();
    if (cpuMs > bounds.cpuMs + kWatchdogCpuSlackMs) {
      this.kill(cpuBudgetError(bounds.cpuMs, cpuMs, 'the isolate was stopped and discarded'));
    } else if (performance.now() - startedAt > bounds.wallMs) {
      this.kill({ code: 'ERR_WALL_TIMEOUT', message: `the isolate did not come back within ${bounds.wallMs} ms and was discarded` });
    }
  }

  /** CPU of the running entry so far (or of the last one), in ms. */
  #entryCpuMs (): number {
    if (this.#entryStartNs === undefined) return 0;
    return Number(this.#readCpuNs() - this.#entryStartNs) / 1e6 + this.#entryHostMs;
  }

  /** isolate.cpuTime, or the last value read once the isolate is disposed (isolated-vm disposes it on its own at its memory limit). */
  #readCpuNs (): bigint {
    try {
      if (!this.#isolate.isDisposed) this.#lastCpuNs = this.#isolate.cpuTime;
    } catch {
      // Disposed between the check and the read.
    }
    return this.#lastCpuNs;
  }

  #classify (error: unknown, bounds: EntryBounds): ErrorRecord {
    const message = error instanceof Error ? error.message : String(error);
    if (this.#isolate.isDisposed || /memory limit/i.test(message)) {
      this.kill({ code: 'ERR_MEMORY_BUDGET', message: `the function's isolate passed its memory limit of ${this.memoryBytes} bytes and was discarded` });
      return this.#death!;
    }
    if (message === kTimeoutMessage) return cpuBudgetError(bounds.cpuMs, this.#entryCpuMs(), 'the isolate was stopped');
    return { code: 'ERR_FUNCTION', message: clip(message) };
  }

  /**
   * isolated-vm's limit is soft: an allocation that V8 makes in one piece can pass it. The heap is
   * checked after every entry, and an isolate holding more than twice its budget is retired.
   */
  async #checkHeap (): Promise<void> {
    const stats = await this.#isolate.getHeapStatistics();
    if (this.#death !== undefined) return;
    const heapBytes = stats.used_heap_size + stats.externally_allocated_size;
    if (heapBytes > this.#peakHeapBytes) this.#peakHeapBytes = heapBytes;
    if (heapBytes > 2 * Math.max(this.memoryBytes, kMinMemoryLimitMb * 2 ** 20)) {
      this.kill({ code: 'ERR_MEMORY_BUDGET', message: `the function's isolate holds ${heapBytes} bytes, over twice its memory budget of ${this.memoryBytes}; it was discarded` });
    }
  }
}

/** isolated-vm's timeout for an entry: its CPU bound in whole ms (0 would mean none). */
function timeoutOf (bounds: EntryBounds): number {
  return Math.max(1, Math.ceil(bounds.cpuMs));
}
