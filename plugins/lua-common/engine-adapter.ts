import type { ErrorRecord } from '../../engine/errors.ts';
import type { SliceClock } from './slice-clock.ts';

/** How a resume of the invocation's coroutine ended, in either engine's terms. */
export type ResumeStatus = 'ok' | 'yield' | 'error';

/**
 * What a Lua state's count hook and host functions call: the fiber whose run() is on the stack
 * (the state's `current`). `Thread` is the engine's handle of a Lua thread.
 */
export interface RunningLuaFiber<Thread> {
  onHook (L: Thread): void;
  onLog (line: string): void;
  /** host_call(op, ...): an asynchronous host call (host-call-bridge.ts); each argument a string's bytes, or undefined for false. */
  onHostCall (op: string, args: (Uint8Array | undefined)[]): void;
  /** host_bind: the invocation's string table and metatable view are at stack indices 1 and 2 of L. */
  onBind (L: Thread): void;
  cpuSeconds (): number;
  /** Why the invocation was killed (CPU or memory), or undefined. */
  killMessage (): string | undefined;
}

/** What an adapter may ask of the fiber it serves, while that fiber's run() is on the stack. */
export interface LuaFiberControl<Thread> {
  readonly clock: SliceClock;
  /** The invocation's coroutine; undefined before its first slice and after it ended. */
  readonly thread: Thread | undefined;
  /** True once the CPU budget killed the invocation. */
  readonly killed: boolean;
  /**
   * Kills the invocation for its CPU budget: the error is raised on L now and at every hook from
   * then on. `detail` says why, where the adapter knows more than the clock.
   */
  kill (L: Thread, now: number, detail?: string): never;
}

/**
 * Everything in which fengari (`lua`) and wasmoon (`lua54`) differ under the one Lua fiber
 * (lua-fiber.ts): the Lua C API calls the fiber makes, spelled for each engine, and the engine's
 * own bookkeeping at the points the fiber gives it (slice start and end, count hook, outcome,
 * end of the invocation). One adapter per invocation, so it may hold that invocation's
 * engine-side state (fengari's work meter, lua54's memory and hook flags).
 */
export interface LuaEngineAdapter<Thread> {
  /** The plugin's name, for internal errors. */
  readonly language: string;
  /** The function's main thread: where the shared string metatable is updated. */
  readonly mainThread: Thread;
  /** Registry references the state made: the prelude's start function, the chunk factory, the string metatable. */
  readonly startRef: number;
  readonly factoryRef: number;
  readonly stringMetatableRef: number;

  // --- the Lua C API ---

  /** A new coroutine for the invocation, its count hook set, anchored in the registry by `ref`. */
  newThread (): { thread: Thread, ref: number };
  /** Pops the top of L's stack into the registry. */
  ref (L: Thread): number;
  unref (ref: number): void;
  pushRef (L: Thread, ref: number): void;
  pushValue (L: Thread, index: number): void;
  pushBytes (L: Thread, bytes: Uint8Array): void;
  pushText (L: Thread, text: string): void;
  pushBoolean (L: Thread, value: boolean): void;
  pushInteger (L: Thread, value: number): void;
  rawSet (L: Thread, index: number): void;
  setTop (L: Thread, index: number): void;
  resume (thread: Thread, nargs: number): ResumeStatus;
  /** A copy of the string (or number) on top of L's stack, or null for another type. */
  topBytes (L: Thread): Uint8Array | null;
  /** The string or number on top of L's stack as text, or undefined for another type. */
  topText (L: Thread): string | undefined;
  topTypeName (L: Thread): string;
  /** The traceback of `thread` (pushed on its stack, then read). */
  traceback (thread: Thread): string;
  isYieldable (L: Thread): boolean;
  /** Asks Lua to yield when the running count hook returns. */
  yieldFromHook (L: Thread): void;
  /** Raises `message` as a Lua error on L; never returns. */
  raise (L: Thread, message: string): never;
  /** Sets the coroutine's count hook to every instruction (after a kill). */
  hookEveryInstruction (thread: Thread): void;

  // --- the engine's own bookkeeping ---

  /** Why no slice can run at all (the function's state is gone), or undefined. */
  unavailable (): ErrorRecord | undefined;
  /** A slice starts (the fiber's clock has begun): point the state and meters at this invocation. */
  beginSlice (fiber: RunningLuaFiber<Thread>): void;
  /** The slice ended, however it ended: detach what beginSlice attached. */
  endSlice (): void;
  /**
   * The engine threw out of a slice. Returns the detail of an ERR_CPU_BUDGET when the throw is
   * the engine stopping a library call that ran too long, undefined for an engine failure (ERR_TRAP).
   */
  afterThrow (): string | undefined;
  /** The count hook is running: the coroutine is back in Lua code. Runs before a kill is raised again. */
  enterHook (L: Thread): void;
  /** At the count hook: raises Lua's memory error if the memory budget is breached. */
  checkMemoryAtHook (L: Thread): void;
  /** True when the memory budget was breached: the invocation fails even if the guest caught the error. */
  readonly memoryBreached: boolean;
  /** The ERR_MEMORY_BUDGET of a breach, with what the engine knows of it. */
  memoryError (): ErrorRecord;
  /** An engine-specific reading of the error a resume ended with (on top of `thread`), or undefined for a guest error. */
  failureOf (thread: Thread): ErrorRecord | undefined;
  /** The invocation's memory high-water mark in the slice that just ended, in bytes. */
  readonly sliceMemoryBytes: number;
  /** The invocation ended and its references are released. */
  ended (): void;
}
