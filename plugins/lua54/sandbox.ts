import type { Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import type { Fiber, InvocationContext, Sandbox } from '../../engine/plugin.ts';
import type { WasmoonArtifact } from './compile.ts';
import { WasmoonFiber } from './fiber.ts';
import { WasmoonState } from './lua-state.ts';

/**
 * A deployed lua54 function: its own wasm module and Lua 5.4 state (libraries, prelude and chunk
 * loaded once), shared by all its invocations, each a coroutine with its own environment. The
 * memory budget is the state's allocator limit, so it holds for all in-flight invocations of
 * the function together.
 */
export class WasmoonSandbox implements Sandbox {
  readonly #state: WasmoonState;
  #closed = false;

  private constructor (state: WasmoonState) {
    this.#state = state;
  }

  static async create (artifact: WasmoonArtifact, budget: Budget): Promise<WasmoonSandbox> {
    return new WasmoonSandbox(await WasmoonState.create(artifact.wrapped, budget.memoryBytes));
  }

  /**
   * Starts an invocation; no Lua runs until the fiber's first run().
   * @throws {EngineError} ERR_INTERNAL after {@link WasmoonSandbox.close}.
   */
  invoke (input: Uint8Array, context: InvocationContext): Fiber {
    if (this.#closed) throw new EngineError('ERR_INTERNAL', 'lua54: invoke() on a closed sandbox');
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
