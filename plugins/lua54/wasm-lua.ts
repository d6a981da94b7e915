import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kRuntimeFuelExport, meterRuntime } from '../wasm-common/instrument.ts';

const kRequire = createRequire(import.meta.url);

/**
 * wasmoon's Lua 5.4 wasm with springbok's fuel metering added (plugins/wasm-common/instrument.ts,
 * trap mode), written once per process to a file wasmoon can load. Lua's count hook cannot run
 * inside a C routine (a pattern match, a sort with the default comparator), so without it such a
 * routine could hold the engine's thread for as long as it likes.
 */
let meteredGlue: Promise<string> | undefined;
function meteredGluePath (): Promise<string> {
  meteredGlue ??= (async () => {
    const original = await readFile(kRequire.resolve('wasmoon/dist/glue.wasm'));
    const metered = meterRuntime(original);
    const path = join(tmpdir(), `springbok-wasmoon-${createHash('sha256').update(metered).digest('hex').slice(0, 16)}.wasm`);
    if (!existsSync(path)) {
      const temporary = `${path}.tmp-${process.pid}`;
      await writeFile(temporary, metered);
      await rename(temporary, path);
    }
    return path;
  })();
  return meteredGlue;
}

/** Module creations one at a time, so the instance whose exports are captured is the one being created. */
let creating: Promise<unknown> = Promise.resolve();

/** The raw exports of wasmoon's Lua 5.4 wasm module that the plugin calls (pointers are numbers). */
export interface LuaExports {
  _malloc (size: number): number;
  _free (pointer: number): void;
  _realloc (pointer: number, size: number): number;
  _lua_newstate (allocator: number, ud: number): number;
  _lua_close (L: number): void;
  _luaL_newstate (): number;
  _luaL_openlibs (L: number): void;
  _luaL_loadbufferx (L: number, buffer: number, size: number, name: number, mode: number): number;
  _luaL_ref (L: number, t: number): number;
  _luaL_unref (L: number, t: number, ref: number): void;
  _luaL_traceback (L: number, L1: number, message: number, level: number): void;
  _lua_pcallk (L: number, nargs: number, nresults: number, handler: number, ctx: number, k: number): number;
  _lua_resume (L: number, from: number, nargs: number, nresults: number): number;
  _lua_newthread (L: number): number;
  _lua_sethook (L: number, hook: number, mask: number, count: number): void;
  _lua_isyieldable (L: number): number;
  _lua_yieldk (L: number, nresults: number, ctx: number, k: number): number;
  _lua_error (L: number): number;
  _lua_gettop (L: number): number;
  _lua_settop (L: number, index: number): void;
  _lua_pushvalue (L: number, index: number): void;
  _lua_pushlstring (L: number, bytes: number, length: number): number;
  _lua_pushnumber (L: number, n: number): void;
  _lua_pushinteger (L: number, n: bigint): void;
  _lua_pushboolean (L: number, b: number): void;
  _lua_pushcclosure (L: number, f: number, n: number): void;
  _lua_rawgeti (L: number, index: number, n: bigint): number;
  _lua_rawset (L: number, index: number): void;
  _lua_getmetatable (L: number, index: number): number;
  _lua_type (L: number, index: number): number;
  _lua_typename (L: number, type: number): number;
  _lua_tolstring (L: number, index: number, length: number): number;
  addFunction (f: (...args: number[]) => number | void, signature: string): number;
  removeFunction (pointer: number): void;
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
}

export const LUA_OK = 0;
export const LUA_YIELD = 1;
export const LUA_REGISTRYINDEX = -1_001_000; // -LUAI_MAXSTACK - 1000 in Lua 5.4
export const LUA_MASKCOUNT = 8;
export const LUA_TNUMBER = 3;
export const LUA_TSTRING = 4;

/**
 * One instance of wasmoon's Lua 5.4 wasm module (its own linear memory) with helpers to move
 * bytes in and out. Lua strings are bytes: they are copied through the wasm heap, never
 * decoded as UTF-8 on the way.
 */
export class WasmLua {
  readonly m: LuaExports;
  readonly #scratch: number;
  readonly #cstrings = new Map<string, number>();

  readonly #fuel: { value: number };

  private constructor (m: LuaExports, fuel: { value: number }) {
    this.m = m;
    this.#fuel = fuel;
    this.#scratch = m._malloc(8);
  }

