import { EngineError } from '../../engine/errors.ts';
import type { RunningLuaFiber } from '../lua-common/engine-adapter.ts';
import { kChunkName, kFengariHookInstructions, kPreludeChunkName } from '../lua-common/limits.ts';
import { kPreludeSource } from '../lua-common/prelude.ts';
import { fengariApi, jsString, luaString, type FengariApi, type Hook, type JsFunction, type LuaState } from './fengari-api.ts';
import { walkLuaHeap } from './heap-walk.ts';
import { FengariMemoryMeter } from './memory-meter.ts';
import { installMeteredLibrary } from './metered-library.ts';

const kTextMode = luaString('t');
const kBinaryMode = luaString('b');

let preludeChunk: Uint8Array | undefined;

/**
 * The prelude, precompiled once per process: fengari parses its ~200 lines in 8–17 ms, and
 * loads the precompiled form in ~0.5 ms. This is springbok's own code; guests' chunks are always
 * loaded as text.
 */
function precompiledPrelude (api: FengariApi): Uint8Array {
  if (preludeChunk !== undefined) return preludeChunk;
  const L = api.luaL_newstate();
  const source = luaString(kPreludeSource);
  if (api.luaL_loadbufferx(L, source, source.length, luaString(kPreludeChunkName), kTextMode) !== api.LUA_OK) {
    throw new EngineError('ERR_INTERNAL', `lua: the prelude does not load: ${jsString(api.lua_tolstring(L, -1))}`);
  }
  const parts: Uint8Array[] = [];
  api.lua_dump(L, (_L, bytes, size) => { parts.push(Uint8Array.from(bytes.subarray(0, size))); return 0; }, null, false);
  preludeChunk = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) { preludeChunk.set(part, offset); offset += part.length; }
  return preludeChunk;
}

/**
 * One fengari Lua state for one deployed function version: the libraries, the prelude (see
 * lua-common/prelude.ts) and the function's chunk, loaded once. Built in two steps:
 * {@link FengariState.prepare} (libraries, host functions, prelude: nothing of any function, so it
 * can be done ahead as a spare) and {@link FengariState.bind} (the function's chunk and budget,
 * once). Invocations run as coroutines in it, one at a time (see fiber.ts); `current` is the one
 * running.
 */
export class FengariState {
  readonly api: FengariApi;
  readonly L: LuaState;
  /** Registry references: the prelude's start function; the chunk factory and the string metatable (set by bind). */
  readonly startRef: number;
  factoryRef = 0;
  stringMetatableRef = 0;
  readonly hook: Hook;
  #meter: FengariMemoryMeter | undefined;
  current: RunningLuaFiber<LuaState> | undefined;
  /** Told of a JavaScript exception thrown inside fengari while an invocation runs (set by its adapter). */
  onNativeError: ((message: string) => void) | undefined;
  #bound = false;

  /** A state ready to bind a function to (~1–3 ms, all on this thread). */
  static async prepare (): Promise<FengariState> {
    return new FengariState();
  }

  private constructor () {
    const api = fengariApi();
    this.api = api;
    const L = api.luaL_newstate();
    this.L = L;
    api.luaL_openlibs(L);
    installMeteredLibrary(api, L);
    api.lua_atnativeerror(L, (L1) => {
      const error = api.lua_touserdata(L1, -1);
      const message = `the Lua engine failed: ${error instanceof Error ? error.message : String(error)}`;
      this.onNativeError?.(message);
      api.lua_pushstring(L1, luaString(message));
      return 1;
    });

    const hostFunctions: JsFunction[] = [
      (L1) => { this.current?.onLog(jsString(api.lua_tolstring(L1, 1))); return 0; },
      (L1) => {
        const top = api.lua_gettop(L1);
        const args: (Uint8Array | undefined)[] = [];
        for (let i = 2; i <= top; i++) args.push(api.lua_type(L1, i) === api.LUA_TSTRING ? Uint8Array.from(api.lua_tolstring(L1, i)!) : undefined);
        this.current?.onHostCall(jsString(api.lua_tolstring(L1, 1)), args);
        return 0;
      },
      (L1) => { api.lua_pushnumber(L1, this.current?.cpuSeconds() ?? 0); return 1; },
      (L1) => { api.lua_pushnumber(L1, this.meter.estimateBytes / 1024); return 1; },
      (L1) => { this.current?.onBind(L1); return 0; },
      (L1) => {
        const message = this.current?.killMessage();
        if (message === undefined) return 0;
        api.lua_pushstring(L1, luaString(message));
        return 1;
      },
    ];
    this.startRef = this.#runTrusted(precompiledPrelude(api), kPreludeChunkName, hostFunctions);
    this.hook = (L1) => { this.current?.onHook(L1); };
  }

