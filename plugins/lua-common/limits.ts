/** Limits and tuning shared by the `lua` (fengari) and `lua54` (wasmoon) plugins. */

/** Largest source accepted at deploy, in bytes. */
export const kMaxSourceBytes = 1024 * 1024;

/** The chunk name users see in messages and tracebacks: `function.lua:3: ...`. */
export const kChunkName = '=function.lua';

/** The prelude's chunk name; its frames are cut from tracebacks. */
export const kPreludeChunkName = '=[springbok]';

/**
 * Lua instructions between two clock checks in the count hook. fengari runs ~10–30 M
 * instructions/s, so 1,000 is a check every ~50 µs; wasmoon runs ~10× faster.
 */
export const kFengariHookInstructions = 1_000;
export const kWasmoonHookInstructions = 10_000;

/** Pattern-matching steps (fengari) between two clock checks. */
export const kMatchStepsPerCheck = 20_000;

/** Longest traceback kept in an error message, in characters. */
export const kMaxTracebackChars = 2_000;

/** Most response headers handed to a guest, and most request headers it may send. */
export const kMaxHeaders = 100;

/**
 * lua54's metered wasm (plugins/lua54/wasm-lua.ts): metering units it may spend per ms of CPU it is
 * allowed. The wasm passes about 190,000 checks per ms in a runaway pattern match here (one per C
 * loop iteration or Lua instruction), so the counter runs out close to the time it stands for;
 * code that passes checks faster is stopped sooner (a call of that kind is cut at ~50 ms, not 100).
 */
export const kLua54FuelUnitsPerMs = 200_000;

/**
 * Longest a single call into Lua's C library (a pattern match, a sort with the default comparator,
 * string.rep) may run without coming back to Lua code where the count hook can see it, in ms (or
 * the rest of the CPU budget, if less). Past it the wasm traps: ERR_CPU_BUDGET, and the function's
 * Lua state is rebuilt. It bounds how long such a call can hold the engine's thread.
 */
export const kLua54MaxUninterruptibleMs = 100;
