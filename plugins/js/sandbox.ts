import { cpuBudgetError } from '../../engine/budget-errors.ts';
import type { Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import type { Fiber, InvocationContext, Sandbox } from '../../engine/plugin.ts';
import type { CheckedModule } from '../js-common/check-module.ts';
import { JsFiber } from './fiber.ts';
import type { SparePool } from '../common/spare-pool.ts';
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
  /** CPU of cold starts (top-level code) not yet charged to an invocation, in ms. */
  #coldStartCpuMs = 0;
  /**
   * A failed cold start from instantiate(), handed to the first invocation (which is charged its
   * CPU). Boxed, so that any thrown value, even `undefined`, counts as a failure.
   */
  #preloadFailure: { readonly error: unknown } | undefined;
  /**
   * Set once an isolate of this version died of a catastrophic out-of-memory: V8 keeps that
   * isolate's thread and memory (~20 MB) for the life of the process, so the version gets no new
   * isolate: each loss would leak again. A redeploy (a new version) starts afresh.
   */
  #quarantine: EngineError | undefined;
  /** The last isolate that died, until it is known whether its thread came back. */
  #lastDead: IsolateInstance | undefined;
  /** The deploy-time variables as JSON, bound with the module (undefined: none). */
  readonly #envJson: string | undefined;

  constructor (module: CheckedModule, budget: Budget, pool: SparePool<IsolateInstance>, env?: Readonly<Record<string, string>>) {
    this.#module = module;
    this.budget = budget;
    this.#pool = pool;
    this.#envJson = env === undefined ? undefined : JSON.stringify(env);
  }

  /**
   * The live isolate with the function loaded, making one when there is none or it died.
   * @throws {EngineError} the module's own failure (ERR_FUNCTION, ERR_CPU_BUDGET, ...) when loading it fails.
   */
  acquire (): Promise<IsolateInstance> {
    if (this.#closed) return Promise.reject(new EngineError('ERR_INTERNAL', 'js: acquire() on a closed sandbox'));
    if (this.#lastDead?.lost === true) this.#quarantine ??= lostIsolateError(this.budget.cpuMs);
    if (this.#quarantine !== undefined) return Promise.reject(this.#quarantine);
    if (this.#preloadFailure !== undefined) {
      const failure = this.#preloadFailure;
      this.#preloadFailure = undefined;
      return Promise.reject(failure.error);
    }
    this.#current ??= this.#load();
    return this.#current;
  }

  /**
   * The cold start, from instantiate(): loads the module now. A failure is kept for the first
   * invocation rather than thrown, so that invocation reports the module's error with the CPU
   * its top-level code used (an instantiate() failure would carry no usage).
   */
  async preload (): Promise<void> {
    try {
      await this.acquire();
    } catch (error) {
      this.#preloadFailure = { error };
    }
  }

  /** Takes the CPU of cold starts not yet charged to an invocation, in ms: the invocation that waited for the cold start pays for it. */
  takeColdStartCpuMs (): number {
    const cpuMs = this.#coldStartCpuMs;
    this.#coldStartCpuMs = 0;
    return cpuMs;
  }

  async #load (): Promise<IsolateInstance> {
    const instance = await this.#pool.take(this.budget.memoryBytes);
    const loaded = await instance.load(this.#module.source, { cpuMs: this.budget.cpuMs, wallMs: this.budget.wallMs }, this.#envJson);
    this.#coldStartCpuMs += loaded.cpuMs;
    if (!loaded.ok) {
      instance.close();
      this.#current = undefined;
      throw new EngineError(loaded.error.code, `loading the module failed: ${loaded.error.message}`);
    }
    instance.onDeath(() => {
      if (instance.catastrophic) this.#quarantine ??= new EngineError('ERR_MEMORY_BUDGET', 'this function version ran its isolate into a catastrophic out-of-memory, which cannot be reclaimed; it gets no new isolate until it is redeployed');
      this.#lastDead = instance;
      if (this.#current !== undefined) void this.#current.then((current) => { if (current === instance) this.#current = undefined; });
    });
    if (this.#closed) instance.close();
    return instance;
  }

  /** Starts an invocation; guest code runs from the fiber's first run() on. */
  invoke (input: Uint8Array, context: InvocationContext): Fiber {
    if (this.#closed) throw new EngineError('ERR_INTERNAL', 'js: invoke() on a closed sandbox');
    return new JsFiber(this, input, context);
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

function lostIsolateError (budgetMs: number): EngineError {
  const { code, message } = cpuBudgetError(budgetMs, 0, 'this function version left its isolate running after it was stopped (V8 ignored the termination); it gets no new isolate until it is redeployed');
  return new EngineError(code, message);
}
