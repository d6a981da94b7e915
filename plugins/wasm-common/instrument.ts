import { EngineError } from '../../engine/errors.ts';
import { ByteReader, encodeU32, readSections, WasmFormatError, type Section } from './wasm-bytes.ts';
import { isAllowedImport, kHostOnlyExports, kRuntimeImportCallers, kSpringbokModule, runtimeCallersOf } from '../wasm/host-interface.ts';

/**
 * Fuel metering. Every function entry and every loop header gets a check that decrements a fuel
 * counter and, when it goes negative, calls a refuel function appended to the module, which calls
 * the host's `springbok.fuel` (reads the clock, hands out more fuel, or 0 when the slice is over)
 * and then, only at the end of a slice, `springbok.suspend`, the JSPI-suspending import that parks
 * the wasm stack until the scheduler resumes it. No loop can spin and no recursion can go deep
 * without passing a check, so a slice ends within one fuel allowance of its deadline.
 *
 * The counter lives in a local of each function (a register in the hot loop), and in a new mutable
 * global between functions: the local is loaded from the global at entry and after every call, and
 * stored back before every call, refuel and return. A loop-carried counter in a global costs a
 * store-to-load round trip through memory per iteration (measured 1.6–2.5× slower); a local costs
 * an add and a compare.
 *
 * The module comes from our own link step, which links runtime.c and so already imports both fuel
 * functions: the pass adds no import, and appends its global, type and function after the
 * module's own, so no index moves. It refuses instructions it cannot meter or does not know,
 * imports outside the host interface, a start function and any memory but one imported `env.memory`.
 *
 * Host calls: the counter is also stored before and reloaded after every call to an import, and the
 * global is exported (`__sb_fuel`), so a host function charges the work it did by lowering it
 * (plugins/wasm/fiber.ts `charge`): a call that handled many bytes brings the next clock check
 * forward.
 *
 * Instance reuse (plugins/wasm/instance-snapshot.ts): a C/LLVM instance is restored to its state
 * right after instantiation and run again, so everything it can change must be restorable from the
 * host. Its memory is; its mutable globals (the C stack pointer) are exported as `__sb_global_<n>`;
 * its table is not, so an instruction that writes a table (table.set; the bulk table instructions
 * are refused with bulk memory) is refused. clang emits none without reference types.
 *
 * Internal imports: springbok's own host functions (`done`, `read_input`, `memory_refused`, `fuel`,
 * `suspend`) may be called only from the runtime functions plugins/wasm/host-interface.ts names,
 * found by their exports, and the runtime's host-only entry points may not be called or referenced
 * by anything in the module. Guest code can declare those imports or call the runtime's symbols (it
 * is linked with them), so this is checked here, after linking, on the code itself.
 */

export interface InstrumentedModule {
  readonly bytes: Uint8Array;
  /** Initial pages of `env.memory` the module asks for (64 KiB each). */
  readonly minPages: number;
  readonly functions: number;
  readonly loops: number;
}

const kOpcodeNames: Record<number, string> = {
  0x06: 'try (exception handling)', 0x07: 'catch (exception handling)', 0x08: 'throw (exception handling)', 0x09: 'rethrow (exception handling)',
  0x12: 'return_call (tail calls)', 0x13: 'return_call_indirect (tail calls)', 0x18: 'delegate (exception handling)', 0x19: 'catch_all (exception handling)',
  0xfd: 'SIMD (0xFD prefix)', 0xfe: 'atomics (0xFE prefix)',
};

/**
 * @throws {EngineError} ERR_COMPILE naming the reason a module cannot run under springbok.
 */
export function instrument (bytes: Uint8Array): InstrumentedModule {
  try {
    return rewrite(bytes, 'suspend');
  } catch (error) {
    if (error instanceof WasmFormatError) throw new EngineError('ERR_COMPILE', `the linked module is malformed: ${error.message}`);
    throw error;
  }
}

/**
 * The same metering for a trusted runtime module that springbok runs but did not build (wasmoon's
 * Lua 5.4): its imports, memory and start function are left alone, bulk memory is allowed, and
 * when the counter runs out the module traps (`unreachable`) instead of suspending. The counter is
 * exported as the global `__sb_fuel`; the host sets it before each entry to what the CPU budget
 * still allows, so a C routine that never returns to the host (a runaway Lua pattern match) is
 * stopped. A trapped instance is in an unknown state and must be discarded.
 * @throws {EngineError} ERR_COMPILE for a malformed module or an instruction the pass does not know.
 */
