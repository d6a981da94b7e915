import { toErrorRecord } from '../../engine/errors.ts';
import type { InvocationContext } from '../../engine/plugin.ts';
import { clip, fetchRequest } from './host-values.ts';

/** One settled fetch as the guest prelude's deliver() takes it: `[fetchId, ok, [status, headersJson, body] | [code, message]]`. */
export type Settlement = [number, boolean, unknown[]];

/**
 * The host side of one invocation's ctx.fetch calls: starts each request through the engine
 * (context.fetch, which meters and may refuse it), and queues the settlements until the fiber's
 * next run() hands them to the guest. Shared by both engines.
 */
export class FetchRelay {
  readonly #context: InvocationContext;
  readonly #ready: Settlement[] = [];
  #inFlight = 0;
  #wake: (() => void) | undefined;
  #settled: Promise<void> | undefined;

  constructor (context: InvocationContext) {
    this.#context = context;
  }

  /** Requests started and not yet settled. */
  get inFlight (): number { return this.#inFlight; }

  /** Settlements waiting to be delivered to the guest. */
  get readyCount (): number { return this.#ready.length; }

  /** Starts a guest's request; arguments come straight from the guest and are checked here. */
  start (fetchId: number, url: unknown, method: unknown, headersJson: unknown, body: unknown): void {
    this.#inFlight++;
    let response;
    try {
      response = this.#context.fetch(fetchRequest(url, method, headersJson, body));
    } catch (error) {
      response = Promise.reject(error);
    }
    response.then((value) => {
      this.#settle([fetchId, true, [value.status, JSON.stringify(value.headers), value.body]]);
    }, (error: unknown) => {
      const record = toErrorRecord(error);
      this.#settle([fetchId, false, [record.code, clip(record.message)]]);
    });
  }

  /** Takes the settlements not yet delivered. */
  takeReady (): Settlement[] {
    return this.#ready.splice(0, this.#ready.length);
  }

  /** Resolves when the next request settles (never, when none is in flight). */
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
