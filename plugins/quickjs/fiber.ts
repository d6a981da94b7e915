import { performance } from 'node:perf_hooks';
import { cpuBudgetError } from '../../engine/budget-errors.ts';
import { toErrorRecord, type ErrorRecord } from '../../engine/errors.ts';
import { kYield, type Fiber, type InvocationContext, type Slice, type SliceOutcome } from '../../engine/plugin.ts';
import { HostCallRelay, type Settlement } from '../js-common/host-call-relay.ts';
import { requestJson, settledOutcome } from '../js-common/guest-prelude.ts';
import { decodeInput } from '../js-common/host-values.ts';
import { TimerRelay } from '../js-common/timer-relay.ts';
import { JspiStack } from '../wasm-common/jspi-stack.ts';
import type { QuickJsInstance, Step, StepEnd, StepInput, StepOwner } from './instance.ts';
import { kGoOn, kInterrupt, kSuspend } from './interrupt-trampoline.ts';
import type { QuickJsSandbox } from './sandbox.ts';

let nextInvocationId = 1;

/** What the guest reported through `settled`: ok and the handler's value, or not ok and [code, message]. */
type Result = readonly [ok: boolean, payload: unknown, response?: unknown];

/**
 * Where an invocation is. Whether a step's stack is parked or resumed is the JSPI stack's to say.
 * - `new`: nothing run yet. `acquiring`: waiting for the function's instance.
 * - `attached`: holds the function's instance and runs steps on it. `started` once the handler has
 *   been called; `result` once the guest reported it (the invocation ends at the next step boundary,
 *   unless the step fails); `doomed` once a guarded builtin asked for more CPU than the budget had
 *   left (every poll interrupts from then on, and the failure is the budget's).
 * - `finished`: the outcome, and the memory size reported with it.
 */
type QuickJsFiberState =
  | { readonly kind: 'new' }
  | { readonly kind: 'acquiring', readonly loaded: Promise<void> }
  | Attached
  | { readonly kind: 'finished', readonly outcome: SliceOutcome, readonly memoryBytes: number };

interface Attached {
  readonly kind: 'attached';
  readonly instance: QuickJsInstance;
  readonly started: boolean;
  readonly result: Result | undefined;
  readonly doomed: string | undefined;
}

/** An `attached` state, built in one place so that it always has the same fields in the same order. */
function attached (instance: QuickJsInstance, started: boolean, result: Result | undefined, doomed: string | undefined): Attached {
  return { kind: 'attached', instance, started, result, doomed };
}

const kNew: QuickJsFiberState = Object.freeze({ kind: 'new' });

/**
 * One `quickjs` invocation, run in slices on the engine's thread.
 *
 * Guest code runs in steps (instance.ts): load the module when the instance has none, start the
 * function, then one step per settled fetch or due timer (timers still pending when the result is
 * known are dropped). A step starts inside run() and runs synchronously until
 * it finishes or the slice is over; then QuickJS's interrupt poll parks its wasm stack and run()
 * returns 'yield'. Later slices of that step are 'continue' slices, resumed and bounded by the JSPI
 * stack (wasm-common/jspi-stack.ts), like the C plugin's.
 */
export class QuickJsFiber implements Fiber, StepOwner {
  readonly #sandbox: QuickJsSandbox;
  /** The input as received: a Workers-format module takes it as bytes, a function as a string. */
  readonly #input: Uint8Array;
  readonly #context: InvocationContext;
  readonly #relay: HostCallRelay;
  readonly #timers = new TimerRelay();
  readonly #id = nextInvocationId++;
  readonly #stack = new JspiStack<number>();
  #state: QuickJsFiberState = kNew;
  /** Fetch settlements and fired timers taken from the relays and not yet delivered (one per step). */
  readonly #ready: Settlement[] = [];
  /** Settles when the invocation finishes: wakes a fiber waiting for fetches (made only when one waits). */
  #finished: PromiseWithResolvers<void> | undefined;
  /** Time spent inside run() so far, and when the run() in progress started (0 outside run()), in ms. */
  #inRunMs = 0;
  #runStartedAt = 0;

  constructor (sandbox: QuickJsSandbox, input: Uint8Array, context: InvocationContext) {
    this.#sandbox = sandbox;
    this.#input = input;
    this.#context = context;
    this.#relay = new HostCallRelay(context);
  }

  /** The function's wasm memory size (shared by its invocations; at least the build's 16 MiB), in bytes. */
  get memoryBytes (): number {
    const state = this.#state;
    if (state.kind === 'attached') return state.instance.heapBytes;
    return state.kind === 'finished' ? state.memoryBytes : 0;
  }

