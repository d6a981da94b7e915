import { performance } from 'node:perf_hooks';
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten-core';
import type { ErrorRecord } from '../../engine/errors.ts';
import { kDefaultOptions } from '../../engine/options.ts';
import { guestPreludeSource } from '../js-common/guest-prelude.ts';
import { clip } from '../js-common/host-values.ts';
import { hostDigest } from '../js-common/web-crypto.ts';
import { hostRandomBytes, webGlobalsGroupSource } from '../js-common/web-globals.ts';
import { hostUrl } from '../js-common/web-url.ts';
import { kGuestBridgeSource } from './guest-bridge.ts';
import { kBuiltinGuardsSource } from './builtin-guards.ts';
import { kGoOn, kInterrupt, kSuspend } from './interrupt-trampoline.ts';
import { loadQuickJs, type LoadedQuickJs } from './quickjs-module.ts';
import { PollPacer } from './poll-pacer.ts';

/** What an invocation hears from the guest while its steps run (the prelude's host functions). */
export interface InvocationHooks {
  log (line: string): void;
  /** An asynchronous host call (js-common/host-calls.ts). */
  call (callId: number, op: unknown, a: unknown, b: unknown, c: unknown, d: unknown): void;
  /** `response`: a Workers-format function's status and headers, as the prelude encodes them (guest-prelude.ts). */
  settled (ok: boolean, payload: unknown, response: unknown): void;
  /** Sets a timer (delayMs -1: cancels it); false when the invocation has too many. */
  timer (timerId: unknown, delayMs: unknown): boolean;
}

/** The fiber whose step is running: asked at every interrupt poll, told when its stack parks. */
export interface StepOwner {
  /** {@link kGoOn}, {@link kInterrupt} (cancelled) or {@link kSuspend} (the slice is over). */
  checkSlice (): number;
  /** The stack parked at the end of a slice; it resumes when the promise settles (kGoOn, or kInterrupt to unwind). */
  parked (): Promise<number>;
  /**
   * A guarded builtin (builtin-guards.ts) is about to do `ms` of work: true when that fits in the
   * CPU budget left; false marks the invocation over budget (checkSlice says kInterrupt from now on).
   */
  afford (ms: number, what: string): boolean;
}

/** What a step's `step()` call in the guest reported (see guest-bridge.ts), or why it reported nothing. */
export type StepEnd =
  | { readonly kind: 'output', readonly output: unknown }
  | { readonly kind: 'failed', readonly error: ErrorRecord }
  | { readonly kind: 'pending' }
  | { readonly kind: 'ok', readonly worker?: true };

/** A step in progress: `end` is set once it has finished (at once when it did not suspend). */
export interface Step {
  end: StepEnd | undefined;
  readonly finished: Promise<StepEnd>;
}

export type StepInput =
  | { readonly op: 'start', readonly id: number, readonly input: string | Uint8Array, readonly request: string | undefined }
  | { readonly op: 'deliver', readonly fetchId: number, readonly ok: boolean, readonly a: unknown, readonly b: string, readonly c: Uint8Array | undefined }
  | { readonly op: 'forget', readonly id: number };

/** How long binding the default export (springbok's prelude, outside any slice) may run, in ms: wall time, so room for a loaded machine (50 ms failed binds under load). */
const kBindDeadlineMs = 200;
/** QuickJS's JS_EVAL_TYPE_MODULE flag for QTS_Eval. */
const kEvalTypeModule = 1;
/** The module's name in stack traces, NUL-terminated for QTS_Eval. */
const kModuleFilename = Buffer.from('function.js\0', 'utf8');

/**
 * One QuickJS build instance (own capped wasm memory), one runtime and one context holding one
 * function version: the bridge, the shared prelude, then the module, bound once and reused by every
 * invocation of that version (the same choice as `js`, doc/js.md).
 *
 * Guest code of an invocation runs in *steps* entered through `WebAssembly.promising`: a step calls
 * the guest's `step()` (start, deliver or forget) and then drains QuickJS's job queue (promise
 * reactions). At every interrupt poll the owner fiber says go on, interrupt or suspend; a suspended
 * step keeps its wasm stack parked until the fiber resumes it. One step at a time per instance:
 * two parked stacks would share QuickJS's C stack and frame list, so a second fiber waits for
 * {@link QuickJsInstance.idle} — the function's own invocations take turns, other functions do not wait.
 */
