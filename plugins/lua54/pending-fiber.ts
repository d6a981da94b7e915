import type { ErrorRecord } from '../../engine/errors.ts';
import type { Fiber, Slice, SliceOutcome } from '../../engine/plugin.ts';

/**
 * An invocation that arrives while its function's Lua state is being rebuilt (after a trap): it
 * waits, at no CPU cost, for the new state, then runs as a normal fiber on it.
 */
export class PendingFiber implements Fiber {
  readonly #ready: Promise<void>;
  #fiber: Fiber | undefined;
  #failure: ErrorRecord | undefined;
  #cancelled: ErrorRecord | undefined;

  constructor (fiber: Promise<Fiber>) {
    this.#ready = fiber.then((ready) => {
      this.#fiber = ready;
      if (this.#cancelled !== undefined) ready.cancel(this.#cancelled);
    }, (error: unknown) => {
      this.#failure = { code: 'ERR_INTERNAL', message: `lua54: the function's Lua state could not be rebuilt: ${error instanceof Error ? error.message : String(error)}` };
    });
  }

  get memoryBytes (): number { return this.#fiber?.memoryBytes ?? 0; }

  run (slice: Slice): SliceOutcome {
    if (this.#fiber !== undefined) return this.#fiber.run(slice);
    if (this.#failure !== undefined) return { state: 'failed', error: this.#failure };
    return { state: 'wait', until: this.#ready };
  }

  cancel (reason: ErrorRecord): void {
    this.#cancelled = reason;
    this.#fiber?.cancel(reason);
  }
}
