import type { Fiber, InvocationContext, Sandbox } from '../../engine/plugin.ts';
import { WasmFiber, type WasmFunction } from './fiber.ts';

/**
 * A deployed C/LLVM function: the compiled module and its limits. Every invocation instantiates
 * it afresh (about 10–30 µs, see doc/c.md) with a new memory capped at the budget, so no state
 * survives from one invocation to the next and an idle function holds no memory at all.
 */
export class WasmSandbox implements Sandbox {
  readonly #fn: WasmFunction;

  constructor (fn: WasmFunction) { this.#fn = fn; }

  invoke (input: Uint8Array, context: InvocationContext): Fiber {
    return new WasmFiber(this.#fn, input, context);
  }

  async close (): Promise<void> {}
}