  /** Time of the slices that ran as promise reactions after run() returned ('continue'), in ms. */
  get offThreadCpuMs (): number { return this.#stack.offThreadCpuMs; }

  run (slice: Slice): SliceOutcome {
    this.#runStartedAt = performance.now();
    try {
      return this.#run(slice);
    } finally {
      this.#inRunMs += performance.now() - this.#runStartedAt;
      this.#runStartedAt = 0;
    }
  }

  #run (slice: Slice): SliceOutcome {
    if (this.#state.kind === 'attached') {
      const away = this.#stack.resume(slice, kGoOn);
      if (away !== undefined) return away;
      this.#stack.runInside(slice);
    }
    return this.#advance();
  }

  cancel (reason: ErrorRecord): void {
    if (this.#state.kind === 'finished') return;
    this.#finish({ state: 'failed', error: reason });
    // A parked stack is resumed with an interrupt: QuickJS unwinds it (uncatchable) and frees the instance.
    this.#stack.unwind((gate) => gate.resolve(kInterrupt));
  }

  // ---- StepOwner: called from inside the guest's stack ----

  checkSlice (): number {
    const state = this.#state;
    if (state.kind !== 'attached' || state.doomed !== undefined) return kInterrupt;
    return this.#stack.sliceOver() ? kSuspend : kGoOn;
  }

  afford (ms: number, what: string): boolean {
    const state = this.#state;
    if (state.kind !== 'attached' || state.doomed !== undefined) return false;
    const leftMs = this.#sandbox.budget.cpuMs - this.#cpuUsedMs();
    if (!(ms > leftMs)) return true;
    this.#state = attached(state.instance, state.started, state.result, `${what} would take about ${Math.round(ms)} ms, more than the ${Math.max(0, Math.round(leftMs))} ms left`);
    return false;
  }

  parked (): Promise<number> {
    return this.#stack.park();
  }

  // ----

  #acquire (): SliceOutcome {
    const loaded = this.#sandbox.acquire().then((instance) => {
      if (this.#state.kind === 'finished') return; // cancelled while the instance loaded
      instance.attach(this.#id, {
        log: (line) => this.#context.log(line),
        call: (callId, op, a, b, c, d) => this.#relay.start(callId, op, a, b, c, d),
        settled: (ok, payload, response) => this.#settled([ok, payload, response]),
        timer: (timerId, delayMs) => this.#timers.set(timerId, delayMs),
      });
      this.#state = attached(instance, false, undefined, undefined);
    }, (error: unknown) => { this.#finish({ state: 'failed', error: toErrorRecord(error) }); });
    this.#state = { kind: 'acquiring', loaded };
    return { state: 'wait', until: loaded };
  }

