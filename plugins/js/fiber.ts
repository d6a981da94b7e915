import { cpuBudgetError } from '../../engine/budget-errors.ts';
import { toErrorRecord, type ErrorRecord } from '../../engine/errors.ts';
import type { Fiber, InvocationContext, SliceOutcome } from '../../engine/plugin.ts';
import { HostCallRelay } from '../js-common/host-call-relay.ts';
import { requestJson, settledOutcome } from '../js-common/guest-prelude.ts';
import { decodeInput } from '../js-common/host-values.ts';
import { TimerRelay } from '../js-common/timer-relay.ts';
import type { EntryBounds, EntryResult, IsolateInstance } from './isolate-instance.ts';
import type { JsSandbox } from './sandbox.ts';

let nextInvocationId = 1;

/**
 * One `js` invocation. Guest code never runs on the engine's thread: the first run() starts a
 * driver that enters the isolate (on isolated-vm's threads) and returns `wait` on it; the fiber
 * is woken once, when the invocation has ended, and the next run() returns the outcome.
 *
 * The driver enters the isolate once to call the function, and once more each time fetches it
 * awaits have settled or its timers are due (timers still pending when the result is known are
 * dropped); every entry runs under a timeout of the CPU left (and the instance's
 * watchdog), and the CPU each entry used (isolate.cpuTime) is reported as offThreadCpuMs, plus the
 * CPU of a cold start this invocation waited for. A function awaiting something that can never
 * settle (no fetch in flight, no timer pending) just waits: its wall-clock budget ends it. An invocation cancelled
 * while its entry runs (wall-clock budget, caller gone) stops the isolate: V8 cannot stop one call
 * and keep the isolate, so the function's next invocation gets a new one.
 */
export class JsFiber implements Fiber {
  readonly #sandbox: JsSandbox;
  /** The input as received: a Workers-format module takes it as bytes, a function as a string. */
  readonly #input: Uint8Array;
  readonly #context: InvocationContext;
  readonly #relay: HostCallRelay;
  readonly #timers = new TimerRelay();
  #cpuMs = 0;
  #memoryBytes = 0;
  #outcome: SliceOutcome | undefined;
  #driving: Promise<void> | undefined;
  #settled: [ok: boolean, payload: unknown, response?: unknown] | undefined;
  #wakeOnCancel: (() => void) | undefined;
  readonly #cancelled: Promise<void>;
  /** The instance this invocation runs on and its id there, once attached. */
  #instance: IsolateInstance | undefined;
  #id = 0;
  /** Set when cancel() charged the running entry's CPU itself: that entry's result must not be charged again. */
  #accountsClosed = false;

  constructor (sandbox: JsSandbox, input: Uint8Array, context: InvocationContext) {
    this.#sandbox = sandbox;
    this.#input = input;
    this.#context = context;
    this.#relay = new HostCallRelay(context);
    this.#cancelled = new Promise((resolve) => { this.#wakeOnCancel = resolve; });
  }