export function meterRuntime (bytes: Uint8Array): Uint8Array {
  try {
    return rewrite(bytes, 'trap').bytes;
  } catch (error) {
    if (error instanceof WasmFormatError) throw new EngineError('ERR_COMPILE', `the runtime module is malformed: ${error.message}`);
    throw error;
  }
}

export const kRuntimeFuelExport = '__sb_fuel';

/** Each mutable global the module defines is exported as this prefix and its index (C/LLVM modules only). */
export const kMutableGlobalExportPrefix = '__sb_global_';

function refuse (message: string): never {
  throw new EngineError('ERR_COMPILE', message);
}

function rewrite (bytes: Uint8Array, mode: 'suspend' | 'trap'): InstrumentedModule {
  const trap = mode === 'trap';
  const sections = readSections(bytes);
  let importedFunctions = 0;
  let importedGlobals = 0;
  let fuelImport = -1;
  let suspendImport = -1;
  let minPages = -1;
  let definedGlobals = 0;
  let mutableGlobals: number[] = [];
  let types = 0;
  let definedFunctions = 0;
  let paramCounts: number[] = [];
  let functionTypes: number[] = [];
  /** Internal imports by function index, with the exports of the runtime functions allowed to call them. */
  const internalImports = new Map<number, { name: string, callers: readonly string[] }>();
  const exportedFunctions = new Map<string, number>();
  /** Functions whose address the module takes outside code: table elements and global initialisers. */
  let referencedFunctions = new Set<number>();

  for (const section of sections) {
    if (section.id === 8 && !trap) refuse('the module has a start function, which would run outside any slice');
    if (section.id === 5 && !trap) refuse('the module defines its own memory; springbok functions import env.memory (link with --import-memory)');
    if (section.id === 2) {
      const reader = new ByteReader(bytes, section.start, section.end);
      for (let count = reader.u32(); count > 0; count--) {
        const module = reader.name();
        const name = reader.name();
        const kind = reader.u8();
        if (trap) {
          skipImportDescriptor(reader, kind);
          if (kind === 0) importedFunctions++;
          if (kind === 3) importedGlobals++;
          continue;
        }
        if (kind === 0) {
          reader.u32();
          if (!isAllowedImport(module, name)) refuse(`the module imports ${module}.${name}, which springbok does not provide (see doc/c.md for the host functions)`);
          const callers = runtimeCallersOf(module, name);
          if (callers !== undefined) internalImports.set(importedFunctions, { name: `${module}.${name}`, callers });
          if (module === kSpringbokModule && name === 'fuel') fuelImport = importedFunctions;
          if (module === kSpringbokModule && name === 'suspend') suspendImport = importedFunctions;
          importedFunctions++;
        } else if (kind === 2) {
          if (module !== 'env' || name !== 'memory') refuse(`the module imports memory ${module}.${name}; only env.memory is provided`);
          const flags = reader.u8();
          if (flags !== 0 && flags !== 1) refuse('the module asks for a shared or 64-bit memory, which springbok does not provide');
          minPages = reader.u32();
          if (flags === 1) reader.u32();
        } else {
          refuse(`the module imports ${kind === 1 ? 'a table' : kind === 3 ? 'a global' : 'something'} (${module}.${name}); only functions and env.memory are provided`);
        }
      }
    }
    if (section.id === 6) {
      definedGlobals = new ByteReader(bytes, section.start, section.end).u32();
      if (!trap) {
        const globals = readGlobals(bytes, section);
        referencedFunctions = new Set([...referencedFunctions, ...globals.functions]);
        mutableGlobals = globals.mutable;
      }
    }
    if (section.id === 7 && !trap) for (const [name, index] of readFunctionExports(bytes, section)) exportedFunctions.set(name, index);
    if (section.id === 9 && !trap) referencedFunctions = new Set([...referencedFunctions, ...readElementFunctions(bytes, section)]);
    if (section.id === 1) {
      paramCounts = readParamCounts(bytes, section);
      types = paramCounts.length;
    }
    if (section.id === 3) {
      const reader = new ByteReader(bytes, section.start, section.end);
      functionTypes = Array.from({ length: reader.u32() }, () => reader.u32());
      definedFunctions = functionTypes.length;
    }
  }
  if (types === 0 || definedFunctions === 0) refuse('the module has no functions');
  if (!trap && minPages < 0) refuse('the module does not import env.memory (link with --import-memory)');
  if (!trap && (fuelImport < 0 || suspendImport < 0)) refuse('the module lacks the springbok runtime (springbok.fuel and springbok.suspend imports); build it with springbok deploy');
  const checkCall = trap ? undefined : callChecker(internalImports, runtimeFunctions(bytes, sections, exportedFunctions, importedFunctions), referencedFunctions);
  // The appended global comes after every imported and defined one.
  const fuelGlobal = importedGlobals + definedGlobals;
  // The slow path lives in a function of its own, appended after the module's functions (so no
  // index moves): the check inlined at every loop stays small and keeps the hot code's registers.
  const refuelType = types;
  const refuelFunction = importedFunctions + definedFunctions;
  const refuelBody = refuel(fuelGlobal, fuelImport, suspendImport);

  const out: number[][] = [Array.from(bytes.subarray(0, 8))];
  let globalsWritten = false;
  let functions = 0;
  let loops = 0;
  const emitGlobals = (existing: Section | undefined): void => {
    // The fuel global: (global (mut i32) (i32.const 0)), appended after the module's own. A runtime
    // module starts full (its start-up code runs before the host can set it): 2^31 - 1.
    const entries = existing === undefined ? [] : Array.from(bytes.subarray(existing.start + lebLength(bytes, existing.start), existing.end));
    const initial = trap ? [0xff, 0xff, 0xff, 0xff, 0x07] : [0x00];
    const content = [...encodeU32(definedGlobals + 1), ...entries, 0x7f, 0x01, 0x41, ...initial, 0x0b];
    out.push([6, ...encodeU32(content.length), ...content]);
    globalsWritten = true;
  };
  for (const section of sections) {
    if (!globalsWritten && (section.id === 6 || [7, 9, 10, 11, 12].includes(section.id))) {
      emitGlobals(section.id === 6 ? section : undefined);
      if (section.id === 6) continue;
    }
    if (section.id === 7) {
      // Exports: append the counter, for the host to set (trap mode) or lower (host calls' charges),
      // and (suspend mode) the module's mutable globals, for the host to restore.
      const reader = new ByteReader(bytes, section.start, section.end);
      const count = reader.u32();
      const added: [string, number][] = [[kRuntimeFuelExport, fuelGlobal], ...mutableGlobals.map((index): [string, number] => [`${kMutableGlobalExportPrefix}${index}`, index])];
      const entries = added.flatMap(([name, index]) => {
        const encoded = new TextEncoder().encode(name);
        return [...encodeU32(encoded.length), ...encoded, 0x03, ...encodeU32(index)];
      });
      const content = [...encodeU32(count + added.length), ...bytes.subarray(reader.pos, section.end), ...entries];
      out.push([7, ...encodeU32(content.length), ...content]);
      continue;
    }
    if (!trap && (section.id === 1 || section.id === 3)) {
      // Types: append () -> (). Functions: append the refuel function's type.
      const reader = new ByteReader(bytes, section.start, section.end);
      const count = reader.u32();
      const added = section.id === 1 ? [0x60, 0x00, 0x00] : encodeU32(refuelType);
      const content = [...encodeU32(count + 1), ...bytes.subarray(reader.pos, section.end), ...added];
      out.push([section.id, ...encodeU32(content.length), ...content]);
      continue;
    }
    if (section.id === 10) {
      const reader = new ByteReader(bytes, section.start, section.end);
      const bodies: number[][] = [];
      for (let index = 0, count = reader.u32(); index < count; index++) {
        const size = reader.u32();
        const params = paramCounts[functionTypes[index] ?? -1];
        if (params === undefined) throw new WasmFormatError(`function ${index} has no valid type`);
        const self = importedFunctions + index;
        const body = instrumentBody(bytes, reader.pos, reader.pos + size, { fuelGlobal, refuelFunction: trap ? -1 : refuelFunction, importedFunctions, params, checkCall: checkCall === undefined ? undefined : (target, how) => checkCall(self, target, how) });
        reader.skip(size);
        functions++;
        loops += body.loops;
        bodies.push([...encodeU32(body.bytes.length), ...body.bytes]);
      }
      if (!trap) bodies.push([...encodeU32(refuelBody.length), ...refuelBody]);
      const content = [...encodeU32(bodies.length), ...bodies.flat()];
      out.push([10, ...encodeU32(content.length), ...content]);
      continue;
    }
    out.push([section.id, ...encodeU32(section.end - section.start), ...bytes.subarray(section.start, section.end)]);
  }
  const result = new Uint8Array(out.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of out) { result.set(part, offset); offset += part.length; }
  if (!sections.some((section) => section.id === 7)) refuse(trap ? 'the runtime module has no export section to carry its fuel counter' : 'the module has no exports (it lacks the springbok runtime); build it with springbok deploy');
  return { bytes: result, minPages, functions, loops };
}

