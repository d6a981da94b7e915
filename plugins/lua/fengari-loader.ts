import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { runInThisContext } from 'node:vm';
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

/** `__sb` is the meter hub, in scope in every patched module (see {@link meterHub}). */
const kPatches: readonly Patch[] = [
  // Every Lua string is made here: charge its bytes to the running invocation.
  { file: 'lstring.js', find: '    return new TString(L, str);', replace: '    if (__sb.meter !== undefined) __sb.meter.chargeString(L, str.length);\n    return new TString(L, str);' },
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
