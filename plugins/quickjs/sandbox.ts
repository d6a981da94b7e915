import type { Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import type { Fiber, InvocationContext, Sandbox } from '../../engine/plugin.ts';
import type { CheckedModule } from '../js-common/check-module.ts';
import { QuickJsFiber } from './fiber.ts';
import type { SparePool } from '../common/spare-pool.ts';
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
  /** What #current resolved to, so retire() can drop it at once. */
  #currentInstance: QuickJsInstance | undefined;
  #closed = false;

  /** The deploy-time variables as JSON, bound with the module (undefined: none). */
  readonly envJson: string | undefined;

  constructor (module: CheckedModule, budget: Budget, pool: SparePool<QuickJsInstance>, env?: Readonly<Record<string, string>>) {
    this.#module = module;
    this.#pool = pool;
    this.budget = budget;
    this.envJson = env === undefined ? undefined : JSON.stringify(env);
  }

  /** The function's module source; an invocation that finds the instance without it loads it (instance.load). */
  get source (): string { return this.#module.source; }

  /**
   * The live instance, taking a prepared one (no function code run yet) when there is none or the
   * last one died. The module itself is evaluated by the first invocation that runs on it, as a
   * step of that invocation (fiber.ts), so top-level code is sliced and charged like any other.
   */
  acquire (): Promise<QuickJsInstance> {
    if (this.#closed) return Promise.reject(new EngineError('ERR_INTERNAL', 'quickjs: acquire() on a closed sandbox'));
    this.#current ??= this.#load();
    return this.#current;
  }

  async #load (): Promise<QuickJsInstance> {
    let instance: QuickJsInstance;
    try {
      instance = await this.#pool.take(this.budget.memoryBytes);
    } catch (error) {
      this.#current = undefined;
      throw error;
    }
    if (this.#closed) instance.close();
    else this.#currentInstance = instance;
    return instance;
  }

  /** Drops a dead instance so the next acquire() takes a new one; it is closed once its step ends. */
  retire (instance: QuickJsInstance): void {
    if (this.#currentInstance !== instance) return;
    this.#current = undefined;
    this.#currentInstance = undefined;
    void instance.idle().then(() => instance.close());
  }

  invoke (input: Uint8Array, context: InvocationContext): Fiber {
    if (this.#closed) throw new EngineError('ERR_INTERNAL', 'quickjs: invoke() on a closed sandbox');
    return new QuickJsFiber(this, input, context);
  }

  /** Closes the instance once no step runs in it. Idempotent. */
  async close (): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const current = this.#current;
    this.#current = undefined;
    this.#currentInstance = undefined;
    const instance = await current?.catch(() => undefined);
    if (instance === undefined) return;
    await instance.idle();
    instance.close();
  }

  [Symbol.asyncDispose] (): Promise<void> {
    return this.close();
  }
}
