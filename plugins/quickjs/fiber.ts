import { performance } from 'node:perf_hooks';
import { toErrorRecord, type ErrorRecord } from '../../engine/errors.ts';
import { kYield, type Fiber, type InvocationContext, type Slice, type SliceOutcome } from '../../engine/plugin.ts';
import { FetchRelay, type Settlement } from '../js-common/fetch-relay.ts';
import { failureRecord, outputBytes } from '../js-common/host-values.ts';
import type { QuickJsInstance, Step, StepEnd, StepInput, StepOwner } from './instance.ts';
import { kGoOn, kInterrupt, kSuspend } from './interrupt-trampoline.ts';
import type { QuickJsSandbox } from './sandbox.ts';

let nextInvocationId = 1;

/**
 * One `quickjs` invocation, run in slices on the engine's thread.
 *
 * Guest code runs in steps (instance.ts): start the function, then one step per settled fetch.
 * A step starts inside run() and runs synchronously until it finishes or the slice is over; then
 * QuickJS's interrupt poll parks its wasm stack (JSPI) and run() returns 'yield'. A parked stack
 * can only resume in a promise reaction, after run() returns, so the next run() resumes it and
 * returns 'continue': the resumed slice ends itself at the deadline run() was given (measured
 * from the moment it resumes) and reports its time through offThreadCpuMs, like the C plugin.
 */
export class QuickJsFiber implements Fiber, StepOwner {
  readonly #sandbox: QuickJsSandbox;
  readonly #input: string;
  readonly #context: InvocationContext;
  readonly #relay: FetchRelay;
  readonly #id = nextInvocationId++;
  #instance: QuickJsInstance | undefined;
  #acquiring: Promise<unknown> | undefined;
  #started = false;
  readonly #ready: Settlement[] = [];
  #settled: [boolean, unknown] | undefined;
  #outcome: SliceOutcome | undefined;
  #cancelled = false;
  /** The step in progress, while it is parked or finishing outside run(). */
  #step: Step | undefined;
  #parked = false;
  #gate: ((verdict: number) => void) | undefined;
  #sliceEndsAt = 0;
  #sliceMs = 0;
  #resumedAt = 0;
  #offThreadCpuMs = 0;
  #sliceEnded: { promise: Promise<void>, resolve: () => void } | undefined;
  #memoryBytes = 0;
  /** Time spent inside run() so far, and when the run() in progress started (0 outside run()), in ms. */
  #inRunMs = 0;
  #runStartedAt = 0;
  /** Set when a guarded builtin asked for more CPU than the budget had left: the invocation is over budget. */
  #doomed: string | undefined;
  readonly #onCancel: Promise<void>;
  #wakeOnCancel: (() => void) | undefined;

  constructor (sandbox: QuickJsSandbox, input: string, context: InvocationContext) {
    this.#sandbox = sandbox;
    this.#input = input;
    this.#context = context;
    this.#relay = new FetchRelay(context);
    this.#onCancel = new Promise((resolve) => { this.#wakeOnCancel = resolve; });
  }

