import { cpuBudgetError } from '../../engine/budget-errors.ts';
import type { ErrorRecord } from '../../engine/errors.ts';
import { kYield, type Fiber, type InvocationContext, type Slice, type SliceOutcome } from '../../engine/plugin.ts';
import type { LuaEngineAdapter, LuaFiberControl, ResumeStatus, RunningLuaFiber } from './engine-adapter.ts';
import { describeErrorValue, errorWithTraceback } from './error-text.ts';
import { PendingHostCall } from './host-call-bridge.ts';
import { SliceClock } from './slice-clock.ts';
import { preemptRequested } from '../../engine/preemption.ts';

type Phase = 'new' | 'running' | 'ended';

/**
 * One invocation of a Lua function, on either engine (the adapter says how): a coroutine in the
 * function's state, resumed once per slice. The count hook yields when the slice is over, where
 * the coroutine can yield; where it cannot (inside a table.sort comparator, a gsub callback, a
 * __tostring, a guest's coroutine) the slice runs on to the next yieldable point, unless the CPU
 * budget is gone: then the hook raises an error, and raises it again at every hook call, so
 * pcall cannot keep the function alive. A memory breach ends the invocation with
 * ERR_MEMORY_BUDGET even if the guest catches Lua's "not enough memory".
 */
export class LuaFiber<Thread> implements Fiber, RunningLuaFiber<Thread>, LuaFiberControl<Thread> {
  memoryBytes = 0;
  readonly clock: SliceClock;
  readonly #engine: LuaEngineAdapter<Thread>;
  readonly #input: Uint8Array;
  readonly #context: InvocationContext;
  #phase: Phase = 'new';
  #thread: Thread | undefined;
  #threadRef = 0;
  #bindRefs: number[] = [];
  #preempted = false;
  /** A host call the guest asked for (host_call), started once its coroutine has yielded. */
  #request: { readonly op: string, readonly args: (Uint8Array | undefined)[] } | undefined;
  #pending: PendingHostCall | undefined;
  /** Set once the CPU budget is gone: the message the hook keeps raising. */
  #killMessage: string | undefined;

  /** @param adapterFor makes the invocation's adapter, given the fiber it serves. */
  constructor (adapterFor: (fiber: LuaFiberControl<Thread>) => LuaEngineAdapter<Thread>, input: Uint8Array, context: InvocationContext) {
    this.clock = new SliceClock(context.budget.cpuMs);
    this.#input = input;
    this.#context = context;
    this.#engine = adapterFor(this);
  }

  get thread (): Thread | undefined {
    return this.#thread;
  }

  get killed (): boolean {
    return this.#killMessage !== undefined;
  }

