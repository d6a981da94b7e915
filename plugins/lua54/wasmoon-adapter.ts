import type { ErrorRecord } from '../../engine/errors.ts';
import type { LuaEngineAdapter, LuaFiberControl, ResumeStatus, RunningLuaFiber } from '../lua-common/engine-adapter.ts';
import { kLua54FuelUnitsPerMs, kLua54MaxUninterruptibleMs, kWasmoonHookInstructions } from '../lua-common/limits.ts';
import type { WasmoonState } from './lua-state.ts';
import { LUA_MASKCOUNT, LUA_OK, LUA_REGISTRYINDEX, LUA_TNUMBER, LUA_TSTRING, LUA_YIELD, type LuaExports, type WasmLua } from './wasm-lua.ts';

const kLibraryCallStopped = `a call into Lua's library ran ${kLua54MaxUninterruptibleMs} ms (or the rest of the CPU budget) without returning to Lua code, and was stopped`;

/**
 * The Lua fiber's view of wasmoon, for one invocation: its API calls into the wasm module, the
 * fuel that stops a call into Lua's C library running too long (a trap, after which the state is
 * discarded), and the state's allocator, which refuses memory past the budget (see
 * LimitedAllocator) and brings the count hook forward after much copying.
 */
export class WasmoonAdapter implements LuaEngineAdapter<number> {
  readonly language = 'lua54';
  readonly mainThread: number;
  readonly startRef: number;
  readonly factoryRef: number;
  readonly stringMetatableRef: number;
  readonly #state: WasmoonState;
  readonly #lua: WasmLua;
  readonly #m: LuaExports;
  readonly #fiber: LuaFiberControl<number>;
  #memoryExceeded = false;
  /** The hook was set to fire at the next instruction by {@link WasmoonAdapter.#bringHookForward}; enterHook sets it back. */
  #hookBroughtForward = false;
  /**
   * The allocator saw much copying since the last hook (inside a Lua instruction): lua_sethook only
   * sets fields, so it is safe here, and makes the next instruction run the hook. A guest coroutine
   * running now has its own hook; it is not brought forward, and is checked at its own count.
   */
  readonly #bringHookForward = (): void => {
    const thread = this.#fiber.thread;
    if (thread === undefined || this.#fiber.killed) return;
    this.#hookBroughtForward = true;
    this.#m._lua_sethook(thread, this.#state.hookPointer, LUA_MASKCOUNT, 1);
  };

  constructor (state: WasmoonState, fiber: LuaFiberControl<number>) {
    this.#state = state;
    this.#lua = state.lua;
    this.#m = state.lua.m;
    this.#fiber = fiber;
    this.mainThread = state.L;
    this.startRef = state.startRef;
    this.factoryRef = state.factoryRef;
    this.stringMetatableRef = state.stringMetatableRef;
  }

  // --- the Lua C API, as this engine spells it ---