  /** Runs steps inside run() until the invocation ends, waits, or the slice is over. */
  #advance (): SliceOutcome {
    for (;;) {
      const state = this.#state;
      if (state.kind === 'finished') return state.outcome;
      if (state.kind === 'new') return this.#acquire();
      if (state.kind === 'acquiring') return { state: 'wait', until: state.loaded };
      const { instance } = state;
      if (state.result !== undefined) return this.#finish(settledOutcome(...state.result));
      if (instance.death !== undefined) {
        // Another invocation's cold start failed (or an earlier one broke the instance) before this
        // one began: it gets a fresh instance and loads the module itself.
        if (!state.started) return this.#reacquire(instance);
        return this.#finish({ state: 'failed', error: instance.death });
      }
      // Checked before an input is taken: a settled fetch taken and then left behind by a return
      // here would be lost, and the guest would wait for it until its wall-clock budget ran out.
      if (instance.busy) return { state: 'wait', until: instance.idle() };
      if (this.#stack.sliceOver()) return kYield;
      let step: Step;
      if (!instance.moduleReady) {
        // The cold start: the module's top-level code runs as this invocation's first step.
        step = instance.load(this, this.#id, this.#sandbox.source, this.#sandbox.envJson);
      } else {
        // An invocation that ended without its result (cancelled) left its fetches and timers in the guest: drop them first.
        const orphan = instance.takeOrphan();
        const input = orphan !== undefined ? { op: 'forget', id: orphan } as const : this.#nextInput(instance, state.started);
        if (input === undefined) {
          const finished = (this.#finished ??= Promise.withResolvers<void>()).promise;
          const wakes = [finished];
          if (this.#relay.inFlight > 0) wakes.push(this.#relay.nextSettled());
          if (this.#timers.pendingCount > 0) wakes.push(this.#timers.nextFired());
          return { state: 'wait', until: wakes.length === 1 ? finished : Promise.race(wakes) };
        }
        if (input.op === 'start') this.#state = attached(instance, true, state.result, state.doomed);
        step = instance.run(this, this.#id, input);
      }
      const waiting = this.#follow(instance, step);
      if (waiting !== undefined) return waiting;
    }
  }

  /** Handles a step just entered: undefined when it has ended already, else how run() returns while it goes on. */
  #follow (instance: QuickJsInstance, step: Step): SliceOutcome | undefined {
    if (step.end !== undefined) {
      this.#onStepEnd(instance, step.end);
      return undefined;
    }
    void step.finished.then((end) => {
      this.#onStepEnd(instance, end);
      this.#stack.endSlice();
    });
    // Parked at the end of the slice, or finished in a way whose outcome arrives as a promise reaction.
    return this.#stack.parkedInRun() ?? { state: 'wait', until: step.finished };
  }

  #reacquire (dead: QuickJsInstance): SliceOutcome {
    dead.detach(this.#id);
    this.#sandbox.retire(dead);
    return this.#acquire();
  }

  #nextInput (instance: QuickJsInstance, started: boolean): StepInput | undefined {
    // Only a Workers-format module reads the HTTP request: a function is not given it.
    if (!started) return instance.worker ? { op: 'start', id: this.#id, input: this.#input, request: requestJson(this.#context.request) } : { op: 'start', id: this.#id, input: decodeInput(this.#input), request: undefined };
    // One settlement per step, so each step's arguments are a handful of scalars.
    if (this.#ready.length === 0) this.#ready.push(...this.#relay.takeReady(), ...this.#timers.takeReady());
    const ready = this.#ready.shift();
    return ready === undefined ? undefined : this.#deliverInput(ready);
  }

  #deliverInput ([fetchId, ok, value]: Settlement): StepInput {
    if (ok) return { op: 'deliver', fetchId, ok, a: value[0], b: String(value[1]), c: value[2] as Uint8Array };
    return { op: 'deliver', fetchId, ok, a: String(value[0]), b: String(value[1]), c: undefined };
  }

  /** The guest reported its result (the first report counts). */
  #settled (result: Result): void {
    const state = this.#state;
    if (state.kind === 'attached' && state.result === undefined) this.#state = attached(state.instance, state.started, result, state.doomed);
  }

  #onStepEnd (instance: QuickJsInstance, end: StepEnd): void {
    if (end.kind === 'failed' && end.error.code === 'ERR_MEMORY_BUDGET') instance.retire(end.error);
    const state = this.#state;
    if (state.kind === 'attached') {
      if (end.kind === 'output') this.#settled([true, end.output]);
      // A doomed invocation's guard threw a catchable error first; whatever followed, the budget is the cause.
      if (end.kind === 'failed' && (end.error.code === 'ERR_CPU_BUDGET' || state.doomed !== undefined)) this.#overBudget(state.doomed);
      else if (end.kind === 'failed') this.#finish({ state: 'failed', error: end.error });
    }
    if (instance.death !== undefined) this.#sandbox.retire(instance);
  }

  /** CPU the invocation has used so far, inside run() and outside it, in ms. */
  #cpuUsedMs (): number {
    const now = performance.now();
    return this.#inRunMs + (this.#runStartedAt > 0 ? now - this.#runStartedAt : 0) + this.#stack.offThreadCpuMsAt(now);
  }

  #overBudget (doomed: string | undefined): void {
    this.#finish({ state: 'failed', error: cpuBudgetError(this.#sandbox.budget.cpuMs, this.#cpuUsedMs(), doomed) });
  }

  #finish (outcome: SliceOutcome): SliceOutcome {
    const state = this.#state;
    if (state.kind === 'finished') return state.outcome;
    const instance = state.kind === 'attached' ? state.instance : undefined;
    this.#state = { kind: 'finished', outcome, memoryBytes: instance?.heapBytes ?? 0 };
    this.#timers.close();
    instance?.detach(this.#id);
    if (state.kind === 'attached' && state.started && state.result === undefined) state.instance.orphan(this.#id);
    if (outcome.state === 'failed' && outcome.error.code === 'ERR_MEMORY_BUDGET' && instance !== undefined) {
      instance.retire(outcome.error);
      this.#sandbox.retire(instance);
    }
    this.#finished?.resolve();
    return outcome;
  }
}