  run (slice: Slice): SliceOutcome {
    const engine = this.#engine;
    if (this.#phase === 'ended') return { state: 'failed', error: { code: 'ERR_INTERNAL', message: `${engine.language}: run() after the invocation ended` } };
    const unavailable = engine.unavailable();
    if (unavailable !== undefined) {
      this.#release();
      return { state: 'failed', error: unavailable };
    }
    this.clock.begin(slice);
    let outcome: SliceOutcome;
    try {
      engine.beginSlice(this);
      let nargs = 0;
      if (this.#phase === 'new') {
        this.#phase = 'running';
        const { thread, ref } = engine.newThread();
        this.#thread = thread;
        this.#threadRef = ref;
        engine.pushRef(thread, engine.startRef);
        engine.pushRef(thread, engine.factoryRef);
        engine.pushBytes(thread, this.#input);
        nargs = 2;
      } else {
        this.#installStringLibrary();
        if (this.#pending !== undefined) nargs = this.#pushHostCallReply(this.#thread!);
      }
      outcome = this.#outcomeOf(engine.resume(this.#thread!, nargs));
    } catch (error) {
      const stopped = engine.afterThrow();
      outcome = stopped !== undefined
        ? { state: 'failed', error: cpuBudgetError(this.clock.budgetMs, this.clock.usedAt(performance.now()), stopped) }
        : { state: 'failed', error: { code: 'ERR_TRAP', message: `the Lua engine failed: ${error instanceof Error ? error.message : String(error)}` } };
    } finally {
      this.clock.end();
      engine.endSlice();
    }
    const used = engine.sliceMemoryBytes;
    if (used > this.memoryBytes) this.memoryBytes = used;
    if (outcome.state === 'done' || outcome.state === 'failed') this.#release();
    return outcome;
  }

  cancel (_reason: ErrorRecord): void {
    this.#release();
  }

  // --- called by the state's hook and host functions while run() is on the stack ---

  onHook (L: Thread): void {
    const engine = this.#engine;
    engine.enterHook(L);
    if (this.#killMessage !== undefined) engine.raise(L, this.#killMessage);
    engine.checkMemoryAtHook(L);
    const now = performance.now();
    if (now < this.clock.endsAt && !preemptRequested()) return;
    if (L === this.#thread && engine.isYieldable(L)) {
      this.#preempted = true;
      engine.yieldFromHook(L);
      return;
    }
    if (this.clock.isOverBudget(now)) this.kill(L, now);
  }

  onLog (line: string): void {
    this.#context.log(line);
  }

  onHostCall (op: string, args: (Uint8Array | undefined)[]): void {
    this.#request = { op, args };
  }

  onBind (L: Thread): void {
    const engine = this.#engine;
    for (const index of [1, 2]) {
      engine.pushValue(L, index);
      this.#bindRefs.push(engine.ref(L));
    }
    this.#installStringLibrary();
  }

  cpuSeconds (): number {
    return this.clock.usedAt(performance.now()) / 1000;
  }

  killMessage (): string | undefined {
    return this.#killMessage ?? (this.#engine.memoryBreached ? 'not enough memory' : undefined);
  }

  kill (L: Thread, now: number, detail?: string): never {
    this.#killMessage = cpuBudgetError(this.clock.budgetMs, this.clock.usedAt(now), detail).message;
    this.#engine.hookEveryInstruction(this.#thread!);
    return this.#engine.raise(L, this.#killMessage);
  }

  // --- internals ---

  /** Points the shared string metatable at this invocation's string table (see the prelude). */
  #installStringLibrary (): void {
    if (this.#bindRefs.length !== 2) return;
    const engine = this.#engine;
    const L = engine.mainThread;
    engine.pushRef(L, engine.stringMetatableRef);
    engine.pushText(L, '__index');
    engine.pushRef(L, this.#bindRefs[0]!);
    engine.rawSet(L, -3);
    engine.pushText(L, '__metatable');
    engine.pushRef(L, this.#bindRefs[1]!);
    engine.rawSet(L, -3);
    engine.setTop(L, 0);
  }

  #outcomeOf (status: ResumeStatus): SliceOutcome {
    const engine = this.#engine;
    const thread = this.#thread!;
    if (engine.memoryBreached) return { state: 'failed', error: engine.memoryError() };
    if (status === 'yield') {
      if (this.#request !== undefined) {
        this.#pending = new PendingHostCall(this.#context, this.#request.op, this.#request.args);
        this.#request = undefined;
        engine.setTop(thread, 0);
        return { state: 'wait', until: this.#pending.settled };
      }
      if (this.#preempted) {
        this.#preempted = false;
        return kYield;
      }
      return { state: 'failed', error: { code: 'ERR_INTERNAL', message: `${engine.language}: the invocation yielded without a reason` } };
    }
    if (status === 'ok') return { state: 'done', output: engine.topBytes(thread) ?? new Uint8Array() };
    if (this.#killMessage !== undefined) return { state: 'failed', error: { code: 'ERR_CPU_BUDGET', message: this.#killMessage } };
    const failure = engine.failureOf(thread);
    if (failure !== undefined) return { state: 'failed', error: failure };
    return { state: 'failed', error: { code: 'ERR_FUNCTION', message: this.#errorMessage(thread) } };
  }

  #errorMessage (thread: Thread): string {
    const engine = this.#engine;
    const message = engine.topText(thread) ?? describeErrorValue(engine.topTypeName(thread));
    return errorWithTraceback(message, engine.traceback(thread));
  }

  #pushHostCallReply (thread: Thread): number {
    const engine = this.#engine;
    const reply = this.#pending!.reply!;
    this.#pending = undefined;
    if (!reply.ok) {
      engine.pushBoolean(thread, false);
      engine.pushText(thread, reply.message);
      return 2;
    }
    engine.pushBoolean(thread, true);
    for (const value of reply.values) {
      if (typeof value === 'string') engine.pushText(thread, value);
      else if (typeof value === 'number') engine.pushInteger(thread, value);
      else if (typeof value === 'boolean') engine.pushBoolean(thread, value);
      else engine.pushBytes(thread, value);
    }
    return 1 + reply.values.length;
  }

  #release (): void {
    if (this.#phase === 'ended') return;
    const wasStarted = this.#phase === 'running';
    this.#phase = 'ended';
    if (!wasStarted) return;
    const engine = this.#engine;
    engine.unref(this.#threadRef);
    for (const ref of this.#bindRefs) engine.unref(ref);
    this.#bindRefs = [];
    this.#thread = undefined;
    engine.ended();
  }
}
