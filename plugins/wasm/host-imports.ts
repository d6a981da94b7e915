import { getRandomValues } from 'node:crypto';
import type { ErrorRecord } from '../../engine/errors.ts';
import type { FetchResponse, InvocationContext } from '../../engine/plugin.ts';
import { kHostCallFuel, kSpringbokModule, kWasiModule } from './host-interface.ts';
import { compositionImports, waitForHost, type GuestAccess } from './async-host-calls.ts';

/** What a fiber offers its imports (WasmFiber implements it). */
export interface FiberHost {
  /** Starts every host call: traps when the invocation has ended; charges `units` of fuel. */
  charge (units: number): void;
  fuel (): number;
  suspend (): Promise<number>;
  suspendForHost (answer: Promise<number>): Promise<number>;
  memoryRefused (bytes: number): void;
  /** Copies `bytes` into the output; false (nothing copied) past the output limit. */
  output (bytes: Uint8Array): boolean;
  done (status: number): void;
}

/** Thrown through the guest's stack by an import to end the invocation with a record. */
export interface GuestExit { readonly springbokExit: ErrorRecord }

/** Throws a GuestExit: the guest's stack unwinds (wasm cannot catch it) and the invocation ends with the record. */
export function guestExit (code: ErrorRecord['code'], message: string): never {
  const error = new Error(message) as Error & GuestExit;
  (error as { springbokExit: ErrorRecord }).springbokExit = { code, message };
  throw error;
}
const exit = guestExit;

/** Most iovecs one fd_write takes (POSIX IOV_MAX); more is EINVAL. */
const kMaxIovecs = 1024;
/** Most bytes one fd_write consumes; it reports a partial write, which libc's stdio continues. */
const kMaxWriteBytes = 64 * 1024;
/** Most bytes one random_get fills; more is EINVAL. */
const kMaxRandomBytes = 64 * 1024;
const kMaxLogLineBytes = 64 * 1024;
const kMaxFetchFieldBytes = 1024 * 1024;
const WASI_EBADF = 8;
const WASI_EINVAL = 28;
const kUtf8 = new TextDecoder();

/** An instance's imports, and how they are pointed at the next invocation when the instance is reused. */
export interface HostImports {
  readonly imports: WebAssembly.Imports;
  /** From now on the host functions serve this invocation (its input, context and fiber); per-invocation state starts empty. */
  rebind (input: Uint8Array, context: InvocationContext, fiber: FiberHost): void;
}

/**
 * The import object of one instance: springbok's host functions and the small WASI subset that
 * wasi-libc needs. Each reads guest memory through fresh views (memory may have grown) and checks
 * every pointer and length against the memory's size before touching it.
 */