  /** A new module instance (~8–16 ms: the wasm is compiled and instantiated). */
  static async create (): Promise<WasmLua> {
    const path = await meteredGluePath();
    const { LuaFactory } = kRequire('wasmoon') as { LuaFactory: new (wasmUri: string) => { getLuaModule (): Promise<{ module: LuaExports }> } };
    const created = creating.then(async () => {
      // wasmoon keeps the raw instance to itself; the fuel counter is caught on its way out.
      const api = WebAssembly as unknown as { instantiate: (...args: unknown[]) => Promise<{ instance?: { exports: Record<string, unknown> }, exports?: Record<string, unknown> }> };
      const instantiate = api.instantiate;
      let exports: Record<string, unknown> | undefined;
      api.instantiate = async (...args: unknown[]) => {
        const result = await instantiate(...args);
        // Another plugin's module may be instantiated on this thread meanwhile (a spare being made):
        // only the metered Lua module's exports are ours.
        const candidate = result.instance?.exports ?? result.exports;
        if (candidate?.[kRuntimeFuelExport] !== undefined && candidate.lua_newstate !== undefined) exports = candidate;
        return result;
      };
      try {
        const wasm = await new LuaFactory(path).getLuaModule();
        const fuel = exports?.[kRuntimeFuelExport] as { value: number } | undefined;
        if (fuel === undefined) throw new Error('lua54: the metered Lua module exposes no fuel counter');
        return new WasmLua(wasm.module, fuel);
      } finally {
        api.instantiate = instantiate;
      }
    });
    creating = created.catch(() => {});
    return created;
  }

  /** Sets how many metering units the wasm may spend before it traps (see meteredGluePath). */
  setFuel (units: number): void {
    this.#fuel.value = Math.max(0, Math.min(0x7fff_ffff, Math.floor(units)));
  }

  /** True when the last trap was the fuel counter running out. */
  get fuelSpent (): boolean {
    return this.#fuel.value < 0;
  }

  /** A NUL-terminated copy of `text` in the wasm heap, kept for the life of the module. */
  cstring (text: string): number {
    let pointer = this.#cstrings.get(text);
    if (pointer === undefined) {
      const bytes = new TextEncoder().encode(text);
      pointer = this.m._malloc(bytes.length + 1);
      this.m.HEAPU8.set(bytes, pointer);
      this.m.HEAPU8[pointer + bytes.length] = 0;
      this.#cstrings.set(text, pointer);
    }
    return pointer;
  }

  /** Pushes bytes as a Lua string. */
  pushBytes (L: number, bytes: Uint8Array): void {
    const pointer = this.m._malloc(bytes.length + 1);
    this.m.HEAPU8.set(bytes, pointer);
    try {
      this.m._lua_pushlstring(L, pointer, bytes.length);
    } finally {
      this.m._free(pointer);
    }
  }

  pushText (L: number, text: string): void {
    this.pushBytes(L, new TextEncoder().encode(text));
  }

  /** The string (or number, converted) at `index` as a copy of its bytes; null for other types. */
  toBytes (L: number, index: number): Uint8Array | null {
    const pointer = this.m._lua_tolstring(L, index, this.#scratch);
    if (pointer === 0) return null;
    const length = this.m.HEAPU32[this.#scratch >> 2]!;
    return this.m.HEAPU8.slice(pointer, pointer + length);
  }

  toText (L: number, index: number): string {
    const bytes = this.toBytes(L, index);
    return bytes === null ? '' : new TextDecoder().decode(bytes);
  }

  /** A NUL-terminated C string at `pointer`. */
  readCString (pointer: number): string {
    const heap = this.m.HEAPU8;
    let end = pointer;
    while (heap[end] !== 0) end++;
    return new TextDecoder().decode(heap.subarray(pointer, end));
  }

  /** Loads a chunk in text mode; returns Lua's status (the function or the message is on the stack). */
  load (L: number, source: Uint8Array, chunkName: string): number {
    const pointer = this.m._malloc(source.length + 1);
    this.m.HEAPU8.set(source, pointer);
    try {
      return this.m._luaL_loadbufferx(L, pointer, source.length, this.cstring(chunkName), this.cstring('t'));
    } finally {
      this.m._free(pointer);
    }
  }

  resume (L: number, nargs: number): number {
    return this.m._lua_resume(L, 0, nargs, this.#scratch);
  }
}
