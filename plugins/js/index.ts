import { kDefaultBudget, type Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import { kDefaultOptions } from '../../engine/options.ts';
import type { CompileOptions, InstanceOptions, LanguagePlugin, Sandbox } from '../../engine/plugin.ts';
import { checkModule, isCheckedModule, type CheckedModule } from '../js-common/check-module.ts';
import { IsolateGate } from './isolate-gate.ts';
import { kMinMemoryLimitMb } from './isolate-instance.ts';
import { isolatePool } from './isolate-pool.ts';
import { JsSandbox } from './sandbox.ts';

export interface JsPluginOptions {
  /**
   * Isolates that may run guest code at once (each on its own isolated-vm thread); default: the
   * machine's cores. The bound is this plugin's: an engine on N scheduler threads has N js plugins,
   * so give each its share (dispatchers/cli/plugins.ts does).
   */
  readonly maxRunningIsolates?: number;
  /**
   * Largest output the engine accepts, in bytes (the engine's maxOutputBytes; default its default,
   * 8 MiB). The guest refuses a larger output with ERR_OUTPUT_TOO_LARGE before it is copied out of
   * the isolate, so a huge string costs neither a copy nor a UTF-8 encoding on the host.
   */
  readonly maxOutputBytes?: number;
}

/**
 * The `js` language: JavaScript modules in V8 isolates through isolated-vm (doc/js.md). One isolate
 * per deployed function version, pooled ahead of the cold start; guest code runs on isolated-vm's
 * threads, at most `maxRunningIsolates` at a time, so the engine's thread only starts entries and
 * collects results.
 */
export function jsPlugin (options: JsPluginOptions = {}): LanguagePlugin {
  const gate = new IsolateGate(options.maxRunningIsolates);
  const pool = isolatePool(gate, options.maxOutputBytes ?? kDefaultOptions.maxOutputBytes);
  return Object.freeze({
    language: 'js',
    // One isolate per function version holds the module's state and every invocation on it; isolated-vm's least heap is 8 MiB.
    memory: { scope: 'instance' as const, minimumBytes: kMinMemoryLimitMb * 2 ** 20, idleInstanceBytes: 1536 * 1024 },
    async compile (source: Uint8Array, _options: CompileOptions): Promise<CheckedModule> {
      const checked = checkModule(source);
      // Most functions run with the default budget: have an isolate of that size ready for the first cold start.
      pool.warm(kDefaultBudget.memoryBytes);
      return checked;
    },
    async instantiate (artifact: unknown, budget: Budget, options: InstanceOptions = {}): Promise<Sandbox> {
      if (!isCheckedModule(artifact)) throw new EngineError('ERR_INTERNAL', 'js: instantiate() was given an artifact that js did not compile');
      const sandbox = new JsSandbox(artifact, budget, pool, options.env);
      // The cold start happens here; a module that throws at load fails its first invocation with its own error and CPU.
      await sandbox.preload();
      return sandbox;
    },
    async close (): Promise<void> {
      pool.close();
    },
  });
}