function skipImportDescriptor (reader: ByteReader, kind: number): void {
  const limits = (): void => {
    const flags = reader.u8();
    reader.u32();
    if ((flags & 1) !== 0) reader.u32();
  };
  if (kind === 0) {
    reader.u32();
  } else if (kind === 1) {
    reader.u8();
    limits();
  } else if (kind === 2) {
    limits();
  } else if (kind === 3) {
    reader.u8();
    reader.u8();
  } else {
    throw new WasmFormatError(`unknown import kind ${kind}`);
  }
}

function lebLength (bytes: Uint8Array, at: number): number {
  let length = 1;
  while ((bytes[at + length - 1]! & 0x80) !== 0) length++;
  return length;
}

/** The refuel function's body: fuel = springbok.fuel(); if (fuel == 0) fuel = springbok.suspend(). */
function refuel (fuel: number, fuelFunction: number, suspendFunction: number): number[] {
  const g = encodeU32(fuel);
  return [
    0x00, // no locals
    0x10, ...encodeU32(fuelFunction), 0x24, ...g,
    0x23, ...g, 0x45, 0x04, 0x40,
    0x10, ...encodeU32(suspendFunction), 0x24, ...g,
    0x0b, 0x0b,
  ];
}

interface BodyContext {
  readonly fuelGlobal: number;
  /** The refuel function's index, or -1 to trap when the counter runs out (trusted runtime modules). */
  readonly refuelFunction: number;
  readonly importedFunctions: number;
  /** Parameters of the function: its locals are numbered after them. */
  readonly params: number;
  /** Called for every direct call and ref.func in the body; refuses a forbidden one (suspend mode only). */
  readonly checkCall?: ((target: number, how: 'call' | 'ref.func') => void) | undefined;
}

