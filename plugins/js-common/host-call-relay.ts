import { toErrorRecord } from '../../engine/errors.ts';
import type { InvocationContext } from '../../engine/plugin.ts';
import { runHostCall } from './host-calls.ts';
import { clip } from './host-values.ts';

/** One settled host call as the guest prelude's deliver() takes it: `[callId, ok, [a, b, c] | [code, message]]` (host-calls.ts). */
export type Settlement = [number, boolean, unknown[]];

/**
 * The host side of one invocation's asynchronous host calls (fetch, ctx.invoke, kv): starts each
 * through the engine (host-calls.ts: the InvocationContext meters and may refuse it), and queues
 * the settlements until the fiber's next run() hands them to the guest. Shared by both engines.
 */
export class HostCallRelay {
  readonly #context: InvocationContext;
  readonly #ready: Settlement[] = [];
  #inFlight = 0;
  #wake: (() => void) | undefined;
  #settled: Promise<void> | undefined;

  constructor (context: InvocationContext) {
    this.#context = context;
  }

  /** Calls started and not yet settled. */
  get inFlight (): number { return this.#inFlight; }

  /** Settlements waiting to be delivered to the guest. */
  get readyCount (): number { return this.#ready.length; }

  /** Starts a guest's call; arguments come straight from the guest and are checked by runHostCall. */
  start (callId: number, op: unknown, a: unknown, b: unknown, c: unknown, d: unknown): void {
    this.#inFlight++;
    runHostCall(this.#context, op, a, b, c, d).then((value) => {
      this.#settle([callId, true, value]);
    }, (error: unknown) => {
      const record = toErrorRecord(error);
      this.#settle([callId, false, [record.code, clip(record.message)]]);
    });
  }

  /** Takes the settlements not yet delivered. */
  takeReady (): Settlement[] {
    return this.#ready.splice(0, this.#ready.length);
  }

  /** Resolves when the next call settles (never, when none is in flight). */
  nextSettled (): Promise<void> {
    this.#settled ??= new Promise((resolve) => { this.#wake = resolve; });
    return this.#settled;
  }

  #settle (settlement: Settlement): void {
    this.#inFlight--;
    this.#ready.push(settlement);
    const wake = this.#wake;
    this.#wake = undefined;
    this.#settled = undefined;
    wake?.();
  }
}
