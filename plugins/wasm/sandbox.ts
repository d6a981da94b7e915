import type { Fiber, InvocationContext, Sandbox } from '../../engine/plugin.ts';
import { WasmFiber, type WasmFunction } from './fiber.ts';

/**
 * A deployed C/LLVM function: the compiled module and its limits. Every invocation gets a new
 * instance on an all-zero memory capped at the budget (a pooled one, zeroed, when available: see
 * memory-pool.ts), so no state survives from one invocation to the next.
 */
export class WasmSandbox implements Sandbox {
  readonly #fn: WasmFunction;

  constructor (fn: WasmFunction) { this.#fn = fn; }

  invoke (input: Uint8Array, context: InvocationContext): Fiber {
    return new WasmFiber(this.#fn, input, context);
  }

  /** Nothing to release: the memories belong to the plugin's pool, the module to the artifact. */
  async close (): Promise<void> {}
}
