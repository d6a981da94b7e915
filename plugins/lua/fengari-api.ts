import { fengari } from './fengari-loader.ts';

/**
 * The slice of fengari's C-like API the plugin uses, typed. fengari ships no types; these
 * signatures follow the Lua 5.3 manual, with Lua strings as Uint8Array.
 */
export type LuaState = { readonly l_G: { id_counter: number, l_registry: { value: unknown }, mainthread: unknown } };
export type JsFunction = (L: LuaState) => number;
export type Hook = (L: LuaState, ar: unknown) => void;

export interface FengariApi {
  readonly LUA_OK: number;
  readonly LUA_YIELD: number;
  readonly LUA_REGISTRYINDEX: number;
  readonly LUA_MASKCOUNT: number;
  readonly LUA_TSTRING: number;
  readonly LUA_TNUMBER: number;
  luaL_newstate (): LuaState;
  luaL_openlibs (L: LuaState): void;
  luaL_loadbufferx (L: LuaState, buffer: Uint8Array, size: number, chunkName: Uint8Array, mode: Uint8Array): number;
  luaL_ref (L: LuaState, t: number): number;
  luaL_unref (L: LuaState, t: number, ref: number): void;
  luaL_traceback (L: LuaState, L1: LuaState, message: Uint8Array | null, level: number): void;
  luaL_error (L: LuaState, format: Uint8Array): never;
  lua_dump (L: LuaState, writer: (L: LuaState, bytes: Uint8Array, size: number, data: unknown) => number, data: unknown, strip: boolean): number;
  lua_pcall (L: LuaState, nargs: number, nresults: number, handler: number): number;
  lua_resume (L: LuaState, from: LuaState | null, nargs: number): number;
  lua_newthread (L: LuaState): LuaState;
  lua_sethook (L: LuaState, hook: Hook | null, mask: number, count: number): void;
  lua_isyieldable (L: LuaState): boolean;
  lua_yield (L: LuaState, nresults: number): number;
  lua_gettop (L: LuaState): number;
  lua_settop (L: LuaState, index: number): void;
  lua_pushvalue (L: LuaState, index: number): void;
  lua_pushlstring (L: LuaState, bytes: Uint8Array, length: number): void;
  lua_pushstring (L: LuaState, text: Uint8Array): void;
  lua_pushnumber (L: LuaState, n: number): void;
  lua_pushinteger (L: LuaState, n: number): void;
  lua_pushboolean (L: LuaState, b: boolean): void;
  lua_pushjsfunction (L: LuaState, f: JsFunction): void;
  lua_rawgeti (L: LuaState, index: number, n: number): number;
  lua_rawset (L: LuaState, index: number): void;
  lua_getmetatable (L: LuaState, index: number): boolean;
  lua_type (L: LuaState, index: number): number;
  lua_typename (L: LuaState, type: number): Uint8Array;
  lua_tolstring (L: LuaState, index: number): Uint8Array | null;
  lua_toboolean (L: LuaState, index: number): boolean;
  lua_atnativeerror (L: LuaState, f: JsFunction): void;
  lua_getglobal (L: LuaState, name: Uint8Array): number;
  lua_getfield (L: LuaState, index: number, name: Uint8Array): number;
  lua_setfield (L: LuaState, index: number, name: Uint8Array): void;
  lua_tocfunction (L: LuaState, index: number): JsFunction | null;
  lua_rawlen (L: LuaState, index: number): number;
  lua_tonumber (L: LuaState, index: number): number;
  lua_pushlightuserdata (L: LuaState, p: unknown): void;
  lua_touserdata (L: LuaState, index: number): unknown;
}

let api: FengariApi | undefined;

/** fengari's API from the private copy (see fengari-loader.ts). */
export function fengariApi (): FengariApi {
  if (api !== undefined) return api;
  const f = fengari();
  api = { ...f.lua, ...f.lauxlib, ...f.lualib } as unknown as FengariApi;
  return api;
}

const kEncoder = new TextEncoder();
const kDecoder = new TextDecoder();

/** A JS string as a Lua string. */
export function luaString (text: string): Uint8Array {
  return kEncoder.encode(text);
}

/** A Lua string as JS text (lossy for invalid UTF-8; for messages only). */
export function jsString (bytes: Uint8Array | null): string {
  return bytes === null ? '' : kDecoder.decode(bytes);
}
