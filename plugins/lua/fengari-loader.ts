import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { runInThisContext } from 'node:vm';
import { kLibraryCostNs } from './library-costs.ts';
import { meterHub } from './meter-hub.ts';

/**
 * Loads a private copy of fengari's modules with a few lines added where the interpreter makes
 * memory or spins without returning to a Lua instruction, so springbok can meter them:
 * fengari has no allocator hook, and a pattern match or a concatenation is one instruction.
 *
 * The copy is private: nothing else in the process sees these changes, and fengari's own
 * package in node_modules is read, never modified. Each patch names the exact text it replaces
 * and loading fails loudly if that text is missing (a different fengari version).
 */

const kRequire = createRequire(import.meta.url);
const kSourceDir = dirname(kRequire.resolve('fengari/src/fengari.js'));

interface Patch {
  readonly file: string;
  readonly find: string;
  readonly replace: string;
}

/** One step of a loop whose steps cost ~1 µs (a sort comparison, a table element fetched through the API): 25 counted steps. */
const kHeavyStep = 'if (__sb.steps !== undefined && (__sb.steps.left -= 25) <= 0) __sb.steps.onExhausted(L);';

const kRepLoop = `        while (n-- > 1) {  /* first n-1 copies (followed by separator) */
            p.set(s, pi);
            pi += l;
            if (lsep > 0) {  /* empty 'memcpy' is not that cheap */
                p.set(sep, pi);
                pi += lsep;
            }
        }
        p.set(s, pi);  /* last copy (not followed by separator) */`;
const kRepByDoubling = `        p.set(s, 0);
        if (n > 1 && lsep > 0) p.set(sep, l);
        for (let filled = Math.min(l + lsep, totallen); filled < totallen; filled *= 2)
            p.copyWithin(filled, 0, Math.min(filled, totallen - filled));`;

/** `__sb` is the meter hub, in scope in every patched module (see {@link meterHub}). */
const kPatches: readonly Patch[] = [
  // Every Lua string is made here: charge its bytes to the running invocation, in memory and in
  // time (making it copied them: a `..` of two big strings is one instruction for the count hook).
  { file: 'lstring.js', find: '    return new TString(L, str);', replace: `    if (__sb.meter !== undefined) __sb.meter.chargeString(L, str.length);\n    if (__sb.steps !== undefined) __sb.steps.charge(L, str.length * ${kLibraryCostNs.stringBytes}, 'making a string');\n    return new TString(L, str);` },
  // A plain string.find (or one whose pattern has no special characters) scans in JavaScript:
  // count each candidate position, as pattern matching counts its steps (below).
  { file: 'lstrlib.js', find: 'const find_subarray = function(arr, subarr, from_index) {', replace: 'const find_subarray = function(arr, subarr, from_index, L) {' },
  { file: 'lstrlib.js', find: '    for (; (i = arr.indexOf(subarr[0], i)) !== -1; i++) {', replace: '    for (; (i = arr.indexOf(subarr[0], i)) !== -1; i++) {\n        if (L !== undefined && __sb.steps !== undefined && --__sb.steps.left <= 0) __sb.steps.onExhausted(L);' },
  { file: 'lstrlib.js', find: 'let f = find_subarray(s.subarray(init - 1), p, 0);', replace: 'let f = find_subarray(s.subarray(init - 1), p, 0, L);' },
  // string.rep copied its piece once per repetition (~55 ns each: 11 s for string.rep('x', 2e8));
  // fill by doubling instead: the result is periodic, so copying its own prefix is the same bytes
  // in log2(n) memory copies.
  { file: 'lstrlib.js', find: kRepLoop, replace: kRepByDoubling },
  // table.concat, table.unpack and table.sort loop over the table inside one instruction.
  { file: 'ltablib.js', find: '    for (; i < last; i++) {\n        addfield(L, b, i);', replace: `    for (; i < last; i++) {\n        ${kHeavyStep}\n        addfield(L, b, i);` },
  { file: 'ltablib.js', find: '    for (; i < e; i++)  /* push arg[i..e - 1] (to avoid overflows) */\n        lua_geti(L, 1, i);', replace: `    for (; i < e; i++) {\n        ${kHeavyStep}\n        lua_geti(L, 1, i);\n    }` },
  { file: 'ltablib.js', find: 'const sort_comp = function(L, a, b) {', replace: `const sort_comp = function(L, a, b) {\n    ${kHeavyStep}` },
  // A concatenation allocates its result before making the string: refuse it before the bytes exist.
  { file: 'lvm.js', find: '            let buff = new Uint8Array(tl);', replace: '            if (__sb.meter !== undefined) __sb.meter.reserve(L, tl);\n            let buff = new Uint8Array(tl);' },
  // Library buffers (string.rep, gsub, format, table.concat...) double as they grow: check each growth.
  { file: 'lauxlib.js', find: '        let newbuff = new Uint8Array(newsize);  /* create larger buffer */', replace: '        if (__sb.meter !== undefined) __sb.meter.reserve(B.L, newsize);\n        let newbuff = new Uint8Array(newsize);  /* create larger buffer */' },
  // A new table slot.
  { file: 'ltable.js', find: '    t.strong.set(hash, entry);\n    t.l = entry;', replace: '    t.strong.set(hash, entry);\n    t.l = entry;\n    if (__sb.meter !== undefined) __sb.meter.chargeSlot();' },
  // fengari bug: a yieldable pcall records the caller's 'allowhook' with `&=`, which never sets the
  // bit, so after any error that pcall catches the thread's hooks stay off for good, and with them
  // preemption and the CPU budget (`pcall(error) while true do end` would hold the engine forever).
  // Lua 5.3's setoah() sets the bit.
  { file: 'lapi.js', find: '        ci.callstatus &= ~lstate.CIST_OAH | L.allowhook;', replace: '        ci.callstatus = (ci.callstatus & ~lstate.CIST_OAH) | L.allowhook;' },
  // Pattern matching backtracks inside one instruction, for as long as the pattern makes it:
  // count its steps so the CPU budget still applies there.
  { file: 'lstrlib.js', find: '    if (ms.matchdepth-- === 0)\n        luaL_error(ms.L, to_luastring("pattern too complex"));', replace: '    if (ms.matchdepth-- === 0)\n        luaL_error(ms.L, to_luastring("pattern too complex"));\n    if (__sb.steps !== undefined && --__sb.steps.left <= 0) __sb.steps.onExhausted(ms.L);' },
];

