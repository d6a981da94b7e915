import type { ErrorRecord } from '../../engine/errors.ts';
import { kYield, type Fiber, type FetchRequest, type InvocationContext, type Slice, type SliceOutcome } from '../../engine/plugin.ts';
import { describeErrorValue, errorWithTraceback } from '../lua-common/error-text.ts';
import { fetchRequestFrom, PendingFetch } from '../lua-common/fetch-bridge.ts';
import { cpuBudgetMessage, SliceClock } from '../lua-common/slice-clock.ts';
import { jsString, luaString, type LuaState } from './fengari-api.ts';
import type { FengariState, RunningFiber } from './lua-state.ts';
import { meterHub } from './meter-hub.ts';
import { FengariWorkMeter } from './work-meter.ts';

type Phase = 'new' | 'running' | 'ended';

/**
 * One invocation of a fengari function: a coroutine in the function's state, resumed once per
 * slice. The count hook yields when the slice is over, where the coroutine can yield; where it
 * cannot (inside a table.sort comparator, a gsub callback, a __tostring, a guest's coroutine)
 * the slice runs on to the next yieldable point, unless the CPU budget is gone: then the hook
 * raises an error, and raises it again at every hook call, so pcall cannot keep the function alive.
 */
export class FengariFiber implements Fiber, RunningFiber {
  memoryBytes = 0;
  readonly #state: FengariState;
  readonly #input: Uint8Array;
  readonly #context: InvocationContext;
  readonly #clock: SliceClock;
  readonly #steps: FengariWorkMeter;
  #phase: Phase = 'new';
  #thread: LuaState | undefined;
  #threadRef = 0;
  #bindRefs: number[] = [];
  #preempted = false;
  #request: FetchRequest | undefined;
  #fetch: PendingFetch | undefined;
  /** Set once the CPU budget is gone inside non-yieldable code: the message the hook keeps raising. */
  #killMessage: string | undefined;
  #nativeError: string | undefined;

  constructor (state: FengariState, input: Uint8Array, context: InvocationContext) {
    this.#state = state;
    this.#input = input;
    this.#context = context;
    this.#clock = new SliceClock(context.budget.cpuMs);
    this.#steps = new FengariWorkMeter(this.#clock, (L, now, detail) => this.#kill(L, now, detail));
  }

