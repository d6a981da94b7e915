#!/usr/bin/env node
/**
 * fengari's cost model (plugins/lua/library-costs.ts, heap-walk.ts kSizes), measured: the CPU cost
 * of the library work that one Lua instruction can do (string.rep, string.upper, a plain find, a
 * concatenation, table.concat, table.sort, ...) per byte or per element, on springbok's private,
 * patched fengari with no invocation running (so nothing is metered); and the V8 heap a table slot,
 * a short string and a small table really take (heapUsed + arrayBuffers after full GC) against what
 * the heap walk charges for them. Results feed doc/lua.md.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fengariApi, jsString, luaString, type LuaState } from '../plugins/lua/fengari-api.ts';
import { walkLuaHeap } from '../plugins/lua/heap-walk.ts';
import { experimentArgs, machineHeader, writeResult } from './lib/report.ts';

const args = experimentArgs('lua-library-costs', 'Usage: node experiments/lua-library-costs.ts [--quick]\n\nfengari: CPU cost per byte or element of library calls, V8 heap per table slot, string and table against the heap walk\'s estimate.');
setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;
const gc = (): void => { for (let i = 0; i < 4; i++) fullGc(); };
const q = args.quick;
const api = fengariApi();
const results: Record<string, unknown> = { experiment: 'lua-library-costs', quick: q, machine: machineHeader() };

function newState (): LuaState {
  const L = api.luaL_newstate();
  api.luaL_openlibs(L);
  return L;
}

/** Loads `chunk` (which returns a function) and calls that function once; throws Lua's message. */
function callChunk (L: LuaState, chunk: string): void {
  const source = luaString(chunk);
  if (api.luaL_loadbufferx(L, source, source.length, luaString('=cost'), luaString('t')) !== api.LUA_OK || api.lua_pcall(L, 0, 1, 0) !== api.LUA_OK) {
    throw new Error(jsString(api.lua_tolstring(L, -1)));
  }
}

/** Best of several runs of `body` repeated `reps` times after `setup`, in ns per unit of work. */
function nsPerUnit (setup: string, body: string, units: number): number {
  const L = newState();
  const reps = Math.max(3, Math.ceil((q ? 2e6 : 2e7) / units));
  callChunk(L, `${setup}\nreturn function () for _ = 1, ${reps} do ${body} end end`);
  let best = Infinity;
  for (let run = 0; run < (q ? 2 : 5); run++) {
    api.lua_pushvalue(L, -1);
    const startedAt = performance.now();
    if (api.lua_pcall(L, 0, 0, 0) !== api.LUA_OK) throw new Error(jsString(api.lua_tolstring(L, -1)));
    best = Math.min(best, performance.now() - startedAt);
  }
  return (best * 1e6) / (reps * units);
}

const N = q ? 100_000 : 1_000_000;
const costRows: [string, string, string, number][] = [
  ['string.rep of 1 byte, per byte', '', `local s = string.rep('x', ${N})`, N],
  ['string.rep of 100 bytes, per byte', `local p = string.rep('y', 100)`, `local s = string.rep(p, ${N / 100})`, N],
  ['string.upper, per byte', `local s = string.rep('a', ${N})`, 's:upper()', N],
  ['string.lower, per byte', `local s = string.rep('A', ${N})`, 's:lower()', N],
  ['string.reverse, per byte', `local s = string.rep('a', ${N})`, 's:reverse()', N],
  ['string.byte(s, 1, -1), per value', `local s = string.rep('a', ${N / 10})`, 's:byte(1, -1)', N / 10],
  ['string.char, per argument', `local t = {} for i = 1, 1000 do t[i] = 65 end local args = { table.unpack(t) }`, 'string.char(table.unpack(args))', 1000],
  ['table.unpack, per element', `local t = {} for i = 1, 1000 do t[i] = i end`, 'table.unpack(t)', 1000],
  ['string.format %s, per byte', `local s = string.rep('a', ${N})`, "string.format('%s', s)", N],
  ['string.format %q, per byte', `local s = string.rep('a', ${N})`, "string.format('%q', s)", N],
  ['find plain, first byte always matches, per byte', `local s = string.rep('a', ${N})`, "s:find('ab', 1, true)", N],
  ['find plain, first byte never matches, per byte', `local s = string.rep('a', ${N})`, "s:find('bc', 1, true)", N],
  ['find pattern, per byte', `local s = string.rep('a', ${N})`, "s:find('a%d')", N],
  ['gsub, one match per byte, per byte', `local s = string.rep('a', ${N})`, "s:gsub('a', 'b')", N],
  ['.. of a big and a short string, per byte', `local s = string.rep('a', ${N})`, "local r = s .. 'x'", N],
  ['string.sub copy, per byte', `local s = string.rep('a', ${N})`, 'local r = s:sub(2)', N],
  ['table.concat of 1-byte strings, per element', `local t = {} for i = 1, ${N / 10} do t[i] = 'x' end`, 'table.concat(t)', N / 10],
  ['table.sort, random numbers, per n log2 n', `local src = {} for i = 1, 10000 do src[i] = (i * 7919) % 10007 end`, 'local t = {} for i = 1, 10000 do t[i] = src[i] end table.sort(t)', 10000 * Math.log2(10000)],
  ['match of a pattern that never matches, per byte', `local s = string.rep('a', ${N})`, "s:match('b')", N],
];
const costs: Record<string, number> = {};
for (const [name, setup, body, units] of costRows) {
  costs[name] = Number(nsPerUnit(setup, body, units).toFixed(3));
  console.log(`${name.padEnd(50)} ${costs[name].toFixed(3)} ns`);
}
results.nsPerUnit = costs;

// V8 heap per entry against the heap walk's estimate.
const count = q ? 50_000 : 300_000;
const heapRows: Record<string, string> = {
  'table slot, integer key, float value': 'local t = {} for i = 1, N do t[i] = i + 0.5 end return t',
  'table slot, integer key, integer value': 'local t = {} for i = 1, N do t[i] = i end return t',
  'table slot + short string key': 'local t = {} for i = 1, N do t["k" .. i] = i end return t',
  'table slot + small table': 'local t = {} for i = 1, N do t[i] = {} end return t',
  'table slot + short string': 'local t = {} for i = 1, N do t[i] = "s" .. i end return t',
};
const heap: Record<string, { heapBytesPerEntry: number, walkBytesPerEntry: number }> = {};
for (const [name, body] of Object.entries(heapRows)) {
  const L = newState();
  const source = luaString(body.replace('N', String(count)));
  api.luaL_loadbufferx(L, source, source.length, luaString('=heap'), luaString('t'));
  gc();
  const before = process.memoryUsage();
  if (api.lua_pcall(L, 0, 1, 0) !== api.LUA_OK) throw new Error(jsString(api.lua_tolstring(L, -1)));
  gc();
  const after = process.memoryUsage();
  const grew = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
  const walked = walkLuaHeap([L], new WeakSet());
  heap[name] = { heapBytesPerEntry: Math.round(grew / count), walkBytesPerEntry: Math.round(walked / count) };
  console.log(`${name.padEnd(40)} heap ${heap[name].heapBytesPerEntry} B/entry, walk ${heap[name].walkBytesPerEntry} B/entry`);
}
results.heapPerEntry = heap;

await writeResult(args.out, results);