type ModuleExports = Record<string, unknown>;

/** fengari's public modules, from the private copy. */
export interface Fengari {
  readonly lua: ModuleExports;
  readonly lauxlib: ModuleExports;
  readonly lualib: ModuleExports;
  readonly ldo: ModuleExports;
  readonly defs: ModuleExports;
  /** Internal modules whose classes the heap walk recognises. */
  readonly lobject: ModuleExports;
  readonly lstate: ModuleExports;
  readonly lfunc: ModuleExports;
  readonly lstring: ModuleExports;
  readonly ltable: ModuleExports;
}

let loaded: Fengari | undefined;

/** The private, patched fengari (loaded once per process, on first use). */
export function fengari (): Fengari {
  loaded ??= loadPrivateCopy();
  return loaded;
}

function loadPrivateCopy (): Fengari {
  const patchesByFile = new Map<string, Patch[]>();
  for (const patch of kPatches) patchesByFile.set(patch.file, [...(patchesByFile.get(patch.file) ?? []), patch]);
  const cache = new Map<string, { exports: ModuleExports }>();

  const load = (file: string): ModuleExports => {
    const cached = cache.get(file);
    if (cached !== undefined) return cached.exports;
    const path = join(kSourceDir, file);
    let source = readFileSync(path, 'utf8');
    for (const patch of patchesByFile.get(file) ?? []) {
      if (!source.includes(patch.find)) throw new Error(`springbok lua: cannot patch fengari's ${file} (not fengari 0.1.5?): missing ${JSON.stringify(patch.find.slice(0, 60))}`);
      source = source.replace(patch.find, patch.replace);
    }
    const module = { exports: {} as ModuleExports };
    cache.set(file, module); // before running: fengari's modules require each other in cycles
    const localRequire = (id: string): unknown => {
      if (id.startsWith('./')) return load(id.slice(2).endsWith('.js') ? id.slice(2) : `${id.slice(2)}.js`);
      return kRequire(id); // sprintf-js, and node built-ins the io/os libraries load (never opened here)
    };
    const wrapper = runInThisContext(`(function (exports, require, module, __filename, __dirname, __sb) {${source}\n})`, { filename: `springbok-fengari:${file}` }) as (...args: unknown[]) => void;
    wrapper(module.exports, localRequire, module, path, kSourceDir, meterHub);
    return module.exports;
  };

  load('fengari.js');
  return { lua: load('lua.js'), lauxlib: load('lauxlib.js'), lualib: load('lualib.js'), ldo: load('ldo.js'), defs: load('defs.js'), lobject: load('lobject.js'), lstate: load('lstate.js'), lfunc: load('lfunc.js'), lstring: load('lstring.js'), ltable: load('ltable.js') };
}
