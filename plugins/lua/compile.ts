import { EngineError } from '../../engine/errors.ts';
import { kChunkName } from '../lua-common/limits.ts';
import { checkSource, sourceForCheck, wrapSource } from '../lua-common/source.ts';
import { fengariApi, jsString, luaString, type LuaState } from './fengari-api.ts';

/** What compile() hands to instantiate(): the checked source, wrapped (see wrapSource). */
export interface FengariArtifact {
  readonly kind: 'fengari-lua';
  readonly wrapped: Uint8Array;
}

export function isFengariArtifact (value: unknown): value is FengariArtifact {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'fengari-lua';
}

let parserState: LuaState | undefined;

/**
 * Parses the chunk (without running it) in a bare state kept for parsing only.
 * @throws {EngineError} ERR_COMPILE with Lua's message (`function.lua:LINE: ...`).
 */
export function compileFengari (source: Uint8Array, signal: AbortSignal): FengariArtifact {
  signal.throwIfAborted();
  checkSource(source);
  const api = fengariApi();
  parserState ??= api.luaL_newstate();
  const L = parserState;
  const text = sourceForCheck(source);
  try {
    if (api.luaL_loadbufferx(L, text, text.length, luaString(kChunkName), luaString('t')) !== api.LUA_OK) {
      throw new EngineError('ERR_COMPILE', jsString(api.lua_tolstring(L, -1)));
    }
  } finally {
    api.lua_settop(L, 0);
  }
  return Object.freeze({ kind: 'fengari-lua', wrapped: wrapSource(source) });
}
