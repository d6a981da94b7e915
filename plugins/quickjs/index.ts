import { EngineError } from '../../engine/errors.ts';
import type { CompileOptions, InstanceOptions, LanguagePlugin, Sandbox } from '../../engine/plugin.ts';
import { checkModule, isCheckedModule, type CheckedModule } from '../js-common/check-module.ts';
import { kDefaultBudget, type Budget } from '../../engine/budget.ts';
import { quickJsPool } from './instance-pool.ts';
import { kMinMemoryBytes } from './quickjs-module.ts';
import { QuickJsSandbox } from './sandbox.ts';

export interface QuickJsPluginOptions {
  /**
   * Largest output, in bytes (characters for a string): a longer one fails with ERR_OUTPUT_TOO_LARGE
   * inside the guest, before it is encoded or copied to the host. Match the engine's maxOutputBytes
   * (default 8 MiB, as the engine's).
   */
  readonly maxOutputBytes?: number;
}

/**
 * The `quickjs` language: the same JavaScript modules as `js` (doc/js.md), run by QuickJS compiled
 * to wasm (quickjs-emscripten's release-sync build) on the engine's own thread. Each function
 * version gets its own build instance with a capped wasm memory (the memory budget), and its
 * invocations are time-sliced like every other fiber: QuickJS's interrupt poll parks the wasm stack
 * through JSPI when the slice is over (interrupt-trampoline.ts). Prepared instances are pooled per
 * memory budget, so a cold start only evaluates the function's module.
 */
export function quickjsPlugin (options: QuickJsPluginOptions = {}): LanguagePlugin {
  const pool = quickJsPool(options.maxOutputBytes);
  return Object.freeze({
    language: 'quickjs',
    // One wasm memory per function version holds the module's state and every invocation on it; the build starts at 16 MiB.
    memory: { scope: 'instance' as const, minimumBytes: kMinMemoryBytes, idleInstanceBytes: 400 * 1024 },
    async compile (source: Uint8Array, _options: CompileOptions): Promise<CheckedModule> {
      const checked = checkModule(source);
      // Most functions run with the default budget: have an instance of that size ready for the first cold start.
      pool.warm(kDefaultBudget.memoryBytes);
      return checked;
    },
    async instantiate (artifact: unknown, budget: Budget, options: InstanceOptions = {}): Promise<Sandbox> {
      if (!isCheckedModule(artifact)) throw new EngineError('ERR_INTERNAL', 'quickjs: instantiate() was given an artifact that quickjs did not compile');
      const sandbox = new QuickJsSandbox(artifact, budget, pool, options.env);
      // Takes a prepared instance now; the module's top-level code runs in the first invocation's slices.
      await sandbox.acquire();
      return sandbox;
    },
    async close (): Promise<void> {
      pool.close();
    },
  });
}
