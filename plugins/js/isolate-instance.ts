import ivm from 'isolated-vm';
import type { ErrorRecord } from '../../engine/errors.ts';
import { guestPreludeSource, type PreludeLimits } from '../js-common/guest-prelude.ts';
import { clip } from '../js-common/host-values.ts';
import type { IsolateGate } from './isolate-gate.ts';

/** What an invocation hears from the guest while its entries run (the prelude's host functions). */
export interface InvocationHooks {
  log (line: string): void;
  fetch (fetchId: number, url: unknown, method: unknown, headersJson: unknown, body: unknown): void;
  settled (ok: boolean, payload: unknown): void;
}

/** One finished entry into the isolate. */
export type EntryResult = { readonly ok: true, readonly value: unknown, readonly cpuMs: number } | { readonly ok: false, readonly error: ErrorRecord, readonly cpuMs: number };

/** Isolate states: prepared (context and prelude, no function yet; pooled) → loaded → dead. */
export type InstanceState = 'prepared' | 'loaded' | 'dead';

/** isolated-vm's minimum memoryLimit, in MiB. */
const kMinMemoryLimitMb = 8;
const kTimeoutMessage = 'Script execution timed out.';

/**
 * One V8 isolate with one context, holding one function version: the prelude (js-common), then the
 * function's module, bound once and reused by every invocation of that version (doc/js.md explains
 * why a context is not made per invocation).
 *
 * Entries (start, deliver, forget) run one at a time per isolate, each under a timeout equal to
 * the caller's CPU left, and each through the plugin's {@link IsolateGate}. Running them one at a
 * time makes `isolate.cpuTime` before and after an entry the exact CPU of that entry. Guest
 * microtasks (promise reactions) run inside the entry that queued them, so they are under the
 * same timeout: there is no guest code running outside an entry.
 *
 * An isolate dies when isolated-vm disposes it for its memory limit, when V8 reports a
 * catastrophic error (an out-of-memory it could not recover from: the entry never returns, so it
 * is failed here), or when the host retires it for holding more than its budget. Every entry of a
 * dead isolate fails with ERR_MEMORY_BUDGET; the sandbox then makes a new one.
 */