  /** The function's memory meter. */
  get meter (): FengariMemoryMeter {
    if (this.#meter === undefined) throw new EngineError('ERR_INTERNAL', 'lua: the Lua state is not bound to a function');
    return this.#meter;
  }

  /**
   * Makes this state the function's: loads its wrapped chunk and starts metering its memory from
   * what the state then holds. Once per state: a state is never rebound.
   * @param wrappedChunk the function's source wrapped by wrapSource() (already syntax-checked).
   * @throws {EngineError} ERR_COMPILE if the wrapped chunk does not load (it parsed on its own, so this is a springbok bug).
   */
  bind (wrappedChunk: Uint8Array, memoryBudgetBytes: number): void {
    if (this.#bound) throw new EngineError('ERR_INTERNAL', 'lua: a Lua state is bound to one function only');
    this.#bound = true;
    const { api, L } = this;
    if (api.luaL_loadbufferx(L, wrappedChunk, wrappedChunk.length, luaString(kChunkName), kTextMode) !== api.LUA_OK) {
      const message = jsString(api.lua_tolstring(L, -1));
      throw new EngineError('ERR_COMPILE', message);
    }
    this.#call(0);
    this.factoryRef = api.luaL_ref(L, api.LUA_REGISTRYINDEX);

    api.lua_pushstring(L, luaString(''));
    api.lua_getmetatable(L, -1);
    this.stringMetatableRef = api.luaL_ref(L, api.LUA_REGISTRYINDEX);
    api.lua_settop(L, 0);

    // Everything made so far is the state's own: the walk neither counts nor enters it, except
    // the registry and the main thread, which will hold the invocations.
    const registry = L.l_G.l_registry.value as object;
    const skip = new WeakSet<object>();
    walkLuaHeap([registry, L], new WeakSet(), skip);
    skip.delete(registry);
    skip.delete(L);
    this.#meter = new FengariMemoryMeter(memoryBudgetBytes, () => [registry, L], skip, L.l_G);
    this.#meter.walk();
  }

  /** Nothing to free: the state is plain JavaScript objects, which the garbage collector takes back. */
  close (): void {}

  /** Starts the coroutine of a new invocation, with its hook set; returns it and its registry reference. */
  newThread (): { thread: LuaState, ref: number } {
    const { api, L } = this;
    const thread = api.lua_newthread(L);
    const ref = api.luaL_ref(L, api.LUA_REGISTRYINDEX);
    api.lua_sethook(thread, this.hook, api.LUA_MASKCOUNT, kFengariHookInstructions);
    return { thread, ref };
  }

  unref (ref: number): void {
    this.api.luaL_unref(this.L, this.api.LUA_REGISTRYINDEX, ref);
  }

  #runTrusted (source: Uint8Array, chunkName: string, args: JsFunction[]): number {
    const { api, L } = this;
    if (api.luaL_loadbufferx(L, source, source.length, luaString(chunkName), kBinaryMode) !== api.LUA_OK) {
      throw new EngineError('ERR_INTERNAL', `lua: the prelude does not load: ${jsString(api.lua_tolstring(L, -1))}`);
    }
    for (const f of args) api.lua_pushjsfunction(L, f);
    this.#call(args.length);
    return api.luaL_ref(L, api.LUA_REGISTRYINDEX);
  }

  #call (nargs: number): void {
    const { api, L } = this;
    if (api.lua_pcall(L, nargs, 1, 0) !== api.LUA_OK) {
      throw new EngineError('ERR_INTERNAL', `lua: state setup failed: ${jsString(api.lua_tolstring(L, -1))}`);
    }
  }
}
