import type { Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import type { Fiber, InvocationContext, Sandbox } from '../../engine/plugin.ts';
import type { FengariArtifact } from './compile.ts';
import { FengariFiber } from './fiber.ts';
import type { LuaStatePool } from '../lua-common/state-pool.ts';
import type { FengariState } from './lua-state.ts';

/**
 * A deployed fengari function: one Lua state (libraries, prelude and chunk loaded once; the state
 * comes prepared from the plugin's spare pool and is bound to this function alone) shared by all
 * its invocations, each a coroutine with its own environment. The memory budget
 * bounds the state, so it holds for all in-flight invocations of the function together.
 */
export class FengariSandbox implements Sandbox {
  readonly #state: FengariState;
  #closed = false;

  private constructor (state: FengariState) {
    this.#state = state;
  }

  /** @throws {EngineError} ERR_COMPILE if the chunk does not load. */
  static async create (artifact: FengariArtifact, budget: Budget, pool: LuaStatePool<FengariState>): Promise<FengariSandbox> {
    return new FengariSandbox(await pool.bound(artifact.wrapped, budget.memoryBytes));
  }

  /**
   * Starts an invocation; no Lua runs until the fiber's first run().
   * @throws {EngineError} ERR_INTERNAL after {@link FengariSandbox.close}.
   */
  invoke (input: Uint8Array, context: InvocationContext): Fiber {
    if (this.#closed) throw new EngineError('ERR_INTERNAL', 'lua: invoke() on a closed sandbox');
    return new FengariFiber(this.#state, input, context);
  }

  /** Idempotent. The state is plain JavaScript objects: the garbage collector takes it back. */
  async close (): Promise<void> {
    this.#closed = true;
  }

  [Symbol.asyncDispose] (): Promise<void> {
    return this.close();
  }
}
