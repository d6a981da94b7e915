import type { LanguagePlugin } from '../../engine/plugin.ts';
import { smPlugin } from '../../plugins/sm/index.ts';
import { luaPlugin } from '../../plugins/lua/index.ts';
import { lua54Plugin } from '../../plugins/lua54/index.ts';
import { cPlugin, llvmPlugin } from '../../plugins/wasm/index.ts';
import { jsPlugin } from '../../plugins/js/index.ts';
import { quickjsPlugin } from '../../plugins/quickjs/index.ts';

/**
 * The languages `springbok serve` loads. The engine imports no plugin: this list is the one place
 * where languages are wired in.
 */
export function defaultPlugins (): LanguagePlugin[] {
  return [smPlugin(), luaPlugin(), lua54Plugin(), cPlugin(), llvmPlugin(), jsPlugin(), quickjsPlugin()];
}