  /** CPU used inside the isolate by this invocation's entries, in ms. */
  get offThreadCpuMs (): number { return this.#cpuMs; }

  /** The isolate's heap high-water mark seen after this invocation's entries (the isolate is shared by the function's invocations). */
  get memoryBytes (): number { return this.#memoryBytes; }

  run (): SliceOutcome {
    if (this.#outcome !== undefined) return this.#outcome;
    this.#driving ??= this.#drive().catch((error: unknown) => { this.#finish({ state: 'failed', error: toErrorRecord(error) }); });
    return { state: 'wait', until: this.#driving };
  }

  cancel (reason: ErrorRecord): void {
    if (this.#outcome !== undefined) return;
    if (this.#instance !== undefined) {
      // The engine reads offThreadCpuMs right after cancel(): charge the running entry's CPU now.
      const usedMs = this.#instance.interrupt(this.#id, { code: reason.code, message: `${reason.message} (the function's isolate was stopped while it ran)` });
      if (usedMs > 0) {
        this.#cpuMs += usedMs;
        this.#accountsClosed = true;
      }
    }
    this.#finish({ state: 'failed', error: reason });
  }

  /** Attempts at starting on an isolate that turned out dead before the call began (another invocation's kill). */
  static readonly #kMaxStartAttempts = 3;

  async #drive (): Promise<void> {
    const id = nextInvocationId++;
    let instance: IsolateInstance;
    let started: EntryResult;
    for (let attempt = 1; ; attempt++) {
      try {
        instance = await this.#sandbox.acquire();
      } finally {
        this.#cpuMs += this.#sandbox.takeColdStartCpuMs();
      }
      if (this.#outcome !== undefined) return;
      if (this.#cpuLeftMs() <= 0) return this.#overBudget();
      instance.attach(id, {
        log: (line) => this.#context.log(line),
        call: (callId, op, a, b, c, d) => this.#relay.start(callId, op, a, b, c, d),
        settled: (ok, payload, response) => { this.#settled ??= [ok, payload, response]; },
        timer: (timerId, delayMs) => this.#timers.set(timerId, delayMs),
      });
      this.#instance = instance;
      this.#id = id;
      // Only a Workers-format module reads the HTTP request: a function is not given it.
      started = await (instance.worker
        ? instance.start(id, this.#input, requestJson(this.#context.request), this.#bounds())
        : instance.start(id, decodeInput(this.#input), undefined, this.#bounds()));
      // No guest code ran: the isolate died under another invocation while this one queued. Try a new one.
      if (!started.ok && !started.started && attempt < JsFiber.#kMaxStartAttempts && this.#outcome === undefined) {
        instance.detach(id);
        continue;
      }
      break;
    }
    try {
      if (!this.#account(started, instance)) return;
      if (started.ok && started.value !== undefined) {
        const [done, payload] = started.value as [number, unknown];
        this.#settled = [done === 1, payload];
      }
      while (this.#settled === undefined && this.#outcome === undefined) {
        if (this.#relay.readyCount === 0 && this.#timers.readyCount === 0) {
          const wakes = [this.#cancelled];
          if (this.#relay.inFlight > 0) wakes.push(this.#relay.nextSettled());
          if (this.#timers.pendingCount > 0) wakes.push(this.#timers.nextFired());
          await Promise.race(wakes);
          continue;
        }
        if (this.#cpuLeftMs() <= 0) return this.#overBudget();
        const delivered = await instance.deliver(id, [...this.#relay.takeReady(), ...this.#timers.takeReady()], this.#bounds());
        if (!this.#account(delivered, instance)) return;
      }
      if (this.#settled !== undefined) this.#finish(settledOutcome(...this.#settled));
    } finally {
      instance.detach(id);
      if (this.#settled === undefined) instance.forget(id);
    }
  }

  #cpuLeftMs (): number {
    return Math.max(0, Math.ceil(this.#sandbox.budget.cpuMs - this.#cpuMs));
  }

  /** What the next entry may use: the CPU left, and at most the whole wall-clock budget (the engine's own deadline normally comes first). */
  #bounds (): EntryBounds {
    return { cpuMs: this.#cpuLeftMs(), wallMs: this.#sandbox.budget.wallMs };
  }

  /** Charges an entry; false when it ended the invocation. */
  #account (entry: EntryResult, instance: IsolateInstance): boolean {
    if (!this.#accountsClosed) this.#cpuMs += entry.cpuMs;
    if (instance.peakHeapBytes > this.#memoryBytes) this.#memoryBytes = instance.peakHeapBytes;
    if (this.#outcome !== undefined) return false;
    if (entry.ok) return true;
    if (entry.error.code === 'ERR_CPU_BUDGET') this.#overBudget();
    else this.#finish({ state: 'failed', error: entry.error });
    return false;
  }

  #overBudget (): void {
    const { cpuMs } = this.#sandbox.budget;
    this.#finish({ state: 'failed', error: cpuBudgetError(cpuMs, this.#cpuMs) });
  }

  #finish (outcome: SliceOutcome): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = outcome;
    this.#timers.close();
    this.#wakeOnCancel?.();
  }
}