/**
 * Copies one function body with the fuel local added and the checks and synchronisations inserted
 * (see the module comment). Tracks block depth so that a branch to the function's own block, which
 * is a return, also stores the counter back.
 */
function instrumentBody (bytes: Uint8Array, start: number, end: number, context: BodyContext): { bytes: number[], loops: number } {
  const reader = new ByteReader(bytes, start, end);
  const groups = reader.u32();
  let locals = context.params;
  for (let group = 0; group < groups; group++) {
    locals += reader.u32();
    reader.u8();
  }
  if (locals >= 50_000) throw new WasmFormatError('too many locals');
  const fuel = encodeU32(locals);
  const global = encodeU32(context.fuelGlobal);
  const load = [0x23, ...global, 0x21, ...fuel]; // local = global
  const store = [0x20, ...fuel, 0x24, ...global]; // global = local
  // local -= 1; if (local < 0) { global = local; refuel(); local = global }
  // Trap mode stores the spent counter first, so the host can tell a fuel trap from any other.
  const slowPath = context.refuelFunction < 0 ? [...store, 0x00] : [...store, 0x10, ...encodeU32(context.refuelFunction), ...load];
  const check = [0x20, ...fuel, 0x41, 0x01, 0x6b, 0x22, ...fuel, 0x41, 0x00, 0x48, 0x04, 0x40, ...slowPath, 0x0b];

  // One more local group: (1 × i32) for the counter.
  const out: number[] = [...encodeU32(groups + 1), ...bytes.subarray(start + lebLength(bytes, start), reader.pos), 0x01, 0x7f, ...load, ...check];
  let copiedUpTo = reader.pos;
  let depth = 0;
  let loops = 0;
  const copyTo = (position: number): void => {
    for (let i = copiedUpTo; i < position; i++) out.push(bytes[i]!);
    copiedUpTo = position;
  };
  while (!reader.done) {
    const at = reader.pos;
    const opcode = reader.u8();
    const immediate = reader.pos;
    skipImmediates(reader, opcode, context.refuelFunction < 0);
    switch (opcode) {
      case 0x02: case 0x04:
        depth++;
        break;
      case 0x03:
        depth++;
        copyTo(reader.pos);
        out.push(...check);
        loops++;
        break;
      case 0x0b:
        if (depth === 0) { copyTo(at); out.push(...store); } // the function's final end
        depth--;
        break;
      case 0x0f:
        copyTo(at);
        out.push(...store);
        break;
      case 0x0c: case 0x0d:
        if (new ByteReader(bytes, immediate, end).u32() === depth) { copyTo(at); out.push(...store); }
        break;
      case 0x0e: {
        const targets = new ByteReader(bytes, immediate, end);
        let returns = false;
        for (let count = targets.u32() + 1; count > 0; count--) returns ||= targets.u32() === depth;
        if (returns) { copyTo(at); out.push(...store); }
        break;
      }
      case 0xd2:
        context.checkCall?.(new ByteReader(bytes, immediate, end).u32(), 'ref.func');
        break;
      case 0x10: case 0x11: {
        // Calls into the module may use fuel and suspend; host imports may charge fuel (suspend
        // mode). A trusted runtime's imports (trap mode) neither read nor write the counter.
        if (opcode === 0x10) {
          const target = new ByteReader(bytes, immediate, end).u32();
          context.checkCall?.(target, 'call');
          if (target < context.importedFunctions && context.refuelFunction < 0) break;
        }
        copyTo(at);
        out.push(...store);
        copyTo(reader.pos);
        out.push(...load);
        break;
      }
    }
  }
  copyTo(end);
  if (depth !== -1) throw new WasmFormatError('unbalanced blocks in a function body');
  return { bytes: out, loops };
}