export class QuickJsInstance {
  readonly memoryBytes: number;
  readonly #maxOutputBytes: number;
  #loaded: LoadedQuickJs | undefined;
  #runtime: QuickJSRuntime | undefined;
  #context: QuickJSContext | undefined;
  readonly #handles: QuickJSHandle[] = [];
  #box: QuickJSHandle | undefined;
  #step: QuickJSHandle | undefined;
  #ctxPtr = 0;
  #rtPtr = 0;
  #undefinedPtr = 0;
  #jobContextOut = 0;
  readonly #hooks = new Map<number, InvocationHooks>();
  /** Invocations that ended before the guest reported their result: it may still hold their pending fetches and timers. */
  readonly #orphans: number[] = [];
  #owner: StepOwner | undefined;
  #report: StepEnd | undefined;
  #parkedInEntry = false;
  #hostDepth = 0;
  /** Guest code run outside a step (prelude install, bind) is interrupted at this performance.now() time. */
  #loadDeadline = Infinity;
  #idle: PromiseWithResolvers<void> | undefined;
  #death: ErrorRecord | undefined;
  #trapped = false;
  #moduleReady = false;
  #worker = false;
  #pacer: PollPacer | undefined;
  /** The wasm memory refused to grow during the current step (or the load): a failure then is the memory budget's. */
  #refusedInStep = false;

  private constructor (memoryBytes: number, maxOutputBytes: number) {
    this.memoryBytes = memoryBytes;
    this.#maxOutputBytes = maxOutputBytes;
  }

  /**
   * Makes an instance with its runtime, context, bridge and prelude, ready for
   * {@link QuickJsInstance.load}: the part of a cold start that does not depend on the function,
   * so a pool can do it ahead of time (instance-pool.ts).
   * @param memoryBytes the function's memory budget: the wasm memory's cap (at least 16 MiB).
   * @param maxOutputBytes the engine's output limit, in bytes: a longer output is refused in the guest, before it is copied out.
   */
  static async prepare (memoryBytes: number, maxOutputBytes = kDefaultOptions.maxOutputBytes): Promise<QuickJsInstance> {
    const instance = new QuickJsInstance(memoryBytes, maxOutputBytes);
    instance.#loaded = await loadQuickJs(memoryBytes, () => instance.#check(), () => instance.#park(), () => { instance.#refusedInStep = true; });
    instance.#installPrelude();
    return instance;
  }

