import type { Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import type { Fiber, InvocationContext, Sandbox } from '../../engine/plugin.ts';
import type { CheckedModule } from '../js-common/check-module.ts';
import { decodeInput } from '../js-common/host-values.ts';
import { QuickJsFiber } from './fiber.ts';
import type { SparePool } from '../js-common/spare-pool.ts';
import type { QuickJsInstance } from './instance.ts';

/**
 * A deployed `quickjs` function version: one live QuickJS instance at a time, shared by its
 * invocations. An instance retired for memory (or that trapped) is closed once idle and the next
 * invocation loads a new one: module state starts afresh, as with `js`.
 */
export class QuickJsSandbox implements Sandbox {
  readonly budget: Budget;
  readonly #module: CheckedModule;
  readonly #pool: SparePool<QuickJsInstance>;
  #current: Promise<QuickJsInstance> | undefined;
  #closed = false;

  constructor (module: CheckedModule, budget: Budget, pool: SparePool<QuickJsInstance>) {
    this.#module = module;
    this.#pool = pool;
    this.budget = budget;
  }

  /**
   * The live instance, loading one when there is none or the last one died.
   * @throws {EngineError} the module's own failure (ERR_FUNCTION, ERR_CPU_BUDGET, ERR_MEMORY_BUDGET) when loading fails.
   */
  acquire (): Promise<QuickJsInstance> {
    if (this.#closed) return Promise.reject(new EngineError('ERR_INTERNAL', 'quickjs: acquire() on a closed sandbox'));
    this.#current ??= this.#load();
    return this.#current;
  }

  async #load (): Promise<QuickJsInstance> {
    const instance = await this.#pool.take(this.budget.memoryBytes);
    const failure = instance.load(this.#module.source, this.budget.cpuMs);
    if (failure !== undefined) {
      instance.close();
      this.#current = undefined;
      throw new EngineError(failure.code, failure.message);
    }
    if (this.#closed) instance.close();
    return instance;
  }

  /** Drops a dead instance so the next acquire() loads a new one; it is closed once its step ends. */
  retire (instance: QuickJsInstance): void {
    void this.#current?.then((current) => {
      if (current !== instance) return;
      this.#current = undefined;
      void instance.idle().then(() => instance.close());
    }, () => {});
  }

  invoke (input: Uint8Array, context: InvocationContext): Fiber {
    if (this.#closed) throw new EngineError('ERR_INTERNAL', 'quickjs: invoke() on a closed sandbox');
    return new QuickJsFiber(this, decodeInput(input), context);
  }

  /** Closes the instance once no step runs in it. Idempotent. */
  async close (): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const current = this.#current;
    this.#current = undefined;
    const instance = await current?.catch(() => undefined);
    if (instance === undefined) return;
    await instance.idle();
    instance.close();
  }

  [Symbol.asyncDispose] (): Promise<void> {
    return this.close();
  }
}
