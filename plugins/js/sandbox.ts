import type { Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import type { Fiber, InvocationContext, Sandbox } from '../../engine/plugin.ts';
import type { CheckedModule } from '../js-common/check-module.ts';
import { decodeInput } from '../js-common/host-values.ts';
import { JsFiber } from './fiber.ts';
import type { SparePool } from '../js-common/spare-pool.ts';
import type { IsolateInstance } from './isolate-instance.ts';

/**
 * A deployed `js` function version: one live isolate at a time, shared by all its invocations.
 * When that isolate dies (memory), the next invocation gets a new one, made from the pool: the
 * replacement is invisible except for the invocations that were using the dead one.
 */
export class JsSandbox implements Sandbox {
  readonly budget: Budget;
  readonly #module: CheckedModule;
  readonly #pool: SparePool<IsolateInstance>;
  #current: Promise<IsolateInstance> | undefined;
  #closed = false;

  constructor (module: CheckedModule, budget: Budget, pool: SparePool<IsolateInstance>) {
    this.#module = module;
    this.budget = budget;
    this.#pool = pool;
  }

  /**
   * The live isolate with the function loaded, making one when there is none or it died.
   * @throws {EngineError} the module's own failure (ERR_FUNCTION, ERR_CPU_BUDGET, ...) when loading it fails.
   */
  acquire (): Promise<IsolateInstance> {
    if (this.#closed) return Promise.reject(new EngineError('ERR_INTERNAL', 'js: acquire() on a closed sandbox'));
    this.#current ??= this.#load();
    return this.#current;
  }

  async #load (): Promise<IsolateInstance> {
    const instance = await this.#pool.take(this.budget.memoryBytes);
    const failure = await instance.load(this.#module.source, this.budget.cpuMs);
    if (failure !== undefined) {
      instance.close();
      this.#current = undefined;
      throw new EngineError(failure.code, `loading the module failed: ${failure.message}`);
    }
    instance.onDeath(() => {
      if (this.#current !== undefined) void this.#current.then((current) => { if (current === instance) this.#current = undefined; });
    });
    if (this.#closed) instance.close();
    return instance;
  }

  /** Starts an invocation; guest code runs from the fiber's first run() on. */
  invoke (input: Uint8Array, context: InvocationContext): Fiber {
    if (this.#closed) throw new EngineError('ERR_INTERNAL', 'js: invoke() on a closed sandbox');
    return new JsFiber(this, decodeInput(input), context);
  }

  /** Disposes the isolate. Idempotent. */
  async close (): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const current = this.#current;
    this.#current = undefined;
    await current?.then((instance) => instance.close(), () => {});
  }

  [Symbol.asyncDispose] (): Promise<void> {
    return this.close();
  }
}