export class IsolateInstance {
  readonly memoryBytes: number;
  state: InstanceState = 'prepared';
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
   */
  static async prepare (memoryBytes: number, gate: IsolateGate): Promise<IsolateInstance> {
    let instance: IsolateInstance | undefined;
    const isolate = new ivm.Isolate({
      memoryLimit: Math.max(kMinMemoryLimitMb, Math.ceil(memoryBytes / 2 ** 20)),
      onCatastrophicError: (message) => instance?.kill({ code: 'ERR_MEMORY_BUDGET', message: `the function's isolate failed (${message}); it was discarded` }),
    });
    try {
      const context = await isolate.createContext();
      instance = new IsolateInstance(memoryBytes, isolate, context, gate);
      await instance.#installPrelude({ maxArrayElements: Math.floor(memoryBytes / 8), maxOutputUnits: memoryBytes, maxLogLineChars: 8192 });
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
    await global.set('__sbHostFetch', new ivm.Callback((id: number, fetchId: number, url: unknown, method: unknown, headers: unknown, body: unknown) => this.#hooks.get(id)?.fetch(fetchId, url, method, headers, body)));
    await global.set('__sbHostSettled', new ivm.Callback((id: number, ok: boolean, payload: unknown) => this.#hooks.get(id)?.settled(ok === true, payload)));
    const api = await this.#context.eval(guestPreludeSource(limits), { reference: true, timeout: 1000 }) as ivm.Reference;
    const [start, deliver, forget, bind] = await Promise.all(['start', 'deliver', 'forget', 'bind'].map((name) => api.get(name, { reference: true }) as Promise<ivm.Reference>));
    this.#api = { start: start!, deliver: deliver!, forget: forget!, bind: bind! };
    api.release();
  }

  /**
   * Compiles, evaluates and binds the function's module. Top-level code runs under `timeoutMs`.
   * @returns an error record when the module throws, runs too long or has no function as default export.
   */
  async load (source: string, timeoutMs: number): Promise<ErrorRecord | undefined> {
    return this.#enter(0, async () => {
      const module = await this.#isolate.compileModule(source, { filename: 'file:///function.js' });
      await module.instantiate(this.#context, () => { throw new Error('imports are not supported'); });
      await module.evaluate({ timeout: timeoutMs });
      const exported = await module.namespace.get('default', { reference: true }) as ivm.Reference;
      await this.#api!.bind.apply(undefined, [exported.derefInto()], { timeout: timeoutMs });
      this.state = 'loaded';
    }).then((result) => result.ok ? undefined : result.error);
  }

  /** Registers the hooks of an invocation, by the id the guest will use. */
  attach (invocationId: number, hooks: InvocationHooks): void {
    this.#hooks.set(invocationId, hooks);
  }

  detach (invocationId: number): void {
    this.#hooks.delete(invocationId);
  }

  /** Calls the function: value `[1, output]`, `[0, [code, message]]`, or undefined while it is pending. */
  start (invocationId: number, input: string, timeoutMs: number): Promise<EntryResult> {
    return this.#enter(invocationId, () => this.#api!.start.apply(undefined, [invocationId, input], { timeout: timeoutMs, result: { copy: true } }));
  }

  /** Hands settled fetches to the guest (see the prelude's deliver). */
  deliver (invocationId: number, settlements: unknown[], timeoutMs: number): Promise<EntryResult> {
    return this.#enter(invocationId, () => this.#api!.deliver.apply(undefined, [new ivm.ExternalCopy(settlements).copyInto()], { timeout: timeoutMs }));
  }

  /** Drops a cancelled invocation's pending fetches in the guest. Best effort. */
  forget (invocationId: number): void {
    if (this.state === 'dead') return;
    void this.#enter(invocationId, () => this.#api!.forget.apply(undefined, [invocationId], { timeout: 100 }));
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

  /** Runs one entry after the previous one, inside a gate slot, and measures its CPU. */
  #enter (invocationId: number, work: () => Promise<unknown>): Promise<EntryResult> {
    const run = (): Promise<EntryResult> => this.#gate.run(() => {
      this.#entryInvocation = invocationId;
      return this.#measure(work);
    });
    const result = this.#tail.then(run, run);
    this.#tail = result;
    return result;
  }

  async #measure (work: () => Promise<unknown>): Promise<EntryResult> {
    if (this.#death !== undefined) return { ok: false, error: this.#death, cpuMs: 0 };
    const startNs = this.#isolate.cpuTime;
    // A catastrophic error leaves the entry's promise unsettled for ever; kill() ends the wait.
    const died = new Promise<void>((resolve) => { this.#wakeEntry = resolve; });
    let outcome: EntryResult;
    try {
      const value = await Promise.race([work(), died]);
      outcome = this.#death !== undefined ? { ok: false, error: this.#death, cpuMs: 0 } : { ok: true, value, cpuMs: 0 };
    } catch (error) {
      outcome = { ok: false, error: this.#classify(error), cpuMs: 0 };
    }
    this.#wakeEntry = undefined;
    const cpuMs = this.#death !== undefined && this.#isolate.isDisposed ? 0 : Number(this.#isolate.cpuTime - startNs) / 1e6;
    this.#entryInvocation = 0;
    // An entry that left the isolate over its budget fails, even if the function itself finished.
    if (this.#checkHeap() && outcome.ok) outcome = { ok: false, error: this.#death!, cpuMs: 0 };
    return { ...outcome, cpuMs };
  }

  #classify (error: unknown): ErrorRecord {
    const message = error instanceof Error ? error.message : String(error);
    if (this.#isolate.isDisposed || /memory limit/i.test(message)) {
      this.kill({ code: 'ERR_MEMORY_BUDGET', message: `the function's isolate passed its memory limit of ${this.memoryBytes} bytes and was discarded` });
      return this.#death!;
    }
    if (message === kTimeoutMessage) return { code: 'ERR_CPU_BUDGET', message: 'CPU budget used up (the isolate was stopped)' };
    return { code: 'ERR_FUNCTION', message: clip(message) };
  }

  /**
   * isolated-vm's limit is soft: an allocation that V8 makes in one piece can pass it. The heap is
   * checked after every entry, and an isolate holding more than twice its budget is retired.
   */
  #checkHeap (): boolean {
    if (this.#death !== undefined) return false;
    const stats = this.#isolate.getHeapStatisticsSync();
    const heapBytes = stats.used_heap_size + stats.externally_allocated_size;
    if (heapBytes > this.#peakHeapBytes) this.#peakHeapBytes = heapBytes;
    if (heapBytes > 2 * Math.max(this.memoryBytes, kMinMemoryLimitMb * 2 ** 20)) {
      this.kill({ code: 'ERR_MEMORY_BUDGET', message: `the function's isolate holds ${heapBytes} bytes, over twice its memory budget of ${this.memoryBytes}; it was discarded` });
      return true;
    }
    return false;
  }
}
