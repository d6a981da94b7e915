import { availableParallelism } from 'node:os';
import type { LanguagePlugin, PluginContext } from '../../engine/plugin.ts';
import { smPlugin } from '../../plugins/sm/index.ts';
import { luaPlugin } from '../../plugins/lua/index.ts';
import { lua54Plugin } from '../../plugins/lua54/index.ts';
import { cPlugin, llvmPlugin } from '../../plugins/wasm/index.ts';
import { jsPlugin } from '../../plugins/js/index.ts';
import { quickjsPlugin } from '../../plugins/quickjs/index.ts';

/**
 * The languages `springbok serve` loads. The engine imports no plugin: this list is the one place
 * where languages are wired in. Each scheduler thread calls it for its own plugins; bounds that
 * hold for the whole process are split between the threads here.
 */
export function defaultPlugins (context: PluginContext = { schedulerThreads: 1 }): LanguagePlugin[] {
  // Isolates run on isolated-vm's own threads: the cores are shared out between the scheduler threads' js plugins.
  const maxRunningIsolates = Math.max(1, Math.ceil(availableParallelism() / context.schedulerThreads));
  return [smPlugin(), luaPlugin(), lua54Plugin(), cPlugin(), llvmPlugin(), jsPlugin({ maxRunningIsolates }), quickjsPlugin()];
}
