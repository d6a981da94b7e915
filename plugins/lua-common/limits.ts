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