function readParamCounts (bytes: Uint8Array, section: Section): number[] {
  const reader = new ByteReader(bytes, section.start, section.end);
  const counts: number[] = [];
  for (let count = reader.u32(); count > 0; count--) {
    if (reader.u8() !== 0x60) throw new WasmFormatError('the type section holds a type that is not a function type');
    const params = reader.u32();
    reader.skip(params);
    reader.skip(reader.u32());
    counts.push(params);
  }
  return counts;
}

function skipBlockType (reader: ByteReader): void {
  const first = reader.bytes[reader.pos];
  if (first === 0x40 || (first !== undefined && first >= 0x6f && first <= 0x7f)) reader.u8();
  else reader.skipSigned(33);
}

/** Advances past the immediates of `opcode`; refuses what the pass does not meter or know (a trusted runtime may use bulk memory and write its table). */
function skipImmediates (reader: ByteReader, opcode: number, trustedRuntime = false): void {
  if (opcode >= 0x45 && opcode <= 0xc4) return; // numeric instructions, sign extension
  switch (opcode) {
    case 0x00: case 0x01: case 0x05: case 0x0b: case 0x0f: case 0x1a: case 0x1b: case 0xd1:
      return;
    case 0x02: case 0x03: case 0x04:
      skipBlockType(reader);
      return;
    case 0x26:
      // Instances are reused with their memory and globals restored, never their table (see the module comment).
      if (!trustedRuntime) refuse('the module writes a table (table.set), which springbok does not allow: its instances are reused and a table is not restored');
      reader.u32();
      return;
    case 0x0c: case 0x0d: case 0x10: case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25: case 0xd2:
      reader.u32();
      return;
    case 0x0e:
      for (let targets = reader.u32(); targets > 0; targets--) reader.u32();
      reader.u32();
      return;
    case 0x11:
      reader.u32();
      reader.u32();
      return;
    case 0x1c:
      for (let types = reader.u32(); types > 0; types--) reader.u8();
      return;
    case 0x3f: case 0x40: case 0xd0:
      reader.u8();
      return;
    case 0x41:
      reader.skipSigned(32);
      return;
    case 0x42:
      reader.skipSigned(64);
      return;
    case 0x43:
      reader.skip(4);
      return;
    case 0x44:
      reader.skip(8);
      return;
    case 0xfc: {
      const sub = reader.u32();
      if (sub <= 7) return; // saturating float-to-int
      if (trustedRuntime && sub <= 17) {
        // Bounded by the memory or table size: a trusted runtime may use them.
        const immediates: Record<number, number> = { 8: 2, 9: 1, 10: 2, 11: 1, 12: 2, 13: 1, 14: 2, 15: 1, 16: 1, 17: 1 };
        for (let i = 0; i < immediates[sub]!; i++) reader.u32();
        return;
      }
      refuse(`the module uses bulk memory or table instruction 0xFC ${sub}, which springbok does not meter (compile without -mbulk-memory)`);
    }
  }
  if (opcode >= 0x28 && opcode <= 0x3e) { // loads and stores: memarg
    reader.u32();
    reader.u32();
    return;
  }
  refuse(`the module uses ${kOpcodeNames[opcode] ?? `opcode 0x${opcode.toString(16)}`}, which springbok does not meter`);
}

