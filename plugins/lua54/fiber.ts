import type { ErrorRecord } from '../../engine/errors.ts';
import { kYield, type Fiber, type FetchRequest, type InvocationContext, type Slice, type SliceOutcome } from '../../engine/plugin.ts';
import { describeErrorValue, errorWithTraceback } from '../lua-common/error-text.ts';
import { fetchRequestFrom, PendingFetch } from '../lua-common/fetch-bridge.ts';
import { cpuBudgetMessage, SliceClock } from '../lua-common/slice-clock.ts';
import { kLua54FuelUnitsPerMs, kLua54MaxUninterruptibleMs, kWasmoonHookInstructions } from '../lua-common/limits.ts';
import type { RunningFiber, WasmoonState } from './lua-state.ts';
import { LUA_MASKCOUNT, LUA_OK, LUA_REGISTRYINDEX, LUA_TNUMBER, LUA_TSTRING, LUA_YIELD } from './wasm-lua.ts';

type Phase = 'new' | 'running' | 'ended';

/**
 * One invocation of a lua54 function: a coroutine in the function's state, resumed once per
 * slice; the same design as the fengari fiber (plugins/lua/fiber.ts). Lua 5.4 lets a count hook
 * yield; where the coroutine cannot yield and the CPU budget is gone, the hook raises an error
 * at every call until the invocation ends. An allocation refused for good (see LimitedAllocator)
 * ends the invocation with ERR_MEMORY_BUDGET even if the guest catches "not enough memory".
 */
export class WasmoonFiber implements Fiber, RunningFiber {
  memoryBytes = 0;
  readonly #state: WasmoonState;
  readonly #input: Uint8Array;
  readonly #context: InvocationContext;
  readonly #clock: SliceClock;
  #phase: Phase = 'new';
  #thread = 0;
  #threadRef = 0;
  #bindRefs: number[] = [];
  #preempted = false;
  #request: FetchRequest | undefined;
  #fetch: PendingFetch | undefined;
  #killMessage: string | undefined;
  #memoryExceeded = false;
  /** The hook was set to fire at the next instruction by {@link onHeavyWork}; onHook sets it back. */
  #hookBroughtForward = false;

  constructor (state: WasmoonState, input: Uint8Array, context: InvocationContext) {
    this.#state = state;
    this.#input = input;
    this.#context = context;
    this.#clock = new SliceClock(context.budget.cpuMs);
  }

