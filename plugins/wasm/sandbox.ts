import type { Fiber, InvocationContext, Sandbox } from '../../engine/plugin.ts';
import { WasmFiber, type WasmFunction } from './fiber.ts';
import { FunctionInstances, type FunctionInstancesOptions } from './function-instances.ts';

export interface WasmSandboxOptions extends FunctionInstancesOptions {
  /** Maximum pages: the memory budget. */
  readonly maxPages: number;
}

/**
 * A deployed C/LLVM function on one thread: the compiled module, its limits and its instances.
 * Every invocation gets an instance in the function's initial state, a new one or one restored from
 * its snapshot (function-instances.ts), so no state survives from one invocation to the next.
 */
export class WasmSandbox implements Sandbox {
  readonly #instances: FunctionInstances;
  /** What every fiber of the function is given: fixed for the sandbox's life. */
  readonly #fn: WasmFunction;

  constructor (options: WasmSandboxOptions) {
    this.#instances = new FunctionInstances(options);
    this.#fn = Object.freeze({ maxPages: options.maxPages, maxOutputBytes: options.maxOutputBytes, instances: this.#instances });
  }

  invoke (input: Uint8Array, context: InvocationContext): Fiber {
    return new WasmFiber(this.#fn, input, context);
  }

  /** Its idle instance's memory goes back to the plugin's pool; the module belongs to the artifact. */
  async close (): Promise<void> {
    this.#instances.close();
  }
}