/** A runtime function found by its export: the exported function and the one that does the work. */
interface RuntimeFunction {
  /** What the export names: wasm-ld's command-export wrapper, or the function itself. */
  readonly exported: number;
  /** The runtime's own function (the wrapper's callee). */
  readonly body: number;
}

/**
 * The runtime functions by export name. wasm-ld exports a command module's functions through a
 * wrapper it writes: `[call ctors] local.get 0..n-1, call F, [call dtors]`; the runtime's entry
 * points all take at least one parameter, so F is the call that follows the local.gets.
 */
function runtimeFunctions (bytes: Uint8Array, sections: readonly Section[], exports: ReadonlyMap<string, number>, importedFunctions: number): Map<string, RuntimeFunction> {
  const code = sections.find((section) => section.id === 10);
  const found = new Map<string, RuntimeFunction>();
  if (code === undefined) return found;
  const bodies: { start: number, end: number }[] = [];
  const reader = new ByteReader(bytes, code.start, code.end);
  for (let count = reader.u32(); count > 0; count--) {
    const size = reader.u32();
    bodies.push({ start: reader.pos, end: reader.pos + size });
    reader.skip(size);
  }
  const names = new Set([...Object.values(kRuntimeImportCallers).flat(), ...kHostOnlyExports]);
  for (const name of names) {
    const exported = exports.get(name);
    if (exported === undefined || exported < importedFunctions) continue;
    const body = bodies[exported - importedFunctions];
    const callee = body === undefined ? undefined : commandExportCallee(bytes, body.start, body.end);
    found.set(name, { exported, body: callee ?? exported });
  }
  return found;
}

/** The function a wasm-ld command-export wrapper forwards to, or undefined if the body is not such a wrapper. */
function commandExportCallee (bytes: Uint8Array, start: number, end: number): number | undefined {
  const reader = new ByteReader(bytes, start, end);
  if (reader.u32() !== 0) return undefined; // a wrapper has no locals
  const ops: { opcode: number, index: number }[] = [];
  while (!reader.done) {
    const opcode = reader.u8();
    if (opcode === 0x0b) break;
    if (opcode !== 0x10 && opcode !== 0x20) return undefined;
    ops.push({ opcode, index: reader.u32() });
  }
  if (!reader.done) return undefined;
  const firstGet = ops.findIndex((op) => op.opcode === 0x20);
  if (firstGet < 0 || firstGet > 1) return undefined;
  let at = firstGet;
  for (let param = 0; ops[at]?.opcode === 0x20; param++, at++) if (ops[at]!.index !== param) return undefined;
  const callee = ops[at];
  const rest = ops.length - at - 1;
  if (callee?.opcode !== 0x10 || rest > 1 || (rest === 1 && ops[at + 1]!.opcode !== 0x10)) return undefined;
  return callee.index;
}

/**
 * The deploy-time rule for internal imports and host-only entry points (see the module comment):
 * returns a check of one call or ref.func made by function `caller`.
 */