export function hostImports (memory: WebAssembly.Memory, input: Uint8Array, context: InvocationContext, maxOutputBytes: number, fiber: FiberHost): HostImports {
  const bytes = (pointer: number, length: number): Uint8Array => {
    const view = new Uint8Array(memory.buffer);
    if (pointer < 0 || length < 0 || pointer + length > view.byteLength) exit('ERR_TRAP', `host call given memory [${pointer}, ${pointer + length}) outside the ${view.byteLength}-byte memory`);
    return view.subarray(pointer, pointer + length);
  };
  const u32 = (pointer: number): number => new DataView(memory.buffer).getUint32(bytes(pointer, 4).byteOffset, true);
  const setU32 = (pointer: number, value: number): void => new DataView(memory.buffer).setUint32(bytes(pointer, 4).byteOffset, value, true);
  let stdoutLine = '';
  /** Streaming, so a character split over two partial writes decodes whole. */
  let stdoutDecoder: InstanceType<typeof TextDecoder> | undefined;
  const logText = (text: string): void => {
    const lines = (stdoutLine + text).split('\n');
    stdoutLine = lines.pop() ?? '';
    for (const line of lines) context.log(line);
    if (stdoutLine.length > kMaxLogLineBytes) { context.log(stdoutLine); stdoutLine = ''; }
  };

  const access: GuestAccess = { bytes, context: () => context, fiber: () => fiber };
  const springbok = {
    read_input: (pointer: number, length: number): void => {
      fiber.charge(kHostCallFuel + Math.min(length, input.byteLength));
      bytes(pointer, length).set(input.subarray(0, length));
    },
    output: (pointer: number, length: number): void => {
      fiber.charge(kHostCallFuel + length);
      if (!fiber.output(bytes(pointer, length))) exit('ERR_OUTPUT_TOO_LARGE', `output passed the limit of ${maxOutputBytes} bytes`);
    },
    log: (pointer: number, length: number): void => {
      const kept = Math.min(length, kMaxLogLineBytes);
      fiber.charge(kHostCallFuel + kept);
      context.log(kUtf8.decode(bytes(pointer, kept)));
    },
    done: (status: number): void => {
      fiber.charge(0); // before the log below: a second done traps without touching the log
      if (stdoutLine !== '') context.log(stdoutLine);
      fiber.done(status);
    },
    memory_refused: (bytes: number): void => fiber.memoryRefused(bytes),
    fuel: (): number => fiber.fuel(),
    suspend: new WebAssembly.Suspending(() => fiber.suspend()),
    fetch: new WebAssembly.Suspending((requestPointer: number, responsePointer: number) => {
      // sb_fetch_request: 8 u32 fields; sb_fetch_response: status, then (ptr, cap, len) for headers and body.
      const field = (index: number): Uint8Array => {
        const length = Math.min(u32(requestPointer + index * 8 + 4), kMaxFetchFieldBytes);
        fiber.charge(length);
        return bytes(u32(requestPointer + index * 8), length);
      };
      const url = kUtf8.decode(field(0));
      const method = kUtf8.decode(field(1)) || 'GET';
      const headers = parseHeaderLines(kUtf8.decode(field(2)));
      const body = field(3).slice();
      bytes(responsePointer, 28);
      return waitForHost(access, () => context.fetch({ url, method, headers, body }), (response) => writeResponse(response, responsePointer));
    }),
    ...compositionImports(access),
  };

  const writeResponse = (response: FetchResponse, pointer: number): number => {
    // Written while the stack is parked; the charge lowers the counter it reloads when it resumes.
    fiber.charge(kHostCallFuel + response.body.byteLength);
    setU32(pointer, response.status);
    const headerBytes = Buffer.from(Object.entries(response.headers).map(([name, value]) => `${name}: ${value}\r\n`).join(''));
    const fill = (at: number, data: Uint8Array): void => {
      const target = u32(at);
      const capacity = u32(at + 4);
      bytes(target, Math.min(capacity, data.byteLength)).set(data.subarray(0, capacity));
      setU32(at + 8, data.byteLength);
    };
    fill(pointer + 4, headerBytes);
    fill(pointer + 16, response.body);
    return 0;
  };

  const wasi = {
    fd_write: (fd: number, iovs: number, count: number, written: number): number => {
      fiber.charge(kHostCallFuel);
      if (fd !== 1 && fd !== 2) return WASI_EBADF;
      if (count > kMaxIovecs) return WASI_EINVAL;
      fiber.charge(count * 8);
      // Bounded work per call: at most kMaxWriteBytes are taken, the rest is a partial write.
      let total = 0;
      for (let i = 0; i < count && total < kMaxWriteBytes; i++) {
        const chunk = bytes(u32(iovs + i * 8), Math.min(u32(iovs + i * 8 + 4), kMaxWriteBytes - total));
        stdoutDecoder ??= new TextDecoder();
        logText(stdoutDecoder.decode(chunk, { stream: true }));
        total += chunk.byteLength;
      }
      fiber.charge(total);
      setU32(written, total);
      return 0;
    },
    fd_close: (): number => { fiber.charge(kHostCallFuel); return WASI_EBADF; },
    fd_seek: (): number => { fiber.charge(kHostCallFuel); return WASI_EBADF; },
    fd_fdstat_get: (): number => { fiber.charge(kHostCallFuel); return WASI_EBADF; },
    proc_exit: (code: number): never => { fiber.charge(kHostCallFuel); return exit('ERR_FUNCTION', `exit(${code})`); },
    environ_sizes_get: (count: number, size: number): number => { fiber.charge(kHostCallFuel); setU32(count, 0); setU32(size, 0); return 0; },
    environ_get: (): number => { fiber.charge(kHostCallFuel); return 0; },
    args_sizes_get: (count: number, size: number): number => { fiber.charge(kHostCallFuel); setU32(count, 0); setU32(size, 0); return 0; },
    args_get: (): number => { fiber.charge(kHostCallFuel); return 0; },
    // Millisecond resolution only: no clock fine enough to time other tenants' work.
    clock_time_get: (_id: number, _precision: bigint, out: number): number => {
      fiber.charge(kHostCallFuel);
      new DataView(memory.buffer).setBigUint64(bytes(out, 8).byteOffset, BigInt(Date.now()) * 1_000_000n, true);
      return 0;
    },
    random_get: (pointer: number, length: number): number => {
      fiber.charge(kHostCallFuel);
      if (length > kMaxRandomBytes) return WASI_EINVAL;
      fiber.charge(length);
      getRandomValues(bytes(pointer, length));
      return 0;
    },
  };
  const rebind = (nextInput: Uint8Array, nextContext: InvocationContext, nextFiber: FiberHost): void => {
    input = nextInput;
    context = nextContext;
    fiber = nextFiber;
    stdoutLine = '';
    stdoutDecoder = undefined;
  };
  return { imports: { env: { memory }, [kSpringbokModule]: springbok, [kWasiModule]: wasi }, rebind };
}

function parseHeaderLines (text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}
