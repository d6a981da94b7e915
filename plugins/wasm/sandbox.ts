import type { Fiber, InvocationContext, Sandbox } from '../../engine/plugin.ts';
import { WasmFiber } from './fiber.ts';
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
  readonly #maxPages: number;
  readonly #maxOutputBytes: number;
  readonly #instances: FunctionInstances;

  constructor (options: WasmSandboxOptions) {
    this.#maxPages = options.maxPages;
    this.#maxOutputBytes = options.maxOutputBytes;
    this.#instances = new FunctionInstances(options);
  }

  invoke (input: Uint8Array, context: InvocationContext): Fiber {
    return new WasmFiber({ maxPages: this.#maxPages, maxOutputBytes: this.#maxOutputBytes, instances: this.#instances }, input, context);
  }

  /** Its idle instances' memories go back to the plugin's pool; the module belongs to the artifact. */
  async close (): Promise<void> {
    this.#instances.close();
  }
}
