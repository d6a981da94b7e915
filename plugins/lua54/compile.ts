import { EngineError } from '../../engine/errors.ts';
import { kChunkName } from '../lua-common/limits.ts';
import { checkSource, sourceForCheck, wrapSource } from '../lua-common/source.ts';
import { LUA_OK, WasmLua } from './wasm-lua.ts';

/** What compile() hands to instantiate(): the checked source, wrapped (see wrapSource). */
export interface WasmoonArtifact {
  readonly kind: 'wasmoon-lua54';
  readonly wrapped: Uint8Array;
}

export function isWasmoonArtifact (value: unknown): value is WasmoonArtifact {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'wasmoon-lua54';
}

let parser: Promise<{ lua: WasmLua, L: number }> | undefined;

/**
 * Parses the chunk (without running it) in a bare Lua 5.4 state of a module kept for parsing
 * only; no function runs in that module.
 * @throws {EngineError} ERR_COMPILE with Lua's message (`function.lua:LINE: ...`).
 */
export async function compileWasmoon (source: Uint8Array, signal: AbortSignal): Promise<WasmoonArtifact> {
  signal.throwIfAborted();
  checkSource(source);
  parser ??= WasmLua.create().then((lua) => ({ lua, L: lua.m._luaL_newstate() }));
  const { lua, L } = await parser;
  signal.throwIfAborted();
  try {
    if (lua.load(L, sourceForCheck(source), kChunkName) !== LUA_OK) throw new EngineError('ERR_COMPILE', lua.toText(L, -1));
  } finally {
    lua.m._lua_settop(L, 0);
  }
  return Object.freeze({ kind: 'wasmoon-lua54', wrapped: wrapSource(source) });
}