  run (slice: Slice): SliceOutcome {
    if (this.#phase === 'ended') return { state: 'failed', error: { code: 'ERR_INTERNAL', message: 'lua: run() after the invocation ended' } };
    const state = this.#state;
    const { api } = state;
    this.#clock.begin(slice);
    this.#steps.markInLua(this.#clock.startedAt);
    state.current = this;
    meterHub.meter = state.meter;
    meterHub.steps = this.#steps;
    let outcome: SliceOutcome;
    try {
      let nargs = 0;
      if (this.#phase === 'new') {
        this.#phase = 'running';
        const { thread, ref } = state.newThread();
        this.#thread = thread;
        this.#threadRef = ref;
        api.lua_rawgeti(thread, api.LUA_REGISTRYINDEX, state.startRef);
        api.lua_rawgeti(thread, api.LUA_REGISTRYINDEX, state.factoryRef);
        api.lua_pushlstring(thread, this.#input, this.#input.length);
        nargs = 2;
      } else {
        this.#installStringLibrary();
        if (this.#fetch !== undefined) nargs = this.#pushFetchReply(this.#thread!);
      }
      const status = api.lua_resume(this.#thread!, null, nargs);
      outcome = this.#outcomeOf(status);
    } catch (error) {
      outcome = { state: 'failed', error: { code: 'ERR_TRAP', message: `the Lua engine failed: ${error instanceof Error ? error.message : String(error)}` } };
    } finally {
      this.#clock.end();
      state.current = undefined;
      meterHub.meter = undefined;
      meterHub.steps = undefined;
    }
    const estimate = state.meter.estimateBytes;
    if (estimate > this.memoryBytes) this.memoryBytes = estimate < state.meter.budgetBytes ? estimate : state.meter.budgetBytes;
    if (outcome.state === 'done' || outcome.state === 'failed') this.#release();
    return outcome;
  }

  cancel (_reason: ErrorRecord): void {
    this.#release();
  }

  // --- called by the state's hook and host functions while run() is on the stack ---

  onHook (L: LuaState): void {
    const { api } = this.#state;
    if (this.#killMessage !== undefined) api.luaL_error(L, luaString(this.#killMessage));
    this.#state.meter.poll(L);
    const now = performance.now();
    this.#steps.markInLua(now);
    if (now < this.#clock.endsAt) return;
    if (L === this.#thread && api.lua_isyieldable(L)) {
      this.#preempted = true;
      api.lua_yield(L, 0);
      return;
    }
    if (this.#clock.isOverBudget(now)) this.#kill(L, now);
  }

  onLog (line: string): void {
    this.#context.log(line);
  }

  onFetch (url: string, method: string, body: Uint8Array | undefined, headerPairs: string[]): void {
    this.#request = fetchRequestFrom(url, method, body, headerPairs);
  }

  onBind (L: LuaState): void {
    const { api } = this.#state;
    for (const index of [1, 2]) {
      api.lua_pushvalue(L, index);
      this.#bindRefs.push(api.luaL_ref(L, api.LUA_REGISTRYINDEX));
    }
    this.#installStringLibrary();
  }

  cpuSeconds (): number {
    return this.#clock.usedAt(performance.now()) / 1000;
  }

  killMessage (): string | undefined {
    return this.#killMessage ?? (this.#state.meter.refused ? 'not enough memory' : undefined);
  }

  onNativeError (message: string): void {
    this.#nativeError = message;
  }

  // --- internals ---

  #kill (L: LuaState, now: number, detail?: string): never {
    const { api } = this.#state;
    const message = cpuBudgetMessage(this.#clock.budgetMs, this.#clock.usedAt(now));
    this.#killMessage = detail === undefined ? message : `${message}: ${detail}`;
    api.lua_sethook(this.#thread!, this.#state.hook, api.LUA_MASKCOUNT, 1);
    return api.luaL_error(L, luaString(this.#killMessage));
  }

  /** Points the shared string metatable at this invocation's string table (see the prelude). */
  #installStringLibrary (): void {
    if (this.#bindRefs.length !== 2) return;
    const { api, L } = this.#state;
    api.lua_rawgeti(L, api.LUA_REGISTRYINDEX, this.#state.stringMetatableRef);
    api.lua_pushstring(L, luaString('__index'));
    api.lua_rawgeti(L, api.LUA_REGISTRYINDEX, this.#bindRefs[0]!);
    api.lua_rawset(L, -3);
    api.lua_pushstring(L, luaString('__metatable'));
    api.lua_rawgeti(L, api.LUA_REGISTRYINDEX, this.#bindRefs[1]!);
    api.lua_rawset(L, -3);
    api.lua_settop(L, 0);
  }

  #outcomeOf (status: number): SliceOutcome {
    const { api } = this.#state;
    const thread = this.#thread!;
    const meter = this.#state.meter;
    if (meter.refused) return this.#memoryFailure();
    if (status === api.LUA_YIELD) {
      if (this.#request !== undefined) {
        this.#fetch = new PendingFetch(this.#context, this.#request);
        this.#request = undefined;
        api.lua_settop(thread, 0);
        return { state: 'wait', until: this.#fetch.settled };
      }
      if (this.#preempted) {
        this.#preempted = false;
        return kYield;
      }
      return { state: 'failed', error: { code: 'ERR_INTERNAL', message: 'lua: the invocation yielded without a reason' } };
    }
    if (status === api.LUA_OK) {
      const bytes = api.lua_tolstring(thread, -1);
      return { state: 'done', output: bytes === null ? new Uint8Array() : Uint8Array.from(bytes) };
    }
    if (this.#killMessage !== undefined) return { state: 'failed', error: { code: 'ERR_CPU_BUDGET', message: this.#killMessage } };
    if (this.#nativeError !== undefined) return { state: 'failed', error: { code: 'ERR_TRAP', message: this.#nativeError } };
    return { state: 'failed', error: { code: 'ERR_FUNCTION', message: this.#errorMessage(thread) } };
  }

  #memoryFailure (): SliceOutcome {
    const meter = this.#state.meter;
    const pending = meter.refusedBytes > 0 ? ` (${meter.refusedBytes} more bytes asked for)` : '';
    return { state: 'failed', error: { code: 'ERR_MEMORY_BUDGET', message: `memory budget of ${meter.budgetBytes} bytes exceeded: the function held about ${meter.liveBytes} bytes${pending}` } };
  }

  #errorMessage (thread: LuaState): string {
    const { api } = this.#state;
    const type = api.lua_type(thread, -1);
    const message = type === api.LUA_TSTRING || type === api.LUA_TNUMBER ? jsString(api.lua_tolstring(thread, -1)) : describeErrorValue(jsString(api.lua_typename(thread, type)));
    api.luaL_traceback(thread, thread, null, 0);
    return errorWithTraceback(message, jsString(api.lua_tolstring(thread, -1)));
  }

  #pushFetchReply (thread: LuaState): number {
    const { api } = this.#state;
    const reply = this.#fetch!.reply!;
    this.#fetch = undefined;
    if (!reply.ok) {
      api.lua_pushboolean(thread, false);
      api.lua_pushstring(thread, luaString(reply.message));
      return 2;
    }
    api.lua_pushboolean(thread, true);
    api.lua_pushinteger(thread, reply.status);
    api.lua_pushlstring(thread, reply.body, reply.body.length);
    for (const text of reply.headers) api.lua_pushstring(thread, luaString(text));
    return 3 + reply.headers.length;
  }

  #release (): void {
    if (this.#phase === 'ended') return;
    const wasStarted = this.#phase === 'running';
    this.#phase = 'ended';
    if (!wasStarted) return;
    const state = this.#state;
    state.unref(this.#threadRef);
    for (const ref of this.#bindRefs) state.unref(ref);
    this.#bindRefs = [];
    this.#thread = undefined;
    if (state.meter.refused) {
      // The refused invocation's objects are unreachable now: measure again so the next
      // invocation starts from what is really live.
      state.meter.refused = false;
      state.meter.refusedBytes = 0;
      state.meter.walk();
    }
  }
}
