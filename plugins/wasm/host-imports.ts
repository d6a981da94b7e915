import { getRandomValues } from 'node:crypto';
import type { ErrorRecord } from '../../engine/errors.ts';
import type { FetchResponse, InvocationContext } from '../../engine/plugin.ts';
import { kSpringbokModule, kWasiModule } from './host-interface.ts';

/** What a fiber offers its imports (WasmFiber implements it). */
export interface FiberHost {
  fuel (): number;
  suspend (): Promise<number>;
  suspendForFetch (answer: Promise<number>): Promise<number>;
  memoryRefused (): void;
  output (bytes: Uint8Array): boolean;
  done (status: number): void;
}

/** Thrown through the guest's stack by an import to end the invocation with a record. */
export interface GuestExit { readonly springbokExit: ErrorRecord }

function exit (code: ErrorRecord['code'], message: string): never {
  const error = new Error(message) as Error & GuestExit;
  (error as { springbokExit: ErrorRecord }).springbokExit = { code, message };
  throw error;
}

const kMaxLogLineBytes = 64 * 1024;
const kMaxFetchFieldBytes = 1024 * 1024;
const WASI_EBADF = 8;
const WASI_EINVAL = 28;
const kUtf8 = new TextDecoder();

/** SB_* codes of springbok.h. */
const SB_ERR_NETWORK_BUDGET = -1;
const SB_ERR_NETWORK = -2;

/**
 * The import object of one instance: springbok's host functions and the small WASI subset that
 * wasi-libc needs. Each reads guest memory through fresh views (memory may have grown) and checks
 * every pointer and length against the memory's size before touching it.
 */
export function hostImports (memory: WebAssembly.Memory, input: Uint8Array, context: InvocationContext, maxOutputBytes: number, fiber: FiberHost): WebAssembly.Imports {
  const bytes = (pointer: number, length: number): Uint8Array => {
    const view = new Uint8Array(memory.buffer);
    if (pointer < 0 || length < 0 || pointer + length > view.byteLength) exit('ERR_TRAP', `host call given memory [${pointer}, ${pointer + length}) outside the ${view.byteLength}-byte memory`);
    return view.subarray(pointer, pointer + length);
  };
  const u32 = (pointer: number): number => new DataView(memory.buffer).getUint32(bytes(pointer, 4).byteOffset, true);
  const setU32 = (pointer: number, value: number): void => new DataView(memory.buffer).setUint32(bytes(pointer, 4).byteOffset, value, true);
  let stdoutLine = '';
  const logText = (text: string): void => {
    const lines = (stdoutLine + text).split('\n');
    stdoutLine = lines.pop() ?? '';
    for (const line of lines) context.log(line);
    if (stdoutLine.length > kMaxLogLineBytes) { context.log(stdoutLine); stdoutLine = ''; }
  };

  const springbok = {
    read_input: (pointer: number, length: number): void => { bytes(pointer, length).set(input.subarray(0, length)); },
    output: (pointer: number, length: number): void => {
      if (!fiber.output(bytes(pointer, length).slice())) exit('ERR_OUTPUT_TOO_LARGE', `output passed the limit of ${maxOutputBytes} bytes`);
    },
    log: (pointer: number, length: number): void => { context.log(kUtf8.decode(bytes(pointer, Math.min(length, kMaxLogLineBytes)))); },
    done: (status: number): void => {
      if (stdoutLine !== '') context.log(stdoutLine);
      fiber.done(status);
    },
    memory_refused: (): void => fiber.memoryRefused(),
    fuel: (): number => fiber.fuel(),
    suspend: new WebAssembly.Suspending(() => fiber.suspend()),
    fetch: new WebAssembly.Suspending((requestPointer: number, responsePointer: number) => {
      // sb_fetch_request: 8 u32 fields; sb_fetch_response: status, then (ptr, cap, len) for headers and body.
      const field = (index: number): Uint8Array => bytes(u32(requestPointer + index * 8), Math.min(u32(requestPointer + index * 8 + 4), kMaxFetchFieldBytes));
      const url = kUtf8.decode(field(0));
      const method = kUtf8.decode(field(1)) || 'GET';
      const headers = parseHeaderLines(kUtf8.decode(field(2)));
      const body = field(3).slice();
      bytes(responsePointer, 28);
      const answer = context.fetch({ url, method, headers, body }).then(
        (response) => writeResponse(response, responsePointer),
        (error: { code?: string }) => error?.code === 'ERR_NETWORK_BUDGET' ? SB_ERR_NETWORK_BUDGET : SB_ERR_NETWORK,
      );
      return fiber.suspendForFetch(answer);
    }),
  };

  const writeResponse = (response: FetchResponse, pointer: number): number => {
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
      if (fd !== 1 && fd !== 2) return WASI_EBADF;
      let total = 0;
      for (let i = 0; i < count; i++) {
        const chunk = bytes(u32(iovs + i * 8), u32(iovs + i * 8 + 4));
        logText(kUtf8.decode(chunk));
        total += chunk.byteLength;
      }
      setU32(written, total);
      return 0;
    },
    fd_close: (): number => WASI_EBADF,
    fd_seek: (): number => WASI_EBADF,
    fd_fdstat_get: (): number => WASI_EBADF,
    proc_exit: (code: number): never => exit('ERR_FUNCTION', `exit(${code})`),
    environ_sizes_get: (count: number, size: number): number => { setU32(count, 0); setU32(size, 0); return 0; },
    environ_get: (): number => 0,
    args_sizes_get: (count: number, size: number): number => { setU32(count, 0); setU32(size, 0); return 0; },
    args_get: (): number => 0,
    // Millisecond resolution only: no clock fine enough to time other tenants' work.
    clock_time_get: (_id: number, _precision: bigint, out: number): number => {
      new DataView(memory.buffer).setBigUint64(bytes(out, 8).byteOffset, BigInt(Date.now()) * 1_000_000n, true);
      return 0;
    },
    random_get: (pointer: number, length: number): number => {
      if (length > 65536) return WASI_EINVAL;
      getRandomValues(bytes(pointer, length));
      return 0;
    },
  };
  return { env: { memory }, [kSpringbokModule]: springbok, [kWasiModule]: wasi };
}

function parseHeaderLines (text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}
