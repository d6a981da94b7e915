import type { ErrorRecord } from '../../engine/errors.ts';
import type { LuaEngineAdapter, LuaFiberControl, ResumeStatus, RunningLuaFiber } from '../lua-common/engine-adapter.ts';
import type { SliceClock } from '../lua-common/slice-clock.ts';
import { jsString, luaString, type FengariApi, type LuaState } from './fengari-api.ts';
import type { FengariState } from './lua-state.ts';
import { meterHub } from './meter-hub.ts';
import { FengariWorkMeter } from './work-meter.ts';

/**
 * The Lua fiber's view of fengari, for one invocation: its API calls, the memory meter (an
 * estimate checked by walks of the heap, see memory-meter.ts), the work meter for library calls
 * that one instruction can make long (work-meter.ts), and JavaScript exceptions thrown inside
 * fengari (native errors), which fail the invocation with ERR_TRAP.
 */
export class FengariAdapter implements LuaEngineAdapter<LuaState> {
  readonly language = 'lua';
  readonly mainThread: LuaState;
  readonly startRef: number;
  readonly factoryRef: number;
  readonly stringMetatableRef: number;
  readonly #state: FengariState;
  readonly #api: FengariApi;
  readonly #clock: SliceClock;
  readonly #steps: FengariWorkMeter;
  readonly #recordNativeError = (message: string): void => { this.#nativeError = message; };
  #nativeError: string | undefined;

  constructor (state: FengariState, fiber: LuaFiberControl<LuaState>) {
    this.#state = state;
    this.#api = state.api;
    this.mainThread = state.L;
    this.startRef = state.startRef;
    this.factoryRef = state.factoryRef;
    this.stringMetatableRef = state.stringMetatableRef;
    this.#clock = fiber.clock;
    this.#steps = new FengariWorkMeter(fiber.clock, (L, now, detail) => fiber.kill(L, now, detail));
  }

  // --- the Lua C API, as this engine spells it ---

  newThread (): { thread: LuaState, ref: number } { return this.#state.newThread(); }
  ref (L: LuaState): number { return this.#api.luaL_ref(L, this.#api.LUA_REGISTRYINDEX); }
  unref (ref: number): void { this.#state.unref(ref); }
  pushRef (L: LuaState, ref: number): void { this.#api.lua_rawgeti(L, this.#api.LUA_REGISTRYINDEX, ref); }
  pushValue (L: LuaState, index: number): void { this.#api.lua_pushvalue(L, index); }
  pushBytes (L: LuaState, bytes: Uint8Array): void { this.#api.lua_pushlstring(L, bytes, bytes.length); }
  pushText (L: LuaState, text: string): void { this.#api.lua_pushstring(L, luaString(text)); }
  pushBoolean (L: LuaState, value: boolean): void { this.#api.lua_pushboolean(L, value); }
  pushInteger (L: LuaState, value: number): void { this.#api.lua_pushinteger(L, value); }
  rawSet (L: LuaState, index: number): void { this.#api.lua_rawset(L, index); }
  setTop (L: LuaState, index: number): void { this.#api.lua_settop(L, index); }

  resume (thread: LuaState, nargs: number): ResumeStatus {
    const api = this.#api;
    const status = api.lua_resume(thread, null, nargs);
    return status === api.LUA_OK ? 'ok' : status === api.LUA_YIELD ? 'yield' : 'error';
  }

  topBytes (L: LuaState): Uint8Array | null {
    const bytes = this.#api.lua_tolstring(L, -1);
    // lua_tolstring hands out the Lua string's own bytes: the output must not alias them.
    return bytes === null ? null : Uint8Array.from(bytes);
  }

  topText (L: LuaState): string | undefined {
    const api = this.#api;
    const type = api.lua_type(L, -1);
    return type === api.LUA_TSTRING || type === api.LUA_TNUMBER ? jsString(api.lua_tolstring(L, -1)) : undefined;
  }

  topTypeName (L: LuaState): string { return jsString(this.#api.lua_typename(L, this.#api.lua_type(L, -1))); }

  traceback (thread: LuaState): string {
    this.#api.luaL_traceback(thread, thread, null, 0);
    return jsString(this.#api.lua_tolstring(thread, -1));
  }

  isYieldable (L: LuaState): boolean { return this.#api.lua_isyieldable(L); }
  yieldFromHook (L: LuaState): void { this.#api.lua_yield(L, 0); }
  raise (L: LuaState, message: string): never { return this.#api.luaL_error(L, luaString(message)); }
  hookEveryInstruction (thread: LuaState): void { this.#api.lua_sethook(thread, this.#state.hook, this.#api.LUA_MASKCOUNT, 1); }

  // --- the engine's own bookkeeping ---

  unavailable (): undefined { return undefined; }

  beginSlice (fiber: RunningLuaFiber<LuaState>): void {
    this.#steps.markInLua(this.#clock.startedAt);
    this.#state.current = fiber;
    this.#state.onNativeError = this.#recordNativeError;
    meterHub.meter = this.#state.meter;
    meterHub.steps = this.#steps;
  }

  endSlice (): void {
    this.#state.current = undefined;
    this.#state.onNativeError = undefined;
    meterHub.meter = undefined;
    meterHub.steps = undefined;
  }

  afterThrow (): undefined { return undefined; }

  enterHook (_L: LuaState): void {
    this.#steps.markInLua(performance.now());
  }

  checkMemoryAtHook (L: LuaState): void {
    this.#state.meter.poll(L);
  }

  get memoryBreached (): boolean {
    return this.#state.meter.refused;
  }

  memoryError (): ErrorRecord {
    const meter = this.#state.meter;
    const pending = meter.refusedBytes > 0 ? ` (${meter.refusedBytes} more bytes asked for)` : '';
    return { code: 'ERR_MEMORY_BUDGET', message: `memory budget of ${meter.budgetBytes} bytes exceeded: the function held about ${meter.liveBytes} bytes${pending}` };
  }

  failureOf (_thread: LuaState): ErrorRecord | undefined {
    return this.#nativeError === undefined ? undefined : { code: 'ERR_TRAP', message: this.#nativeError };
  }

  get sliceMemoryBytes (): number {
    const { estimateBytes, budgetBytes } = this.#state.meter;
    return estimateBytes < budgetBytes ? estimateBytes : budgetBytes;
  }

  ended (): void {
    const meter = this.#state.meter;
    if (!meter.refused) return;
    // The refused invocation's objects are unreachable now: measure again so the next
    // invocation starts from what is really live.
    meter.refused = false;
    meter.refusedBytes = 0;
    meter.walk();
  }
}
