import { EngineError } from '../../engine/errors.ts';
import type { RunningLuaFiber } from '../lua-common/engine-adapter.ts';
import { kChunkName, kPreludeChunkName, kWasmoonHookInstructions } from '../lua-common/limits.ts';
import { kPreludeSource } from '../lua-common/prelude.ts';
import { LimitedAllocator } from './allocator.ts';
import { LUA_MASKCOUNT, LUA_OK, LUA_REGISTRYINDEX, LUA_TSTRING, WasmLua } from './wasm-lua.ts';

const kEncoder = new TextEncoder();

/**
 * One Lua 5.4 state in its own wasm module instance, for one deployed function version: the
 * blast radius of anything that goes wrong inside wasm (a trap, a corrupted heap) is this one
 * function. Built in two steps: {@link WasmoonState.prepare} (module, libraries, host functions,
 * prelude: nothing of any function, so it can be done ahead as a spare) and
 * {@link WasmoonState.bind} (the function's chunk and budget, once). Invocations run as
 * coroutines, one at a time (fiber.ts). The allocator limit is the memory budget on top of what
 * the state holds after binding (`baselineBytes`, not charged to the function).
 */
export class WasmoonState {
  readonly lua: WasmLua;
  readonly L: number;
  readonly allocator: LimitedAllocator;
  readonly startRef: number;
  readonly hookPointer: number;
  /** Set once by {@link WasmoonState.bind}. */
  factoryRef = 0;
  stringMetatableRef = 0;
  baselineBytes = 0;
  budgetBytes = 0;
  readonly #functionPointers: number[] = [];
  #bound = false;
  current: RunningLuaFiber<number> | undefined;
  /** Set after a trap inside the wasm (fuel or fault): the state must be replaced, never used again. */
  broken = false;
  #closed = false;

  /** A new module with a state ready to bind a function to (~6–13 ms, most of it on this thread). */
  static async prepare (): Promise<WasmoonState> {
    return new WasmoonState(await WasmLua.create());
  }

  private constructor (lua: WasmLua) {
    this.lua = lua;
    const m = lua.m;
    this.allocator = new LimitedAllocator(lua);
    this.#functionPointers.push(this.allocator.pointer);
    const L = m._lua_newstate(this.allocator.pointer, 0);
    if (L === 0) throw new EngineError('ERR_INTERNAL', 'lua54: lua_newstate failed');
    this.L = L;
    m._luaL_openlibs(L);

    const host = (f: (L1: number) => number): number => {
      const pointer = m.addFunction(f, 'ii');
      this.#functionPointers.push(pointer);
      return pointer;
    };
    const hostFunctions = [
      host((L1) => { this.current?.onLog(lua.toText(L1, 1)); return 0; }),
      host((L1) => {
        const top = m._lua_gettop(L1);
        const args: (Uint8Array | undefined)[] = [];
        for (let i = 2; i <= top; i++) args.push(m._lua_type(L1, i) === LUA_TSTRING ? lua.toBytes(L1, i) ?? undefined : undefined);
        this.current?.onHostCall(lua.toText(L1, 1), args);
        return 0;
      }),
      host((L1) => { m._lua_pushnumber(L1, this.current?.cpuSeconds() ?? 0); return 1; }),
      host((L1) => { m._lua_pushnumber(L1, Math.max(0, this.allocator.usedBytes - this.baselineBytes) / 1024); return 1; }),
      host((L1) => { this.current?.onBind(L1); return 0; }),
      host((L1) => {
        const message = this.current?.killMessage();
        if (message === undefined) return 0;
        lua.pushText(L1, message);
        return 1;
      }),
    ];
    if (lua.load(L, kEncoder.encode(kPreludeSource), kPreludeChunkName) !== LUA_OK) {
      throw new EngineError('ERR_INTERNAL', `lua54: the prelude does not load: ${lua.toText(L, -1)}`);
    }
    for (const f of hostFunctions) m._lua_pushcclosure(L, f, 0);
    this.#call(hostFunctions.length);
    this.startRef = m._luaL_ref(L, LUA_REGISTRYINDEX);

    this.hookPointer = m.addFunction((L1: number) => { this.current?.onHook(L1); }, 'vii');
    this.#functionPointers.push(this.hookPointer);
  }

  /**
   * Makes this state the function's: loads its wrapped chunk and sets the allocator limit to the
   * budget on top of what the state then holds. Once per state: a state is never rebound.
   * @throws {EngineError} ERR_COMPILE if the wrapped chunk does not load (the state must then be closed).
   */
  bind (wrappedChunk: Uint8Array, memoryBudgetBytes: number): void {
    if (this.#bound || this.#closed) throw new EngineError('ERR_INTERNAL', 'lua54: a Lua state is bound to one function only');
    this.#bound = true;
    const { lua, L } = this;
    const m = lua.m;
    if (lua.load(L, wrappedChunk, kChunkName) !== LUA_OK) throw new EngineError('ERR_COMPILE', lua.toText(L, -1));
    this.#call(0);
    this.factoryRef = m._luaL_ref(L, LUA_REGISTRYINDEX);

    lua.pushText(L, '');
    m._lua_getmetatable(L, -1);
    this.stringMetatableRef = m._luaL_ref(L, LUA_REGISTRYINDEX);
    m._lua_settop(L, 0);

    this.baselineBytes = this.allocator.usedBytes;
    this.budgetBytes = memoryBudgetBytes;
    this.allocator.limitBytes = this.baselineBytes + memoryBudgetBytes;
  }

  /** The function's own memory now, in bytes (what the state holds beyond its setup). */
  get usedBytes (): number {
    return Math.max(0, this.allocator.usedBytes - this.baselineBytes);
  }

  /** Starts the coroutine of a new invocation, with its hook set; returns it and its registry reference. */
  newThread (): { thread: number, ref: number } {
    const m = this.lua.m;
    const thread = m._lua_newthread(this.L);
    if (thread === 0) throw new EngineError('ERR_MEMORY_BUDGET', 'memory budget exceeded: no room for a new invocation');
    const ref = m._luaL_ref(this.L, LUA_REGISTRYINDEX);
    m._lua_sethook(thread, this.hookPointer, LUA_MASKCOUNT, kWasmoonHookInstructions);
    return { thread, ref };
  }

  unref (ref: number): void {
    if (!this.#closed && !this.broken) this.lua.m._luaL_unref(this.L, LUA_REGISTRYINDEX, ref);
  }

  /** Frees the state and the host functions. The wasm memory goes with the module. Idempotent. */
  close (): void {
    if (this.#closed) return;
    this.#closed = true;
    // A broken state is not walked again: its module and memory go with the last reference.
    if (this.broken) return;
    this.lua.m._lua_close(this.L);
    for (const pointer of this.#functionPointers) this.lua.m.removeFunction(pointer);
  }

  #call (nargs: number): void {
    const m = this.lua.m;
    if (m._lua_pcallk(this.L, nargs, 1, 0, 0, 0) !== LUA_OK) {
      throw new EngineError('ERR_INTERNAL', `lua54: state setup failed: ${this.lua.toText(this.L, -1)}`);
    }
  }
}