  /** Bytes of wasm memory the instance holds (the function's footprint: at least the build's 16 MiB, mostly untouched pages). */
  get heapBytes (): number { return this.#loaded?.memory.buffer.byteLength ?? 0; }

  /** Why the instance died, once dead (a trap or an out-of-memory: it is not used again). */
  get death (): ErrorRecord | undefined { return this.#death; }

  /** Settles when no step runs (at once when none does). */
  idle (): Promise<void> {
    if (this.#owner === undefined) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }

  get busy (): boolean { return this.#owner !== undefined; }

  attach (invocationId: number, hooks: InvocationHooks): void { this.#hooks.set(invocationId, hooks); }
  detach (invocationId: number): void { this.#hooks.delete(invocationId); }

  /** Notes an invocation that ended before its result: the next invocation's fiber runs a forget step for it ({@link takeOrphan}). */
  orphan (invocationId: number): void { this.#orphans.push(invocationId); }

  /** An invocation whose guest side is still to be forgotten, or undefined. */
  takeOrphan (): number | undefined { return this.#orphans.shift(); }

  #installPrelude (): void {
    const { module } = this.#loaded!;
    const runtime = this.#runtime = module.newRuntime();
    // No QuickJS malloc limit: the wasm memory's cap is the budget (16 MiB at least, the build's initial size),
    // and its refusals are what tells an out-of-memory apart from a function's own `throw null`.
    runtime.setMaxStackSize(256 * 1024);
    // Turns the C side's polling on; the poll itself goes to the trampoline (quickjs-module.ts), not to this callback.
    runtime.setInterruptHandler(() => false);
    const context = this.#context = runtime.newContext();
    this.#ctxPtr = (context as unknown as { ctx: { value: number } }).ctx.value;
    this.#rtPtr = (runtime as unknown as { rt: { value: number } }).rt.value;
    this.#undefinedPtr = context.undefined.value;
    this.#jobContextOut = this.#loaded!.raw.malloc(8);
    this.#pacer = new PollPacer(this.#loaded!.memory, this.#ctxPtr);
    // The prelude is springbok's own code: a generous deadline only guards against a broken build.
    this.#loadDeadline = performance.now() + 5_000;
    try {
      const box = this.#own(context.unwrapResult(context.evalCode('Object.create(null)')));
      this.#box = box;
      const makeBridge = this.#own(context.unwrapResult(context.evalCode(kGuestBridgeSource, 'springbok-bridge.js')));
      const hostFunctions = [
        this.#hostFunction('log', (args) => this.#hooks.get(this.#entryInvocation)?.log(this.#string(args[0]))),
        this.#hostFunction('call', (args) => this.#hooks.get(this.#number(args[0]))?.call(this.#number(args[1]), this.#value(args[2]), this.#value(args[3]), this.#value(args[4]), this.#value(args[5]), this.#value(args[6]))),
        this.#hostFunction('settled', (args) => {
          const ok = this.#number(args[1]) === 1;
          const outOfMemory = !ok && this.#refusedInStep;
          const code = outOfMemory ? 'ERR_MEMORY_BUDGET' : this.#string(args[2]);
          const message = outOfMemory ? this.#outOfMemory(this.#string(args[3])) : this.#string(args[3]);
          this.#hooks.get(this.#number(args[0]))?.settled(ok, ok ? this.#value(args[2]) : [code, message], ok ? this.#value(args[3]) : undefined);
        }),
        this.#hostFunction('result', (args) => { this.#report = this.#stepEnd(args); }),
      ];
      // Random bytes are copied in as a fresh ArrayBuffer, as fetch bodies are (#fillBox).
      const random = this.#own(context.newFunction('random', (byteCount) => {
        this.#hostDepth++;
        try { return context.newArrayBuffer(hostRandomBytes(this.#number(byteCount)).buffer); } finally { this.#hostDepth--; }
      }));
      // URL parsing runs inside the step, so its time is the slice's like any guest work.
      const url = this.#own(context.newFunction('url', (input, base, setter, value) => {
        this.#hostDepth++;
        try { return context.newString(hostUrl(this.#value(input), this.#value(base), this.#value(setter), this.#value(value))); } finally { this.#hostDepth--; }
      }));
      const source = this.#own(context.newFunction('source', (group) => context.newString(webGlobalsGroupSource(this.#value(group)))));
      // Hashing runs inside the step like URL parsing; the digest comes back as a fresh ArrayBuffer.
      const digest = this.#own(context.newFunction('digest', (hash, key, data) => {
        this.#hostDepth++;
        try { return context.newArrayBuffer(hostDigest(this.#value(hash), this.#value(key), this.#value(data)).buffer); } finally { this.#hostDepth--; }
      }));
      // An invocation that has ended (no hooks) sets nothing: nothing of it runs again.
      const timer = this.#own(context.newFunction('timer', (id, timerId, delayMs) => {
        this.#hostDepth++;
        try { return context.newNumber(this.#hooks.get(this.#number(id))?.timer(this.#value(timerId), this.#value(delayMs)) === false ? 0 : 1); } finally { this.#hostDepth--; }
      }));
      const bindApi = this.#own(context.unwrapResult(context.callFunction(makeBridge, context.undefined, ...hostFunctions, box, random, url, source, digest, timer)));
      const prelude = guestPreludeSource({ maxArrayElements: Math.floor(this.memoryBytes / 8), maxOutputUnits: Math.min(this.memoryBytes, this.#maxOutputBytes), maxLogLineChars: 8192 });
      const api = this.#own(context.unwrapResult(context.evalCode(prelude, 'springbok-prelude.js')));
      this.#step = this.#own(context.unwrapResult(context.callFunction(bindApi, context.undefined, api)));
      const installGuards = this.#own(context.unwrapResult(context.evalCode(kBuiltinGuardsSource, 'springbok-guards.js')));
      const afford = this.#own(context.newFunction('afford', (ms, what) => {
        this.#hostDepth++;
        try { return this.#afford(this.#number(ms), this.#string(what)) ? context.true : context.false; } finally { this.#hostDepth--; }
      }));
      const memoryBytes = this.#own(context.newNumber(this.memoryBytes));
      this.#own(context.unwrapResult(context.callFunction(installGuards, context.undefined, afford, memoryBytes)));
    } finally {
      this.#loadDeadline = Infinity;
    }
  }

  /** True once the function's module has been evaluated and its default export bound. */
  get moduleReady (): boolean { return this.#moduleReady; }

  /** True once its module is bound and in the Workers format: its invocations take their input as bytes. */
  get worker (): boolean { return this.#worker; }

  /**
   * Evaluates the function's module and binds its default export, as a step of `owner`'s
   * invocation (the one that found the instance without its module): top-level code is sliced,
   * parks at slice ends and counts against that invocation's CPU and wall-clock budgets like any
   * guest code. A module that fails (throws, is interrupted, runs out of memory) leaves the
   * instance dead: the next invocation loads the module afresh in a new instance.
   * The caller must wait for {@link idle} first when the instance is busy.
   */
  load (owner: StepOwner, invocationId: number, source: string, envJson: string | undefined): Step {
    const { step, finish } = this.#begin(owner, invocationId);
    if (step.end !== undefined) return step;
    const fail = (error: ErrorRecord): void => {
      this.#death ??= error;
      finish({ kind: 'failed', error });
    };
    const raw = this.#loaded!.raw;
    let code = 0;
    let filename = 0;
    let namespace = 0;
    let failure: ErrorRecord | undefined;
    try {
      const bytes = Buffer.from(`${source}\0`, 'utf8');
      code = raw.malloc(bytes.byteLength);
      filename = raw.malloc(kModuleFilename.byteLength);
      if (code === 0 || filename === 0) throw new Error('out of memory');
      new Uint8Array(this.#loaded!.memory.buffer).set(bytes, code);
      new Uint8Array(this.#loaded!.memory.buffer).set(kModuleFilename, filename);
      this.#enter(() => raw.eval(this.#ctxPtr, code, bytes.byteLength - 1, filename, 0, kEvalTypeModule), (ptr) => {
        raw.free(code);
        raw.free(filename);
        const exception = raw.resolveException(this.#ctxPtr, ptr);
        if (exception === 0) {
          namespace = ptr;
          return false;
        }
        raw.freeValue(this.#ctxPtr, ptr);
        const handle = this.#context!.getMemory(this.#rtPtr as never).heapValueHandle(exception as never);
        try { failure = this.#failure(handle, 'loading the module failed'); } finally { handle.dispose(); }
        return true;
      }, (threw) => {
        if (this.#death !== undefined) return finish({ kind: 'failed', error: this.#death });
        if (threw || namespace === 0) return fail(failure ?? this.#unreported(owner));
        const bound = this.#bind(namespace, envJson);
        if (bound !== undefined) return fail(bound);
        this.#moduleReady = true;
        finish({ kind: 'ok' });
      }, () => false);
    } catch (error) {
      fail(this.#kill(error));
    }
    return step;
  }

  /**
   * Binds the module's default export (the prelude's bind: springbok's own code, a few
   * instructions) outside any fiber's slice, under a short deadline.
   * @returns the failure, or undefined when bound.
   */
  #bind (namespacePtr: number, envJson: string | undefined): ErrorRecord | undefined {
    const context = this.#context!;
    const box = this.#box!;
    const owner = this.#owner;
    // A plain (non-promising) call cannot park: take the owner away so the poll never asks to.
    this.#owner = undefined;
    this.#loadDeadline = performance.now() + kBindDeadlineMs;
    try {
      const namespace = this.#own(context.getMemory(this.#rtPtr as never).heapValueHandle(namespacePtr as never));
      const fn = this.#own(context.getProp(namespace, 'default'));
      const bindOp = context.newString('bind');
      context.setProp(box, 'op', bindOp);
      bindOp.dispose();
      context.setProp(box, 'fn', fn);
      if (envJson !== undefined) {
        const env = context.newString(envJson);
        context.setProp(box, 'env', env);
        env.dispose();
      }
      this.#report = undefined;
      this.#own(context.unwrapResult(context.callFunction(this.#step!, context.undefined)));
      const report = this.#report as StepEnd | undefined;
      if (report?.kind === 'failed') return { code: report.error.code, message: `loading the module failed: ${report.error.message}` };
      this.#worker = report?.kind === 'ok' && report.worker === true;
      return undefined;
    } catch (error) {
      return { code: this.#refusedInStep ? 'ERR_MEMORY_BUDGET' : 'ERR_FUNCTION', message: `loading the module failed: ${clip(String((error as Error)?.message ?? error))}` };
    } finally {
      this.#loadDeadline = Infinity;
      this.#owner = owner;
    }
  }

  /** The invocation whose step is running (console lines belong to it). */
  #entryInvocation = 0;

  /**
   * Runs one step for `owner`: the guest's step() with `input`, then the job queue. Runs synchronously
   * until it finishes or the owner's slice ends (owner.parked() is then called and the stack waits).
   * The caller must wait for {@link idle} first when the instance is busy.
   */
  run (owner: StepOwner, invocationId: number, input: StepInput): Step {
    const { step, finish } = this.#begin(owner, invocationId);
    if (step.end !== undefined) return step;
    try {
      this.#fillBox(input);
    } catch (error) {
      finish({ kind: 'failed', error: this.#kill(error) });
      return step;
    }
    const raw = this.#loaded!.raw;
    this.#enter(() => raw.call(this.#ctxPtr, this.#step!.value, this.#undefinedPtr, 0, 0), (ptr) => {
      const exception = raw.resolveException(this.#ctxPtr, ptr);
      raw.freeValue(this.#ctxPtr, ptr);
      if (exception !== 0) raw.freeValue(this.#ctxPtr, exception);
      return exception !== 0;
    }, (threw) => {
      const report = this.#report;
      if (this.#death !== undefined) return finish({ kind: 'failed', error: this.#death });
      if (report === undefined || threw) return finish({ kind: 'failed', error: this.#unreported(owner) });
      // The guest's reactions (its awaits) run now, in the same step.
      this.#enter(() => raw.executePendingJobs(this.#rtPtr, -1, this.#jobContextOut), (ptr) => {
        raw.freeValueRuntime(this.#rtPtr, ptr);
        return false;
      }, () => {
        if (this.#death !== undefined) return finish({ kind: 'failed', error: this.#death });
        if (owner.checkSlice() === kInterrupt) return finish({ kind: 'failed', error: this.#unreported(owner) });
        finish(report);
      }, () => true);
    }, () => this.#report !== undefined);
    return step;
  }

  /** Makes `owner` the instance's step owner; the step has already ended (`end` set) when the instance is dead. */
  #begin (owner: StepOwner, invocationId: number): { step: Step, finish: (end: StepEnd) => void } {
    if (this.#owner !== undefined) throw new Error('quickjs: a step is already running in this instance');
    const done = Promise.withResolvers<StepEnd>();
    const step: Step = { end: undefined, finished: done.promise };
    const finish = (end: StepEnd): void => {
      if (step.end !== undefined) return;
      if (this.#owner === owner) {
        this.#owner = undefined;
        this.#entryInvocation = 0;
      }
      step.end = end;
      done.resolve(end);
      const idle = this.#idle;
      this.#idle = undefined;
      idle?.resolve();
    };
    if (this.#death !== undefined) {
      finish({ kind: 'failed', error: this.#death });
      return { step, finish };
    }
    this.#owner = owner;
    this.#entryInvocation = invocationId;
    this.#report = undefined;
    this.#refusedInStep = false;
    return { step, finish };
  }

  /**
   * Enters the guest through a promising export. `then(threw)` runs once the stack has finished: at
   * once when it finished without parking and `knownGood()` says its outcome is already known,
   * otherwise when the entry's promise settles (after `cleanup` freed its result).
   */
  #enter (start: () => Promise<number>, cleanup: (ptr: number) => boolean, then: (threw: boolean) => void, knownGood: () => boolean): void {
    this.#parkedInEntry = false;
    let ended = false;
    this.#pacer?.restart(performance.now());
    const promise = start();
    promise.then((ptr) => {
      let threw = false;
      try { threw = cleanup(ptr); } catch (error) { this.#kill(error); }
      if (!ended) { ended = true; then(threw); }
    }, (error: unknown) => {
      this.#kill(error, true);
      if (!ended) { ended = true; then(true); }
    });
    if (!this.#parkedInEntry && knownGood()) {
      ended = true;
      then(false);
    }
  }

  /** A guarded builtin's cost check: the step owner's to answer (guest code outside a step, springbok's own, always may). */
  #afford (ms: number, what: string): boolean {
    const owner = this.#owner;
    // Either way the next tick polls: the guest is doomed and its poll unwinds it, or the call is
    // big and the poll after it shows the pacer what a tick costs now (builtin-guards.ts).
    this.#pacer?.pollSoon();
    return owner === undefined || owner.afford(ms, what);
  }

  /** The interrupt poll (through the trampoline): go on, interrupt, or park the stack. */
  #check (): number {
    const now = performance.now();
    this.#pacer?.poll(now);
    const owner = this.#owner;
    if (owner === undefined) return now > this.#loadDeadline ? kInterrupt : kGoOn;
    const verdict = owner.checkSlice();
    // Inside a host callback the stack has JavaScript frames and cannot park: go on to the next poll.
    return verdict === kSuspend && this.#hostDepth > 0 ? kGoOn : verdict;
  }

  #park (): Promise<number> {
    this.#parkedInEntry = true;
    const owner = this.#owner;
    if (owner === undefined) return Promise.resolve(kInterrupt);
    return owner.parked().then((verdict) => {
      this.#pacer?.restart(performance.now());
      return verdict;
    });
  }

  #fillBox (input: StepInput): void {
    const context = this.#context!;
    const box = this.#box!;
    const set = (key: string, value: unknown): void => {
      if (typeof value === 'boolean' || value === undefined) {
        context.setProp(box, key, value === undefined ? context.undefined : value ? context.true : context.false);
        return;
      }
      const handle = typeof value === 'string' ? context.newString(value)
        : typeof value === 'number' ? context.newNumber(value)
          // A copy of exactly its bytes: a Buffer's slice() is a view, and its .buffer can be Node's shared pool, holding other data of the process.
          : context.newArrayBuffer(new Uint8Array(value as Uint8Array).buffer);
      context.setProp(box, key, handle);
      handle.dispose();
    };
    set('op', input.op);
    for (const [key, value] of Object.entries(input)) if (key !== 'op') set(key, value);
  }

  /** Why a step reported nothing: interrupted (cancel / budget), or the guest hit the memory cap. */
  #unreported (owner: StepOwner): ErrorRecord {
    if (owner.checkSlice() === kInterrupt) return { code: 'ERR_CPU_BUDGET', message: 'the function was interrupted' };
    if (this.#refusedInStep) return this.#kill(new Error('out of memory'));
    return { code: 'ERR_FUNCTION', message: 'the function failed inside the engine\'s bridge' };
  }

  #stepEnd (args: QuickJSHandle[]): StepEnd {
    const kind = this.#number(args[0]);
    if (kind === 1) return { kind: 'output', output: this.#value(args[1]) };
    if (kind === 2) return { kind: 'pending' };
    if (kind === 3) return { kind: 'ok' };
    if (kind === 4) return { kind: 'ok', worker: true };
    const code = this.#string(args[1]);
    const message = clip(this.#string(args[2]));
    if (this.#refusedInStep && code === 'ERR_FUNCTION') return { kind: 'failed', error: { code: 'ERR_MEMORY_BUDGET', message: this.#outOfMemory(message) } };
    if (code === 'ERR_MEMORY_BUDGET' || code === 'ERR_OUTPUT_TOO_LARGE') return { kind: 'failed', error: { code, message } };
    return { kind: 'failed', error: { code: 'ERR_FUNCTION', message } };
  }

  /**
   * The message of a failure after the wasm memory refused to grow. QuickJS sometimes cannot even
   * allocate its error object and throws `null`, which the prelude words "uncaught null": say what happened instead.
   */
  #outOfMemory (guestMessage: string): string {
    const detail = /^uncaught (null|undefined|exception)$/.test(guestMessage) ? '' : ` (${clip(guestMessage)})`;
    return `the function ran out of its memory budget of ${this.memoryBytes} bytes${detail}`;
  }

  #hostFunction (name: string, body: (args: QuickJSHandle[]) => void): QuickJSHandle {
    return this.#own(this.#context!.newFunction(name, (...args) => {
      this.#hostDepth++;
      try { body(args); } finally { this.#hostDepth--; }
    }));
  }

  /** A string, number, boolean, undefined or ArrayBuffer (as a Uint8Array copy) from a guest handle; anything else undefined. */
  #value (handle: QuickJSHandle | undefined): unknown {
    if (handle === undefined) return undefined;
    const context = this.#context!;
    const type = context.typeof(handle);
    if (type === 'string') return context.getString(handle);
    if (type === 'number') return context.getNumber(handle);
    if (type === 'boolean') return context.dump(handle) === true;
    if (type === 'object') {
      try {
        const bytes = context.getArrayBuffer(handle);
        const copy = bytes.value.slice();
        bytes.dispose();
        return copy;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  #string (handle: QuickJSHandle | undefined): string {
    const value = this.#value(handle);
    return typeof value === 'string' ? value : String(value);
  }

  #number (handle: QuickJSHandle | undefined): number {
    const value = this.#value(handle);
    return typeof value === 'number' ? value : NaN;
  }

  #failure (error: QuickJSHandle, prefix: string): ErrorRecord {
    const context = this.#context!;
    let message = 'uncaught exception';
    let name = '';
    try {
      const nameHandle = context.getProp(error, 'name');
      const messageHandle = context.getProp(error, 'message');
      name = this.#string(nameHandle);
      message = this.#string(messageHandle);
      nameHandle.dispose();
      messageHandle.dispose();
    } catch {}
    const text = name && name !== 'Error' && name !== 'undefined' ? `${name}: ${message}` : message;
    if (/out of memory/i.test(message) || this.#refusedInStep) return { code: 'ERR_MEMORY_BUDGET', message: `${prefix}: ${clip(text)}` };
    if (/interrupted/i.test(message)) return { code: 'ERR_CPU_BUDGET', message: `${prefix}: top-level code used up the CPU budget` };
    return { code: 'ERR_FUNCTION', message: `${prefix}: ${clip(text)}` };
  }

  #own (handle: QuickJSHandle): QuickJSHandle {
    this.#handles.push(handle);
    return handle;
  }

  /**
   * Marks the instance dead after a wasm trap (its C state may be half-updated) or an out-of-memory:
   * nothing runs in it again. A trap on the native stack (V8's stack for the JSPI entry ran out
   * before QuickJS's own stack check, e.g. deep recursion inside a C builtin) is the guest's fault.
   */
  #kill (error: unknown, trapped = false): ErrorRecord {
    if (this.#death === undefined) {
      this.#trapped = trapped;
      const message = error instanceof Error ? error.message : String(error);
      this.#death = /Maximum call stack size/.test(message)
        ? { code: 'ERR_FUNCTION', message: 'RangeError: stack overflow (the function recursed too deeply); its instance was discarded' }
        : /out of memory/i.test(message) || this.#refusedInStep
          ? { code: 'ERR_MEMORY_BUDGET', message: `the function ran out of its memory budget of ${this.memoryBytes} bytes (${clip(message)}); its instance was discarded` }
          : { code: 'ERR_INTERNAL', message: `quickjs: the instance failed: ${clip(message)}` };
    }
    return this.#death;
  }

  /** Marks the instance as not to be used again (an out-of-memory left it full); it is closed when idle. */
  retire (error: ErrorRecord): void {
    this.#death ??= error;
  }

  /**
   * Disposes every handle, the context and the runtime. Only when no step runs. A dead instance
   * (trap) is dropped without disposal: its heap may be inconsistent, and the wasm memory is freed
   * with the instance by the garbage collector.
   */
  close (): void {
    if (this.#loaded === undefined) return;
    if (!this.#trapped && this.#owner === undefined) {
      try {
        for (const handle of this.#handles.splice(0).reverse()) if (handle.alive) handle.dispose();
        this.#context?.dispose();
        this.#runtime?.dispose();
      } catch {
        // QuickJS asserts when something leaked; the memory goes with the instance anyway.
      }
    }
    this.#loaded = undefined;
    this.#context = undefined;
    this.#runtime = undefined;
  }
}
