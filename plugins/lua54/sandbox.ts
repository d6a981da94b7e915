import type { Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import type { Fiber, InvocationContext, Sandbox } from '../../engine/plugin.ts';
import type { WasmoonArtifact } from './compile.ts';
import { WasmoonFiber } from './fiber.ts';
import type { LuaStatePool } from '../lua-common/state-pool.ts';
import type { WasmoonState } from './lua-state.ts';
import { PendingFiber } from './pending-fiber.ts';

/**
 * A deployed lua54 function: its own wasm module and Lua 5.4 state (libraries, prelude and chunk
 * loaded once; the state comes prepared from the plugin's spare pool and is bound to this function
 * alone), shared by all its invocations, each a coroutine with its own environment. The memory
 * budget is the state's allocator limit, so it holds for all in-flight invocations of the
 * function together.
 */
export class WasmoonSandbox implements Sandbox {
  readonly #artifact: WasmoonArtifact;
  readonly #budget: Budget;
  readonly #pool: LuaStatePool<WasmoonState>;
  #state: WasmoonState;
  /** The replacement of a state broken by a trap, while it is being built. */
  #replacing: Promise<WasmoonState> | undefined;
  #closed = false;

  private constructor (artifact: WasmoonArtifact, budget: Budget, pool: LuaStatePool<WasmoonState>, state: WasmoonState) {
    this.#artifact = artifact;
    this.#budget = budget;
    this.#pool = pool;
    this.#state = state;
  }

  /** @throws {EngineError} ERR_COMPILE if the chunk does not load. */
  static async create (artifact: WasmoonArtifact, budget: Budget, pool: LuaStatePool<WasmoonState>): Promise<WasmoonSandbox> {
    return new WasmoonSandbox(artifact, budget, pool, await pool.bound(artifact.wrapped, budget.memoryBytes));
  }

  /**
   * Starts an invocation; no Lua runs until the fiber's first run(). After a trap broke the
   * function's state, a new one is bound (the spare, or a module instantiation, ~10 ms, when none is
   * ready) and invocations wait for it.
   * @throws {EngineError} ERR_INTERNAL after {@link WasmoonSandbox.close}.
   */
  invoke (input: Uint8Array, context: InvocationContext): Fiber {
    if (this.#closed) throw new EngineError('ERR_INTERNAL', 'lua54: invoke() on a closed sandbox');
    if (this.#state.broken && this.#replacing === undefined) {
      const broken = this.#state;
      this.#replacing = this.#pool.bound(this.#artifact.wrapped, this.#budget.memoryBytes).then((state) => {
        this.#replacing = undefined;
        if (this.#closed) state.close();
        else this.#state = state;
        broken.close();
        return state;
      }, (error: unknown) => {
        this.#replacing = undefined;
        throw error;
      });
    }
    if (this.#replacing !== undefined) return new PendingFiber(this.#replacing.then((state) => new WasmoonFiber(state, input, context)));
    return new WasmoonFiber(this.#state, input, context);
  }

  /** Idempotent. Closes the Lua state; the module's memory is released with the module. */
  async close (): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#state.close();
  }

  [Symbol.asyncDispose] (): Promise<void> {
    return this.close();
  }
}