  /** The function's wasm memory size (shared by its invocations; at least the build's 16 MiB), in bytes. */
  get memoryBytes (): number { return this.#instance?.heapBytes ?? this.#memoryBytes; }

  /** Time of the slices that ran as promise reactions after run() returned ('continue'), in ms. */
  get offThreadCpuMs (): number { return this.#offThreadCpuMs; }

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
    if (this.#outcome !== undefined) return this.#outcome;
    if (this.#parked) return this.#resume(slice);
    if (this.#sliceEnded !== undefined) return { state: 'continue', until: this.#sliceEnded.promise };
    if (this.#step !== undefined) return { state: 'wait', until: this.#step.finished };
    if (this.#instance === undefined) return this.#acquire();
    this.#sliceEndsAt = slice.endsAt;
    return this.#advance();
  }

  cancel (reason: ErrorRecord): void {
    if (this.#outcome !== undefined) return;
    this.#cancelled = true;
    this.#finish({ state: 'failed', error: reason });
    // A parked stack is resumed with an interrupt: QuickJS unwinds it (uncatchable) and frees the instance.
    const gate = this.#gate;
    this.#gate = undefined;
    gate?.(kInterrupt);
  }

  // ---- StepOwner: called from inside the guest's stack ----

  checkSlice (): number {
    if (this.#cancelled || this.#doomed !== undefined) return kInterrupt;
    return performance.now() >= this.#sliceEndsAt ? kSuspend : kGoOn;
  }

  afford (ms: number, what: string): boolean {
    if (this.#doomed !== undefined) return false;
    const now = performance.now();
    const usedMs = this.#inRunMs + this.#offThreadCpuMs + (this.#runStartedAt > 0 ? now - this.#runStartedAt : 0) + (this.#resumedAt > 0 ? now - this.#resumedAt : 0);
    const leftMs = this.#sandbox.budget.cpuMs - usedMs;
    if (!(ms > leftMs)) return true;
    this.#doomed = `${what} would take about ${Math.round(ms)} ms, more than the ${Math.max(0, Math.round(leftMs))} ms left`;
    return false;
  }

  parked (): Promise<number> {
    this.#endSlice();
    if (this.#cancelled) return Promise.resolve(kInterrupt);
    this.#parked = true;
    return new Promise<number>((resolve) => { this.#gate = resolve; }).then((verdict) => {
      // Runs as the stack resumes: the slice starts now and lasts what run() was given.
      this.#resumedAt = performance.now();
      this.#sliceEndsAt = this.#resumedAt + this.#sliceMs;
      return verdict;
    });
  }

  // ----

  #acquire (): SliceOutcome {
    this.#acquiring ??= this.#sandbox.acquire().then((instance) => {
      this.#instance = instance;
      if (this.#outcome !== undefined) return; // cancelled while the instance loaded
      instance.attach(this.#id, {
        log: (line) => this.#context.log(line),
        fetch: (fetchId, url, method, headers, body) => this.#relay.start(fetchId, url, method, headers, body),
        settled: (ok, payload) => { this.#settled ??= [ok, payload]; },
      });
    }, (error: unknown) => { this.#finish({ state: 'failed', error: toErrorRecord(error) }); });
    return { state: 'wait', until: this.#acquiring };
  }

  #resume (slice: Slice): SliceOutcome {
    this.#parked = false;
    this.#sliceMs = Math.max(0, slice.endsAt - performance.now());
    this.#sliceEnded = deferred();
    const gate = this.#gate;
    this.#gate = undefined;
    const until = this.#sliceEnded.promise;
    gate?.(kGoOn);
    return { state: 'continue', until };
  }

  /** Runs steps inside run() until the invocation ends, waits, or the slice is over. */
  #advance (): SliceOutcome {
    const instance = this.#instance!;
    for (;;) {
      if (this.#outcome !== undefined) return this.#outcome;
      if (this.#settled !== undefined) return this.#finishWith(this.#settled);
      if (instance.death !== undefined) {
        // Another invocation's cold start failed (or an earlier one broke the instance) before this
        // one began: it gets a fresh instance and loads the module itself.
        if (!this.#started) return this.#reacquire(instance);
        return this.#finish({ state: 'failed', error: instance.death });
      }
      // Checked before an input is taken: a settled fetch taken and then left behind by a return
      // here would be lost, and the guest would wait for it until its wall-clock budget ran out.
      if (instance.busy) return { state: 'wait', until: instance.idle() };
      if (performance.now() >= this.#sliceEndsAt) return kYield;
      if (!instance.moduleReady) {
        // The cold start: the module's top-level code runs as this invocation's first step.
        const waiting = this.#follow(instance.load(this, this.#id, this.#sandbox.source));
        if (waiting !== undefined) return waiting;
        continue;
      }
      const input = this.#nextInput();
      if (input === undefined) {
        const until = this.#relay.inFlight > 0 ? Promise.race([this.#relay.nextSettled(), this.#onCancel]) : this.#onCancel;
        return { state: 'wait', until };
      }
      if (input.op === 'start') this.#started = true;
      const waiting = this.#follow(instance.run(this, this.#id, input));
      if (waiting !== undefined) return waiting;
    }
  }

  /** Handles a step just entered: undefined when it has ended already, else how run() returns while it goes on. */
  #follow (step: Step): SliceOutcome | undefined {
    if (step.end !== undefined) {
      this.#onStepEnd(step.end);
      return undefined;
    }
    this.#step = step;
    void step.finished.then((end) => {
      this.#step = undefined;
      this.#onStepEnd(end);
      this.#endSlice();
    });
    // Parked at the end of the slice, or finished in a way whose outcome arrives as a promise reaction.
    return this.#parked ? kYield : { state: 'wait', until: step.finished };
  }

  #reacquire (dead: QuickJsInstance): SliceOutcome {
    dead.detach(this.#id);
    this.#sandbox.retire(dead);
    this.#instance = undefined;
    this.#acquiring = undefined;
    return this.#acquire();
  }

  #nextInput (): StepInput | undefined {
    if (!this.#started) return { op: 'start', id: this.#id, input: this.#input };
    // One settlement per step, so each step's arguments are a handful of scalars.
    if (this.#ready.length === 0) this.#ready.push(...this.#relay.takeReady());
    const ready = this.#ready.shift();
    return ready === undefined ? undefined : this.#deliverInput(ready);
  }

  #deliverInput ([fetchId, ok, value]: Settlement): StepInput {
    if (ok) return { op: 'deliver', fetchId, ok, a: value[0], b: String(value[1]), c: value[2] as Uint8Array };
    return { op: 'deliver', fetchId, ok, a: String(value[0]), b: String(value[1]), c: undefined };
  }

  #onStepEnd (end: StepEnd): void {
    if (end.kind === 'output') this.#settled ??= [true, end.output];
    if (end.kind === 'failed') {
      if (end.error.code === 'ERR_MEMORY_BUDGET' && this.#instance !== undefined) {
        this.#instance.retire(end.error);
        this.#sandbox.retire(this.#instance);
      }
      // A doomed invocation's guard threw a catchable error first; whatever followed, the budget is the cause.
      if (this.#outcome === undefined && (end.error.code === 'ERR_CPU_BUDGET' || this.#doomed !== undefined)) return this.#overBudget();
      this.#finish({ state: 'failed', error: end.error });
    }
    if (this.#instance?.death !== undefined) this.#sandbox.retire(this.#instance);
  }

  #overBudget (): void {
    const { cpuMs } = this.#sandbox.budget;
    const message = this.#doomed === undefined ? `CPU budget of ${cpuMs} ms used up` : `CPU budget of ${cpuMs} ms: ${this.#doomed}`;
    this.#finish({ state: 'failed', error: { code: 'ERR_CPU_BUDGET', message } });
  }

  /** Closes a resumed slice's books: its time is CPU the scheduler did not see. */
  #endSlice (): void {
    if (this.#resumedAt > 0) {
      this.#offThreadCpuMs += performance.now() - this.#resumedAt;
      this.#resumedAt = 0;
    }
    const ended = this.#sliceEnded;
    this.#sliceEnded = undefined;
    ended?.resolve();
  }

  #finishWith ([ok, payload]: [boolean, unknown]): SliceOutcome {
    if (!ok) return this.#finish({ state: 'failed', error: failureRecord(payload) });
    const output = outputBytes(payload);
    if (output instanceof Uint8Array) return this.#finish({ state: 'done', output });
    return this.#finish({ state: 'failed', error: output });
  }

  #finish (outcome: SliceOutcome): SliceOutcome {
    if (this.#outcome !== undefined) return this.#outcome;
    this.#outcome = outcome;
    this.#memoryBytes = this.memoryBytes;
    this.#instance?.detach(this.#id);
    if (outcome.state === 'failed' && outcome.error.code === 'ERR_MEMORY_BUDGET' && this.#instance !== undefined) {
      this.#instance.retire(outcome.error);
      this.#sandbox.retire(this.#instance);
    }
    this.#wakeOnCancel?.();
    return outcome;
  }
}

function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}