  run (slice: Slice): SliceOutcome {
    if (this.#phase === 'ended') return { state: 'failed', error: { code: 'ERR_INTERNAL', message: 'lua54: run() after the invocation ended' } };
    const state = this.#state;
    if (state.broken) {
      // Another invocation trapped in this state while this one was between slices.
      this.#release();
      return { state: 'failed', error: { code: 'ERR_TRAP', message: 'the function\'s Lua state was discarded after a trap in another invocation' } };
    }
    const { lua } = state;
    const m = lua.m;
    this.#clock.begin(slice);
    state.current = this;
    state.allocator.markPeak();
    let outcome: SliceOutcome;
    try {
      let nargs = 0;
      if (this.#phase === 'new') {
        this.#phase = 'running';
        const { thread, ref } = state.newThread();
        this.#thread = thread;
        this.#threadRef = ref;
        m._lua_rawgeti(thread, LUA_REGISTRYINDEX, BigInt(state.startRef));
        m._lua_rawgeti(thread, LUA_REGISTRYINDEX, BigInt(state.factoryRef));
        lua.pushBytes(thread, this.#input);
        nargs = 2;
      } else {
        this.#installStringLibrary();
        if (this.#fetch !== undefined) nargs = this.#pushFetchReply();
      }
      this.#refuel();
      const status = lua.resume(this.#thread, nargs);
      outcome = this.#outcomeOf(status);
    } catch (error) {
      // A trap leaves the wasm Lua state in an unknown place: no invocation may use it again.
      state.broken = true;
      outcome = lua.fuelSpent
        ? { state: 'failed', error: { code: 'ERR_CPU_BUDGET', message: `a call into Lua's library ran ${kLua54MaxUninterruptibleMs} ms (or the rest of the CPU budget) without returning to Lua code, and was stopped (${this.#clock.usedAt(performance.now()).toFixed(1)} ms of ${this.#clock.budgetMs} ms used)` } }
        : { state: 'failed', error: { code: 'ERR_TRAP', message: `the Lua engine failed: ${error instanceof Error ? error.message : String(error)}` } };
    } finally {
      this.#clock.end();
      state.current = undefined;
    }
    const peak = state.allocator.peakBytes - state.baselineBytes;
    if (peak > this.memoryBytes) this.memoryBytes = peak;
    if (outcome.state === 'done' || outcome.state === 'failed') this.#release();
    return outcome;
  }

  /** What the wasm may spend before it traps: the CPU left, but at most kLua54MaxUninterruptibleMs. */
  #refuel (): void {
    const leftMs = this.#clock.budgetMs - this.#clock.usedAt(performance.now());
    this.#state.lua.setFuel(kLua54FuelUnitsPerMs * Math.max(1, Math.min(leftMs, kLua54MaxUninterruptibleMs)));
  }

  cancel (_reason: ErrorRecord): void {
    this.#release();
  }

  // --- called by the state's hook and host functions while run() is on the stack ---

  onHook (L: number): void {
    const m = this.#state.lua.m;
    this.#refuel(); // back in Lua code: not stuck in a C routine
    this.#state.allocator.bytesSinceHook = 0;
    if (this.#hookBroughtForward) {
      this.#hookBroughtForward = false;
      m._lua_sethook(L, this.#state.hookPointer, LUA_MASKCOUNT, kWasmoonHookInstructions);
      if (L !== this.#thread) m._lua_sethook(this.#thread, this.#state.hookPointer, LUA_MASKCOUNT, kWasmoonHookInstructions);
    }
    if (this.#killMessage !== undefined) this.#raise(L, this.#killMessage);
    if (this.#state.allocator.exhausted) {
      this.#memoryExceeded = true;
      this.#raise(L, 'not enough memory');
    }
    const now = performance.now();
    if (now < this.#clock.endsAt) return;
    if (L === this.#thread && m._lua_isyieldable(L) !== 0) {
      this.#preempted = true;
      m._lua_yieldk(L, 0, 0, 0); // in a hook this returns; Lua yields when the hook does
      return;
    }
    if (this.#clock.isOverBudget(now)) {
      this.#killMessage = cpuBudgetMessage(this.#clock.budgetMs, this.#clock.usedAt(now));
      m._lua_sethook(this.#thread, this.#state.hookPointer, LUA_MASKCOUNT, 1);
      this.#raise(L, this.#killMessage);
    }
  }

  /**
   * Called from the allocator (inside a Lua instruction): lua_sethook only sets fields, so it is safe
   * here, and makes the next instruction run the hook. A guest coroutine running now has its own
   * hook; it is not brought forward, and is checked at its own count.
   */
  onHeavyWork (): void {
    if (this.#thread === 0 || this.#killMessage !== undefined) return;
    this.#hookBroughtForward = true;
    this.#state.lua.m._lua_sethook(this.#thread, this.#state.hookPointer, LUA_MASKCOUNT, 1);
  }

  onLog (line: string): void {
    this.#context.log(line);
  }

  onFetch (url: string, method: string, body: Uint8Array | undefined, headerPairs: string[]): void {
    this.#request = fetchRequestFrom(url, method, body, headerPairs);
  }

  onBind (L: number): void {
    const m = this.#state.lua.m;
    for (const index of [1, 2]) {
      m._lua_pushvalue(L, index);
      this.#bindRefs.push(m._luaL_ref(L, LUA_REGISTRYINDEX));
    }
    this.#installStringLibrary();
  }

  cpuSeconds (): number {
    return this.#clock.usedAt(performance.now()) / 1000;
  }

  killMessage (): string | undefined {
    return this.#killMessage ?? (this.#memoryExceeded || this.#state.allocator.exhausted ? 'not enough memory' : undefined);
  }

  // --- internals ---

  /** Raises a Lua error from the hook (a longjmp through this JavaScript frame, as wasmoon's own timeout does). */
  #raise (L: number, message: string): never {
    this.#state.lua.pushText(L, message);
    this.#state.lua.m._lua_error(L);
    throw new Error('unreachable: lua_error returned');
  }

  #installStringLibrary (): void {
    if (this.#bindRefs.length !== 2) return;
    const { lua, L } = this.#state;
    const m = lua.m;
    m._lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt(this.#state.stringMetatableRef));
    lua.pushText(L, '__index');
    m._lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt(this.#bindRefs[0]!));
    m._lua_rawset(L, -3);
    lua.pushText(L, '__metatable');
    m._lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt(this.#bindRefs[1]!));
    m._lua_rawset(L, -3);
    m._lua_settop(L, 0);
  }

  #outcomeOf (status: number): SliceOutcome {
    const { lua } = this.#state;
    const m = lua.m;
    const thread = this.#thread;
    if (this.#memoryExceeded || this.#state.allocator.exhausted) return this.#memoryFailure();
    if (status === LUA_YIELD) {
      if (this.#request !== undefined) {
        this.#fetch = new PendingFetch(this.#context, this.#request);
        this.#request = undefined;
        m._lua_settop(thread, 0);
        return { state: 'wait', until: this.#fetch.settled };
      }
      if (this.#preempted) {
        this.#preempted = false;
        return kYield;
      }
      return { state: 'failed', error: { code: 'ERR_INTERNAL', message: 'lua54: the invocation yielded without a reason' } };
    }
    if (status === LUA_OK) {
      return { state: 'done', output: lua.toBytes(thread, -1) ?? new Uint8Array() };
    }
    if (this.#killMessage !== undefined) return { state: 'failed', error: { code: 'ERR_CPU_BUDGET', message: this.#killMessage } };
    // A library buffer (string.rep, table.concat...) asks the allocator once, with no collection
    // and retry: a refusal there surfaces as this error and is the budget's doing too.
    if (this.#state.allocator.refusals > 0 && m._lua_type(thread, -1) === LUA_TSTRING && lua.toText(thread, -1) === 'not enough memory') return this.#memoryFailure();
    return { state: 'failed', error: { code: 'ERR_FUNCTION', message: this.#errorMessage(thread) } };
  }

  #memoryFailure (): SliceOutcome {
    const state = this.#state;
    const asked = state.allocator.exhaustedRequestBytes > 0 ? ` (an allocation of ${state.allocator.exhaustedRequestBytes} bytes was refused)` : '';
    state.allocator.exhausted = false;
    state.allocator.exhaustedRequestBytes = 0;
    return { state: 'failed', error: { code: 'ERR_MEMORY_BUDGET', message: `memory budget of ${state.budgetBytes} bytes exceeded: the function held ${state.usedBytes} bytes${asked}` } };
  }

  #errorMessage (thread: number): string {
    const { lua } = this.#state;
    const m = lua.m;
    const type = m._lua_type(thread, -1);
    const message = type === LUA_TSTRING || type === LUA_TNUMBER ? lua.toText(thread, -1) : describeErrorValue(lua.readCString(m._lua_typename(thread, type)));
    m._luaL_traceback(thread, thread, 0, 0);
    return errorWithTraceback(message, lua.toText(thread, -1));
  }

  #pushFetchReply (): number {
    const { lua } = this.#state;
    const m = lua.m;
    const thread = this.#thread;
    const reply = this.#fetch!.reply!;
    this.#fetch = undefined;
    if (!reply.ok) {
      m._lua_pushboolean(thread, 0);
      lua.pushText(thread, reply.message);
      return 2;
    }
    m._lua_pushboolean(thread, 1);
    m._lua_pushinteger(thread, BigInt(reply.status));
    lua.pushBytes(thread, reply.body);
    for (const text of reply.headers) lua.pushText(thread, text);
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
    this.#thread = 0;
  }
}