  newThread (): { thread: number, ref: number } { return this.#state.newThread(); }
  ref (L: number): number { return this.#m._luaL_ref(L, LUA_REGISTRYINDEX); }
  unref (ref: number): void { this.#state.unref(ref); }
  pushRef (L: number, ref: number): void { this.#m._lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt(ref)); }
  pushValue (L: number, index: number): void { this.#m._lua_pushvalue(L, index); }
  pushBytes (L: number, bytes: Uint8Array): void { this.#lua.pushBytes(L, bytes); }
  pushText (L: number, text: string): void { this.#lua.pushText(L, text); }
  pushBoolean (L: number, value: boolean): void { this.#m._lua_pushboolean(L, value ? 1 : 0); }
  pushInteger (L: number, value: number): void { this.#m._lua_pushinteger(L, BigInt(value)); }
  rawSet (L: number, index: number): void { this.#m._lua_rawset(L, index); }
  setTop (L: number, index: number): void { this.#m._lua_settop(L, index); }

  resume (thread: number, nargs: number): ResumeStatus {
    const status = this.#lua.resume(thread, nargs);
    return status === LUA_OK ? 'ok' : status === LUA_YIELD ? 'yield' : 'error';
  }

  topBytes (L: number): Uint8Array | null { return this.#lua.toBytes(L, -1); }

  topText (L: number): string | undefined {
    const type = this.#m._lua_type(L, -1);
    return type === LUA_TSTRING || type === LUA_TNUMBER ? this.#lua.toText(L, -1) : undefined;
  }

  topTypeName (L: number): string { return this.#lua.readCString(this.#m._lua_typename(L, this.#m._lua_type(L, -1))); }

  traceback (thread: number): string {
    this.#m._luaL_traceback(thread, thread, 0, 0);
    return this.#lua.toText(thread, -1);
  }

  isYieldable (L: number): boolean { return this.#m._lua_isyieldable(L) !== 0; }

  /** In a hook lua_yieldk returns; Lua yields when the hook does. */
  yieldFromHook (L: number): void { this.#m._lua_yieldk(L, 0, 0, 0); }

  /** A longjmp through this JavaScript frame, as wasmoon's own timeout does. */
  raise (L: number, message: string): never {
    this.#lua.pushText(L, message);
    this.#m._lua_error(L);
    throw new Error('unreachable: lua_error returned');
  }

  hookEveryInstruction (thread: number): void { this.#m._lua_sethook(thread, this.#state.hookPointer, LUA_MASKCOUNT, 1); }

  // --- the engine's own bookkeeping ---

  unavailable (): ErrorRecord | undefined {
    // Another invocation trapped in this state while this one was between slices.
    return this.#state.broken ? { code: 'ERR_TRAP', message: 'the function\'s Lua state was discarded after a trap in another invocation' } : undefined;
  }

  beginSlice (fiber: RunningLuaFiber<number>): void {
    const state = this.#state;
    state.current = fiber;
    state.allocator.markPeak();
    state.allocator.onHeavyWork = this.#bringHookForward;
    this.#refuel();
  }

  endSlice (): void {
    this.#state.current = undefined;
    this.#state.allocator.onHeavyWork = undefined;
  }

  afterThrow (): string | undefined {
    // A trap leaves the wasm Lua state in an unknown place: no invocation may use it again.
    this.#state.broken = true;
    return this.#lua.fuelSpent ? kLibraryCallStopped : undefined;
  }

  enterHook (L: number): void {
    this.#refuel(); // back in Lua code: not stuck in a C routine
    this.#state.allocator.bytesSinceHook = 0;
    if (!this.#hookBroughtForward) return;
    this.#hookBroughtForward = false;
    const thread = this.#fiber.thread!;
    this.#m._lua_sethook(L, this.#state.hookPointer, LUA_MASKCOUNT, kWasmoonHookInstructions);
    if (L !== thread) this.#m._lua_sethook(thread, this.#state.hookPointer, LUA_MASKCOUNT, kWasmoonHookInstructions);
  }

  checkMemoryAtHook (L: number): void {
    if (!this.#state.allocator.exhausted) return;
    this.#memoryExceeded = true;
    this.raise(L, 'not enough memory');
  }

  get memoryBreached (): boolean {
    return this.#memoryExceeded || this.#state.allocator.exhausted;
  }

  memoryError (): ErrorRecord {
    const state = this.#state;
    const asked = state.allocator.exhaustedRequestBytes > 0 ? ` (an allocation of ${state.allocator.exhaustedRequestBytes} bytes was refused)` : '';
    state.allocator.exhausted = false;
    state.allocator.exhaustedRequestBytes = 0;
    return { code: 'ERR_MEMORY_BUDGET', message: `memory budget of ${state.budgetBytes} bytes exceeded: the function held ${state.usedBytes} bytes${asked}` };
  }

  failureOf (thread: number): ErrorRecord | undefined {
    // A library buffer (string.rep, table.concat...) asks the allocator once, with no collection
    // and retry: a refusal there surfaces as this error and is the budget's doing too.
    if (this.#state.allocator.refusals > 0 && this.#m._lua_type(thread, -1) === LUA_TSTRING && this.#lua.toText(thread, -1) === 'not enough memory') return this.memoryError();
    return undefined;
  }

  get sliceMemoryBytes (): number {
    return this.#state.allocator.peakBytes - this.#state.baselineBytes;
  }

  ended (): void {}

  /** What the wasm may spend before it traps: the CPU left, but at most kLua54MaxUninterruptibleMs. */
  #refuel (): void {
    const clock = this.#fiber.clock;
    const leftMs = clock.budgetMs - clock.usedAt(performance.now());
    this.#lua.setFuel(kLua54FuelUnitsPerMs * Math.max(1, Math.min(leftMs, kLua54MaxUninterruptibleMs)));
  }
}
