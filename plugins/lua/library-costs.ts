import type { FengariApi, LuaState } from './fengari-api.ts';
import { kSizes } from './heap-walk.ts';

/**
 * fengari's CPU cost of library work whose size is known from the arguments, in ns, measured on
 * Node 24 x64 (Intel Xeon, one core, JIT warm) by experiments/lua-library-costs.ts; rounded up a
 * little. Used to refuse a call before it runs when it cannot finish within the CPU budget, and to
 * advance the clock checks the count hook cannot make inside one instruction (doc/lua.md).
 */
export const kLibraryCostNs = Object.freeze({
  /** Making any string: allocation and copy, per byte (`..`, string.sub, every library result). */
  stringBytes: 0.3,
  /** string.rep (filled by doubling, see fengari-loader.ts), per result byte: ~0.4 ns warm, ~9 ns for a 200 MB result in fresh memory. */
  repByte: 8,
  /** string.upper, string.lower, string.reverse: a JavaScript loop per byte (1–3 ns warm; the fresh-memory figure of rep). */
  caseByte: 8,
  /** string.byte: per value pushed. */
  byteValue: 100,
  /** string.char: per argument. */
  charArgument: 210,
  /** string.format: per byte of string arguments, with and without a %q (which escapes byte by byte). */
  formatByte: 1,
  formatQuotedByte: 40,
});

/** What a library call is about to cost: CPU, and bytes it will hold that nothing else charges before they exist. */
export interface CallEstimate {
  readonly ns: number;
  readonly bytes: number;
}

/** Estimates a call from its arguments on L's stack, without converting or changing them. */
export type CostEstimator = (api: FengariApi, L: LuaState) => CallEstimate;

const kFree: CallEstimate = Object.freeze({ ns: 0, bytes: 0 });

/** Length of argument `index` if it is a string (numbers are short when converted), else 0. */
function stringLength (api: FengariApi, L: LuaState, index: number): number {
  return api.lua_type(L, index) === api.LUA_TSTRING ? api.lua_rawlen(L, index) : 0;
}

/** Argument `index` as a number, or `fallback` when absent or not a number (the function itself will complain). */
function numberArgument (api: FengariApi, L: LuaState, index: number, fallback: number): number {
  return api.lua_type(L, index) === api.LUA_TNUMBER ? api.lua_tonumber(L, index) : fallback;
}

/** Lua's posrelat: a negative position counts from the end. */
function position (value: number, length: number): number {
  if (value >= 0) return value;
  if (-value > length) return 0;
  return length + value + 1;
}

const rep: CostEstimator = (api, L) => {
  const n = Math.floor(numberArgument(api, L, 2, 0));
  if (!(n > 0)) return kFree;
  const piece = stringLength(api, L, 1) || String(numberArgument(api, L, 1, 0)).length;
  const separator = stringLength(api, L, 3);
  const bytes = n * piece + (n - 1) * separator;
  return { ns: bytes * kLibraryCostNs.repByte, bytes };
};

const perByte: CostEstimator = (api, L) => {
  const bytes = stringLength(api, L, 1);
  return { ns: bytes * kLibraryCostNs.caseByte, bytes };
};

const byte: CostEstimator = (api, L) => {
  const length = stringLength(api, L, 1);
  let first = position(Math.floor(numberArgument(api, L, 2, 1)), length);
  let last = position(Math.floor(numberArgument(api, L, 3, first)), length);
  if (first < 1) first = 1;
  if (last > length) last = length;
  if (first > last) return kFree;
  const values = last - first + 1;
  // Each value takes a stack slot: the stack grows before anything charges it.
  return { ns: values * kLibraryCostNs.byteValue, bytes: values * kSizes.stackSlot };
};

const char: CostEstimator = (api, L) => {
  const n = api.lua_gettop(L);
  return { ns: n * kLibraryCostNs.charArgument, bytes: n };
};

const kPercent = 0x25;
const kQ = 0x71;

const format: CostEstimator = (api, L) => {
  const top = api.lua_gettop(L);
  if (api.lua_type(L, 1) !== api.LUA_TSTRING) return kFree;
  const spec = api.lua_tolstring(L, 1)!;
  let quoted = false;
  for (let i = 0; i + 1 < spec.length; i++) {
    if (spec[i] === kPercent && spec[i + 1] === kQ) { quoted = true; break; }
  }
  let bytes = spec.length;
  for (let i = 2; i <= top; i++) bytes += stringLength(api, L, i);
  return { ns: bytes * (quoted ? kLibraryCostNs.formatQuotedByte : kLibraryCostNs.formatByte), bytes: 0 };
};

/**
 * The library functions charged before they run, by library and name. The others either cost
 * little whatever their arguments, or count their own steps inside fengari (pattern matching,
 * plain find, table.sort, table.concat, table.unpack: see fengari-loader.ts).
 */
export const kMeteredFunctions: Readonly<Record<string, Readonly<Record<string, CostEstimator>>>> = Object.freeze({
  string: Object.freeze({ rep, upper: perByte, lower: perByte, reverse: perByte, byte, char, format }),
});