function callChecker (internalImports: ReadonlyMap<number, { name: string, callers: readonly string[] }>, runtime: ReadonlyMap<string, RuntimeFunction>, referenced: ReadonlySet<number>): (caller: number, target: number, how: 'call' | 'ref.func') => void {
  // Host-only entry points: the export itself may be called by nothing, its body only by its wrapper.
  const hostOnly = new Map<number, { name: string, wrapper: number }>();
  for (const name of kHostOnlyExports) {
    const found = runtime.get(name);
    if (found === undefined) continue;
    hostOnly.set(found.exported, { name, wrapper: -1 });
    if (found.body !== found.exported) hostOnly.set(found.body, { name, wrapper: found.exported });
  }
  for (const index of referenced) {
    const internal = internalImports.get(index);
    if (internal !== undefined) refuse(`the module takes the address of ${internal.name}, a host function internal to springbok (doc/c.md lists the ones a function may call)`);
    const entry = hostOnly.get(index);
    if (entry !== undefined) refuse(`the module takes the address of ${entry.name}, springbok's entry point, which only the engine may call`);
  }
  return (caller, target, how) => {
    const internal = internalImports.get(target);
    if (internal !== undefined && (how === 'ref.func' || !internal.callers.some((name) => runtime.get(name)?.body === caller))) {
      refuse(`the module calls ${internal.name}, a host function internal to springbok that only its runtime may call (doc/c.md lists the ones a function may call)`);
    }
    const entry = hostOnly.get(target);
    if (entry !== undefined && (how === 'ref.func' || entry.wrapper !== caller)) refuse(`the module ${how === 'call' ? 'calls' : 'takes the address of'} ${entry.name}, springbok's entry point, which only the engine may call`);
  };
}

/** Exported functions by name. */
function readFunctionExports (bytes: Uint8Array, section: Section): Map<string, number> {
  const reader = new ByteReader(bytes, section.start, section.end);
  const exports = new Map<string, number>();
  for (let count = reader.u32(); count > 0; count--) {
    const name = reader.name();
    const kind = reader.u8();
    const index = reader.u32();
    if (kind === 0) exports.set(name, index);
  }
  return exports;
}

/** Every function an element segment puts in a table (all eight segment encodings). */
function readElementFunctions (bytes: Uint8Array, section: Section): number[] {
  const reader = new ByteReader(bytes, section.start, section.end);
  const functions: number[] = [];
  for (let count = reader.u32(); count > 0; count--) {
    const flags = reader.u32();
    if (flags > 7) throw new WasmFormatError(`unknown element segment kind ${flags}`);
    if ((flags & 3) === 2) reader.u32(); // table index
    if ((flags & 1) === 0) readConstantExpression(reader, functions); // active: offset
    if ((flags & 3) !== 0) reader.u8(); // elemkind or reftype
    const usesExpressions = (flags & 4) !== 0;
    for (let items = reader.u32(); items > 0; items--) {
      if (usesExpressions) readConstantExpression(reader, functions);
      else functions.push(reader.u32());
    }
  }
  return functions;
}

/** The mutable globals a global section defines (by index; no global is imported in suspend mode) and the functions its initialisers name by ref.func. */
function readGlobals (bytes: Uint8Array, section: Section): { mutable: number[], functions: number[] } {
  const reader = new ByteReader(bytes, section.start, section.end);
  const mutable: number[] = [];
  const functions: number[] = [];
  for (let index = 0, count = reader.u32(); index < count; index++) {
    reader.u8(); // value type
    if (reader.u8() === 1) mutable.push(index);
    readConstantExpression(reader, functions);
  }
  return { mutable, functions };
}

/** Reads a constant expression up to its end, noting the functions it references. */
function readConstantExpression (reader: ByteReader, functions: number[]): void {
  for (;;) {
    const opcode = reader.u8();
    if (opcode === 0x0b) return;
    if (opcode === 0x41) reader.skipSigned(32);
    else if (opcode === 0x42) reader.skipSigned(64);
    else if (opcode === 0x43) reader.skip(4);
    else if (opcode === 0x44) reader.skip(8);
    else if (opcode === 0x23) reader.u32();
    else if (opcode === 0xd0) reader.u8();
    else if (opcode === 0xd2) functions.push(reader.u32());
    else if (opcode === 0x6a || opcode === 0x6b || opcode === 0x6c || opcode === 0x7c || opcode === 0x7d || opcode === 0x7e) continue; // extended constant arithmetic
    else throw new WasmFormatError(`unknown instruction 0x${opcode.toString(16)} in a constant expression`);
  }
}
