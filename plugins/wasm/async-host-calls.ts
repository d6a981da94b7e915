import type { InvocationContext } from '../../engine/plugin.ts';
import type { FiberHost } from './host-imports.ts';
import { kHostCallFuel } from './host-interface.ts';

/** How the async host calls reach guest memory and the invocation (host-imports.ts owns both; the invocation changes when an instance is reused). */
export interface GuestAccess {
  /** A view of guest memory, checked against its size (traps outside it). */
  bytes (pointer: number, length: number): Uint8Array;
  context (): InvocationContext;
  fiber (): FiberHost;
}

/**
 * The negative results of springbok.h's SB_ERR_* constants, by engine error code: a refused call's
 * code, or a callee's own failure. Any other code is SB_ERR_OTHER.
 */
const kResultByCode: Readonly<Record<string, number>> = {
  ERR_NETWORK_BUDGET: -1,
  ERR_NETWORK: -2,
  ERR_INVOKE_DENIED: -3,
  ERR_INVOKE_DEPTH: -4,
  ERR_INVOKE_BUDGET: -5,
  ERR_KV_BUDGET: -6,
  ERR_KV_DENIED: -7,
  ERR_FUNCTION: -9,
  ERR_CPU_BUDGET: -10,
  ERR_MEMORY_BUDGET: -11,
  ERR_WALL_TIMEOUT: -12,
  ERR_TRAP: -13,
  ERR_OUTPUT_TOO_LARGE: -14,
  ERR_UNKNOWN_FUNCTION: -15,
  ERR_QUEUE_FULL: -16,
};
/** SB_ERR_NOT_FOUND: sb_kv_get of a key that is not there. */
const kNotFound = -8;
const kOther = -17;
/** Longest name, key, prefix or namespace read from the guest, in bytes: past the engine's own limits, so they refuse it with their message. */
const kMaxTextBytes = 4096;
/** Largest value or input read from the guest, in bytes (the engine's own limits are lower for kv). */
const kMaxDataBytes = 16 * 1024 * 1024;
const kUtf8 = new TextDecoder();

/** The negative result for an error a call rejected with. */
export function resultOfError (error: unknown): number {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? kResultByCode[code] ?? kOther : kOther;
}

/**
 * The one path of every host call that waits (fetch, invoke, kv): charges the call, starts the
 * engine's work, parks the guest's stack until it settles (no CPU used meanwhile), then `write`s
 * the answer into guest memory (charged by its bytes) and returns its result; a rejection returns
 * its SB_ERR_* code. The answer is written while the stack is parked, so buffers are checked then.
 */
export function waitForHost<T> (access: GuestAccess, start: () => Promise<T>, write: (value: T) => number): Promise<number> {
  const fiber = access.fiber();
  fiber.charge(kHostCallFuel);
  let answer: Promise<number>;
  try {
    answer = start().then(write, resultOfError);
  } catch (error) {
    answer = Promise.resolve(resultOfError(error));
  }
  return fiber.suspendForHost(answer);
}

/** ctx.invoke and kv for C and LLVM functions (springbok.h's sb_invoke and sb_kv_*): each a WebAssembly.Suspending import. */
export function compositionImports (access: GuestAccess): Record<string, WebAssembly.Suspending> {
  const read = (pointer: number, length: number, max: number): Uint8Array => {
    const kept = Math.min(length, max);
    access.fiber().charge(kept);
    return access.bytes(pointer, kept);
  };
  const text = (pointer: number, length: number): string => kUtf8.decode(read(pointer, length, kMaxTextBytes));
  /** A namespace argument: NULL or empty is the function's own. */
  const namespace = (pointer: number, length: number): string | undefined => pointer === 0 || length === 0 ? undefined : text(pointer, length);
  /** Copies `data` into the guest's buffer, cut to its capacity; returns the full length, so a cut shows. */
  const fill = (pointer: number, capacity: number, data: Uint8Array): number => {
    access.fiber().charge(Math.min(capacity, data.byteLength));
    if (capacity > 0) access.bytes(pointer, Math.min(capacity, data.byteLength)).set(data.subarray(0, capacity));
    return Math.min(data.byteLength, 0x7fffffff);
  };
  return {
    invoke: new WebAssembly.Suspending((name: number, nameLength: number, input: number, inputLength: number, out: number, outCapacity: number) => {
      const callee = text(name, nameLength);
      const data = read(input, inputLength, kMaxDataBytes).slice();
      access.bytes(out, outCapacity);
      return waitForHost(access, () => access.context().invoke(callee, data), (output) => fill(out, outCapacity, output));
    }),
    kv_get: new WebAssembly.Suspending((ns: number, nsLength: number, key: number, keyLength: number, out: number, outCapacity: number) => {
      const operation = { op: 'get', namespace: namespace(ns, nsLength), key: text(key, keyLength) } as const;
      access.bytes(out, outCapacity);
      return waitForHost(access, () => access.context().kv(operation), (reply) => reply.value == null ? kNotFound : fill(out, outCapacity, reply.value));
    }),
    kv_put: new WebAssembly.Suspending((ns: number, nsLength: number, key: number, keyLength: number, value: number, valueLength: number) => {
      const operation = { op: 'put', namespace: namespace(ns, nsLength), key: text(key, keyLength), value: read(value, valueLength, kMaxDataBytes).slice() } as const;
      return waitForHost(access, () => access.context().kv(operation), () => 0);
    }),
    kv_delete: new WebAssembly.Suspending((ns: number, nsLength: number, key: number, keyLength: number) => {
      const operation = { op: 'delete', namespace: namespace(ns, nsLength), key: text(key, keyLength) } as const;
      return waitForHost(access, () => access.context().kv(operation), (reply) => reply.existed === true ? 1 : 0);
    }),
    kv_list: new WebAssembly.Suspending((ns: number, nsLength: number, prefix: number, prefixLength: number, out: number, outCapacity: number) => {
      const operation = { op: 'list', namespace: namespace(ns, nsLength), prefix: text(prefix, prefixLength) } as const;
      access.bytes(out, outCapacity);
      // Each key NUL-terminated, in byte order.
      return waitForHost(access, () => access.context().kv(operation), (reply) => fill(out, outCapacity, Buffer.from((reply.keys ?? []).map((key) => `${key}\0`).join(''))));
    }),
  };
}
