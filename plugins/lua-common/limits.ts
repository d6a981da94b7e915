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

/**
 * Steps of work inside one fengari instruction between two clock checks: a pattern-matching step or
 * a plain find's candidate position is 1 (~20–110 ns), a sort comparison or a table.concat or
 * table.unpack element 25 (~0.6–1.4 µs), so a check comes every ~0.5–2 ms of such work.
 */
export const kMatchStepsPerCheck = 20_000;

/**
 * fengari: estimated work (in ns of CPU, see plugins/lua/library-costs.ts) charged by library calls
 * and string making between two clock checks. 1 ms: a check costs ~50 ns.
 */
export const kFengariWorkNsPerCheck = 1_000_000;

/**
 * fengari: longest a single call into the library (string.rep, table.sort with the default
 * comparator, ...) may hold the engine's thread without coming back to a Lua instruction, in ms.
 * A call estimated to run longer is refused before it starts, one found running longer is ended
 * (ERR_CPU_BUDGET). fengari runs library code ~5–10× slower than C, hence more than lua54's 100 ms;
 * below the scheduler's 1 s stall threshold, so no such call makes a thread look stuck.
 */
export const kFengariMaxUninterruptibleMs = 500;

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
