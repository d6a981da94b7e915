import { fengari } from './fengari-loader.ts';

/**
 * Estimated sizes of fengari's objects on the V8 heap, in bytes, calibrated on Node 24 x64 by
 * experiments/lua-engines.ts (allocate 100k of each, compare heapUsed + arrayBuffers after GC).
 * A table slot is a Map entry, a linked-list entry object and two TValues.
 */
export const kSizes = Object.freeze({
  string: 80, // TString + Uint8Array header; the bytes are added
  table: 260, // Table + two Maps
  slot: 150,
  closure: 80,
  upvalue: 40,
  proto: 400, // + 16 per instruction and 40 per constant
  instruction: 16,
  thread: 1_200, // lua_State + CallInfo chain + stack array; + 40 per stack slot
  stackSlot: 40,
  userdata: 120,
});

type AnyObject = Record<string, unknown>;
interface TValueLike { type: number, value: unknown }

interface Classes {
  readonly TString: new (...args: never[]) => unknown;
  readonly Table: new (...args: never[]) => unknown;
  readonly LClosure: new (...args: never[]) => unknown;
  readonly CClosure: new (...args: never[]) => unknown;
  readonly Proto: new (...args: never[]) => unknown;
  readonly lua_State: new (...args: never[]) => unknown;
  readonly Udata: new (...args: never[]) => unknown;
}

let classes: Classes | undefined;
function fengariClasses (): Classes {
  if (classes !== undefined) return classes;
  const f = fengari();
  classes = {
    TString: f.lstring.TString as Classes['TString'],
    Table: f.ltable.Table as Classes['Table'],
    LClosure: f.lobject.LClosure as Classes['LClosure'],
    CClosure: f.lobject.CClosure as Classes['CClosure'],
    Proto: f.lfunc.Proto as Classes['Proto'],
    lua_State: f.lstate.lua_State as Classes['lua_State'],
    Udata: f.lobject.Udata as Classes['Udata'],
  };
  return classes;
}

/**
 * Sums the estimated sizes of every Lua object reachable from `roots`, each once, skipping the
 * objects in `skip` (the state's libraries and prelude, which no guest can change) without
 * descending into them. Iterative, so a million nested tables do not overflow the JS stack.
 * Cost: proportional to the number of live objects, which the memory budget bounds.
 * @param collect when given, every object visited is added to it (how `skip` is built).
 */
export function walkLuaHeap (roots: readonly unknown[], skip: WeakSet<object>, collect?: WeakSet<object>): number {
  const { TString, Table, LClosure, CClosure, Proto, lua_State, Udata } = fengariClasses();
  const seen = new Set<unknown>();
  const pending: unknown[] = [];
  const push = (object: unknown): void => {
    if (object === null || typeof object !== 'object' || seen.has(object) || skip.has(object)) return;
    seen.add(object);
    pending.push(object);
  };
  const pushValue = (tv: TValueLike | undefined): void => {
    if (tv === undefined || tv === null) return;
    const base = tv.type & 15;
    if (base >= 4 && base <= 8) push(tv.value); // string, table, function, userdata, thread; light C functions are JS functions, skipped by push
  };
  for (const root of roots) push(root);

  let bytes = 0;
  for (let object = pending.pop(); object !== undefined; object = pending.pop()) {
    collect?.add(object as object);
    const o = object as AnyObject;
    if (object instanceof TString) {
      bytes += kSizes.string + (o.realstring as Uint8Array).length;
    } else if (object instanceof Table) {
      bytes += kSizes.table + (o.strong as Map<unknown, unknown>).size * kSizes.slot;
      for (let entry = o.f as { key: TValueLike, value: TValueLike, n: unknown } | undefined; entry !== undefined; entry = entry.n as typeof entry) {
        pushValue(entry.key);
        pushValue(entry.value);
      }
      push(o.metatable);
    } else if (object instanceof LClosure) {
      const upvals = o.upvals as TValueLike[];
      bytes += kSizes.closure + upvals.length * kSizes.upvalue;
      for (const tv of upvals) pushValue(tv);
      push(o.p);
    } else if (object instanceof Proto) {
      const k = o.k as TValueLike[];
      bytes += kSizes.proto + (o.code as unknown[]).length * kSizes.instruction + k.length * kSizes.upvalue;
      for (const tv of k) pushValue(tv);
      for (const child of o.p as unknown[]) push(child);
    } else if (object instanceof CClosure) {
      const upvalue = o.upvalue as TValueLike[];
      bytes += kSizes.closure + upvalue.length * kSizes.upvalue;
      for (const tv of upvalue) pushValue(tv);
    } else if (object instanceof lua_State) {
      const stack = (o.stack as TValueLike[] | null) ?? [];
      bytes += kSizes.thread + stack.length * kSizes.stackSlot;
      const top = o.top as number;
      for (let i = 0; i < top && i < stack.length; i++) pushValue(stack[i]);
    } else if (object instanceof Udata) {
      bytes += kSizes.userdata;
      push(o.metatable);
      pushValue(o.uservalue as TValueLike);
    }
  }
  return bytes;
}
