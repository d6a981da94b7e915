import { toErrorRecord, type ErrorRecord } from '../../engine/errors.ts';
import type { Fiber, InvocationContext, SliceOutcome } from '../../engine/plugin.ts';
import { FetchRelay } from '../js-common/fetch-relay.ts';
import { failureRecord, outputBytes } from '../js-common/host-values.ts';
import type { EntryResult, IsolateInstance } from './isolate-instance.ts';
import type { JsSandbox } from './sandbox.ts';

let nextInvocationId = 1;

/**
 * One `js` invocation. Guest code never runs on the engine's thread: the first run() starts a
 * driver that enters the isolate (on isolated-vm's threads) and returns `wait` on it; the fiber
 * is woken once, when the invocation has ended, and the next run() returns the outcome.
 *
 * The driver enters the isolate once to call the function, and once more each time fetches it
 * awaits have settled; every entry runs under a timeout of the CPU left, and the CPU each entry
 * used (isolate.cpuTime) is reported as offThreadCpuMs. A function awaiting something that can
 * never settle (no fetch in flight) just waits: its wall-clock budget ends it.
 */
export class JsFiber implements Fiber {
  readonly #sandbox: JsSandbox;
  readonly #input: string;
  readonly #context: InvocationContext;
  readonly #relay: FetchRelay;
  #cpuMs = 0;
  #memoryBytes = 0;
  #outcome: SliceOutcome | undefined;
  #driving: Promise<void> | undefined;
  #settled: [boolean, unknown] | undefined;
  #wakeOnCancel: (() => void) | undefined;
  readonly #cancelled: Promise<void>;

  constructor (sandbox: JsSandbox, input: string, context: InvocationContext) {
    this.#sandbox = sandbox;
    this.#input = input;
    this.#context = context;
    this.#relay = new FetchRelay(context);
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
    this.#finish({ state: 'failed', error: reason });
  }

  async #drive (): Promise<void> {
    const instance = await this.#sandbox.acquire();
    if (this.#outcome !== undefined) return;
    const id = nextInvocationId++;
    instance.attach(id, {
      log: (line) => this.#context.log(line),
      fetch: (fetchId, url, method, headers, body) => this.#relay.start(fetchId, url, method, headers, body),
      settled: (ok, payload) => { this.#settled ??= [ok, payload]; },
    });
    try {
      const started = await instance.start(id, this.#input, this.#cpuLeftMs());
      if (!this.#account(started, instance)) return;
      if (started.ok && started.value !== undefined) {
        const [done, payload] = started.value as [number, unknown];
        this.#settled = [done === 1, payload];
      }
      while (this.#settled === undefined && this.#outcome === undefined) {
        if (this.#relay.readyCount === 0) {
          await Promise.race([this.#relay.inFlight === 0 ? this.#cancelled : this.#relay.nextSettled(), this.#cancelled]);
          continue;
        }
        if (this.#cpuLeftMs() <= 0) return this.#overBudget();
        const delivered = await instance.deliver(id, this.#relay.takeReady(), this.#cpuLeftMs());
        if (!this.#account(delivered, instance)) return;
      }
      if (this.#settled !== undefined) this.#finishWith(this.#settled);
    } finally {
      instance.detach(id);
      if (this.#settled === undefined) instance.forget(id);
    }
  }

  #cpuLeftMs (): number {
    return Math.max(0, Math.ceil(this.#sandbox.budget.cpuMs - this.#cpuMs));
  }

  /** Charges an entry; false when it ended the invocation. */
  #account (entry: EntryResult, instance: IsolateInstance): boolean {
    this.#cpuMs += entry.cpuMs;
    if (instance.peakHeapBytes > this.#memoryBytes) this.#memoryBytes = instance.peakHeapBytes;
    if (this.#outcome !== undefined) return false;
    if (entry.ok) return true;
    if (entry.error.code === 'ERR_CPU_BUDGET') this.#overBudget();
    else this.#finish({ state: 'failed', error: entry.error });
    return false;
  }

  #overBudget (): void {
    const { cpuMs } = this.#sandbox.budget;
    this.#finish({ state: 'failed', error: { code: 'ERR_CPU_BUDGET', message: `CPU budget of ${cpuMs} ms used up (${this.#cpuMs.toFixed(1)} ms)` } });
  }

  #finishWith ([ok, payload]: [boolean, unknown]): void {
    if (!ok) return this.#finish({ state: 'failed', error: failureRecord(payload) });
    const output = outputBytes(payload);
    if (output instanceof Uint8Array) this.#finish({ state: 'done', output });
    else this.#finish({ state: 'failed', error: output });
  }

  #finish (outcome: SliceOutcome): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = outcome;
    this.#wakeOnCancel?.();
  }
}
