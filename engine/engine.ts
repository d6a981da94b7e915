import type { Budget } from './budget.ts';
import { ControlPlane } from './control-plane.ts';
import type { DeployOptions, EngineHealth, EngineStats, FunctionInfo, InvokeOptions } from './engine-types.ts';
import { EngineError } from './errors.ts';
import type { Executor } from './executor.ts';
import type { InvokeResult } from './invocation.ts';
import { LocalExecutor } from './local-executor.ts';
import { fillEngineOptions, type EngineOptions } from './options.ts';
import { ThreadExecutor } from './threads/thread-executor.ts';

/**
 * The springbok engine: deploys functions of any loaded language and runs their invocations as
 * fibers, each under its function's budget. One control plane (control-plane.ts) over one
 * executor: everything on this thread (local-executor.ts), or one scheduler per worker thread
 * (threads/thread-executor.ts, with `options.workers`). It validates and delegates.
 *
 * Request errors (unknown function, full queue, bad arguments, closed engine) reject with
 * {@link EngineError}; a function that fails or breaks a budget resolves with `ok: false`.
 */
export class Engine {
  readonly #core: ControlPlane;

  private constructor (core: ControlPlane) { this.#core = core; }

  /**
   * Builds an engine and reloads the functions stored in `options.dataDir`.
   * @throws {EngineError} ERR_INVALID_ARGUMENT for bad options; file system errors opening the data dir.
   */
  static async open (options: EngineOptions): Promise<Engine> {
    const filled = fillEngineOptions(options);
    const executor: Executor = filled.workers > 0 ? await ThreadExecutor.start(filled) : new LocalExecutor(filled);
    const core = new ControlPlane(filled, executor);
    try {
      await core.load();
    } catch (error) {
      await core.close();
      throw error;
    }
    return new Engine(core);
  }

  /**
   * Compiles, stores durably, then makes `name` run the new source. A redeploy replaces the
   * function atomically: invocations in flight finish on the old version.
   * @throws {EngineError} ERR_INVALID_ARGUMENT, ERR_UNKNOWN_LANGUAGE, ERR_SOURCE_TOO_LARGE, ERR_COMPILE, ERR_CLOSED.
   */
  deploy (name: string, language: string, source: Uint8Array, budget?: Partial<Budget>, options: DeployOptions = {}): Promise<FunctionInfo> {
    return this.#core.deploy(name, language, source, budget, options);
  }

  /**
   * Runs one invocation; resolves when it finishes, fails, breaks a budget or is cancelled.
   * @throws {EngineError} ERR_UNKNOWN_FUNCTION, ERR_UNAVAILABLE, ERR_QUEUE_FULL, ERR_CLOSED (as rejections).
   */
  invoke (name: string, input: Uint8Array, options: InvokeOptions = {}): Promise<InvokeResult> {
    if (!(input instanceof Uint8Array)) return Promise.reject(new EngineError('ERR_INVALID_ARGUMENT', 'input must be bytes (Uint8Array)'));
    return this.#core.invoke(name, input, options);
  }

  /** Removes a function from disk and memory; resolves false when there was none. Running invocations finish. */
  remove (name: string): Promise<boolean> {
    return this.#core.remove(name);
  }

  /** Marks an address the engine listens on (a dispatcher's TCP port): functions can never send requests to it. */
  protectAddress (host: string, port: number): void {
    this.#core.protectAddress(host, port);
  }

  /** The languages this engine runs, in plugin order. */
  get languages (): readonly string[] {
    return this.#core.languages;
  }

  /** The deployed functions, sorted by name. */
  list (): FunctionInfo[] {
    return this.#core.list();
  }

  stats (): EngineStats {
    return this.#core.stats();
  }

  /**
   * Whether the engine can serve now: false once draining or closed, and on scheduler threads while
   * one is stalled (its event loop has not come back for a second) or being replaced.
   */
  health (): EngineHealth {
    return this.#core.health();
  }

  /**
   * Stops accepting invocations, deploys and removes (ERR_CLOSED, saying the engine is draining),
   * and resolves once the invocations in flight have finished or `deadlineMs` has passed; close()
   * then ends whatever still runs with ERR_CLOSED.
   */
  drain (deadlineMs: number): Promise<void> {
    if (!Number.isFinite(deadlineMs) || deadlineMs < 0) return Promise.reject(new EngineError('ERR_INVALID_ARGUMENT', `drain deadline must be a number of ms ≥ 0: got ${deadlineMs}`));
    return this.#core.drain(deadlineMs);
  }

  /** Ends every invocation in flight with ERR_CLOSED and closes all sandboxes. Idempotent. */
  close (): Promise<void> {
    return this.#core.close();
  }

  [Symbol.asyncDispose] (): Promise<void> {
    return this.close();
  }
}
