import type { Usage } from '../budget.ts';
import type { ErrorCode } from '../errors.ts';
import type { InvokeResult } from '../invocation.ts';
import type { HeaderList, InvocationRequest, InvocationResponse } from '../plugin.ts';

/**
 * Invocations and results cross between threads as binary records, many to one transferred
 * buffer: structured cloning an object per invocation cost several microseconds on each side,
 * more than a trivial invocation itself. Numbers are little-endian; a string or bytes field is a
 * u32 length and then its bytes (strings in UTF-8).
 */

const kInitialBytes = 4 * 1024;
/** A new batch's buffer starts at the last batch's size, within these bounds: one large output must not make every later batch large. */
const kMaxStartBytes = 64 * 1024;

export class RecordWriter {
  #buffer = Buffer.allocUnsafeSlow(kInitialBytes);
  #offset = 0;

  get length (): number { return this.#offset; }

  /** The bytes written so far, in a buffer that can be transferred (never pooled); the writer starts a new one. */
  take (): { buffer: ArrayBuffer, length: number } {
    const taken = { buffer: this.#buffer.buffer, length: this.#offset };
    this.#buffer = Buffer.allocUnsafeSlow(Math.max(kInitialBytes, Math.min(kMaxStartBytes, this.#offset)));
    this.#offset = 0;
    return taken;
  }

  u8 (value: number): void {
    this.#ensure(1);
    this.#offset = this.#buffer.writeUInt8(value, this.#offset);
  }

  u32 (value: number): void {
    this.#ensure(4);
    this.#offset = this.#buffer.writeUInt32LE(value, this.#offset);
  }

  f64 (value: number): void {
    this.#ensure(8);
    this.#offset = this.#buffer.writeDoubleLE(value, this.#offset);
  }

  bytes (value: Uint8Array): void {
    this.#ensure(4 + value.byteLength);
    this.#offset = this.#buffer.writeUInt32LE(value.byteLength, this.#offset);
    this.#buffer.set(value, this.#offset);
    this.#offset += value.byteLength;
  }

  string (value: string): void {
    const length = Buffer.byteLength(value);
    this.#ensure(4 + length);
    this.#offset = this.#buffer.writeUInt32LE(length, this.#offset);
    this.#offset += this.#buffer.write(value, this.#offset, 'utf8');
  }

  #ensure (bytes: number): void {
    if (this.#offset + bytes <= this.#buffer.length) return;
    // Doubling for many small records; the exact size (and some room) for one large one.
    const size = Math.max(this.#buffer.length * 2, this.#offset + bytes + kInitialBytes);
    const larger = Buffer.allocUnsafeSlow(size);
    this.#buffer.copy(larger, 0, 0, this.#offset);
    this.#buffer = larger;
  }
}

export class RecordReader {
  readonly #buffer: Buffer;
  #offset = 0;

  constructor (buffer: ArrayBuffer, length: number) {
    this.#buffer = Buffer.from(buffer, 0, length);
  }

  get done (): boolean { return this.#offset >= this.#buffer.length; }

  u8 (): number {
    const value = this.#buffer.readUInt8(this.#offset);
    this.#offset += 1;
    return value;
  }

  u32 (): number {
    const value = this.#buffer.readUInt32LE(this.#offset);
    this.#offset += 4;
    return value;
  }

  f64 (): number {
    const value = this.#buffer.readDoubleLE(this.#offset);
    this.#offset += 8;
    return value;
  }

  /** A view into the received buffer (no copy): it keeps the whole batch alive while it is held. */
  bytes (): Uint8Array {
    const length = this.u32();
    const view = this.#buffer.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return view;
  }

  string (): string {
    const length = this.u32();
    const value = this.#buffer.toString('utf8', this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }
}

function writeHeaders (writer: RecordWriter, headers: HeaderList): void {
  writer.u32(headers.length);
  for (const [name, value] of headers) {
    writer.string(name);
    writer.string(value);
  }
}

function readHeaders (reader: RecordReader): [string, string][] {
  const headers: [string, string][] = [];
  for (let count = reader.u32(); count > 0; count--) headers.push([reader.string(), reader.string()]);
  return headers;
}

/**
 * `acceptedAt` is absolute (timeOrigin + now, ms): each thread's performance.now() has its own zero.
 * `depth` is how many ctx.invoke calls deep the invocation is. A u8 says whether an HTTP request
 * (method, url, headers) follows.
 */
export function writeInvoke (writer: RecordWriter, id: number, acceptedAt: number, name: string, input: Uint8Array, request?: InvocationRequest, depth = 0): void {
  writer.u32(id);
  writer.f64(acceptedAt);
  writer.string(name);
  writer.bytes(input);
  writer.u8(depth);
  writer.u8(request === undefined ? 0 : 1);
  if (request === undefined) return;
  writer.string(request.method);
  writer.string(request.url);
  writeHeaders(writer, request.headers);
}

export function readInvoke (reader: RecordReader): { id: number, acceptedAt: number, name: string, input: Uint8Array, depth: number, request?: InvocationRequest } {
  const id = reader.u32(), acceptedAt = reader.f64(), name = reader.string(), input = reader.bytes(), depth = reader.u8();
  if (reader.u8() === 0) return { id, acceptedAt, name, input, depth };
  return { id, acceptedAt, name, input, depth, request: { method: reader.string(), url: reader.string(), headers: readHeaders(reader) } };
}

const kOk = 1;
const kLogs = 2;
const kResponse = 4;
/** The usage has kv counts or calls (rare, so they travel as JSON). */
const kMoreUsage = 8;

export function writeResult (writer: RecordWriter, id: number, result: InvokeResult): void {
  writer.u32(id);
  const response = result.ok ? result.response : undefined;
  const { usage } = result;
  // Checked field by field: no object made for the usual result, which has none of them.
  const hasMore = usage.kvReads !== undefined || usage.calls !== undefined || usage.callsOmitted !== undefined;
  writer.u8((result.ok ? kOk : 0) | (result.logs.length > 0 ? kLogs : 0) | (response !== undefined ? kResponse : 0) | (hasMore ? kMoreUsage : 0));
  writer.u32(result.version);
  writer.f64(usage.cpuMs);
  writer.f64(usage.memoryBytes);
  writer.f64(usage.netRequests);
  writer.f64(usage.netBytes);
  if (hasMore) writer.string(JSON.stringify({ kvReads: usage.kvReads, kvWrites: usage.kvWrites, kvBytes: usage.kvBytes, calls: usage.calls, callsOmitted: usage.callsOmitted }));
  if (result.ok) {
    writer.bytes(result.output);
  } else {
    writer.string(result.error.code);
    writer.string(result.error.message);
  }
  if (result.logs.length > 0) {
    writer.u32(result.logs.length);
    for (const line of result.logs) writer.string(line);
  }
  if (response !== undefined) {
    writer.u32(response.status);
    writeHeaders(writer, response.headers);
  }
}

export function readResult (reader: RecordReader): { id: number, result: InvokeResult } {
  const id = reader.u32();
  const flags = reader.u8();
  const version = reader.u32();
  const numbers = { cpuMs: reader.f64(), memoryBytes: reader.f64(), netRequests: reader.f64(), netBytes: reader.f64() };
  const usage: Usage = (flags & kMoreUsage) !== 0 ? { ...numbers, ...JSON.parse(reader.string()) as Partial<Usage> } : numbers;
  let output: Uint8Array | undefined;
  let error: { code: ErrorCode, message: string } | undefined;
  if ((flags & kOk) !== 0) output = reader.bytes();
  else error = { code: reader.string() as ErrorCode, message: reader.string() };
  const logs: string[] = [];
  if ((flags & kLogs) !== 0) {
    for (let count = reader.u32(); count > 0; count--) logs.push(reader.string());
  }
  let response: InvocationResponse | undefined;
  if ((flags & kResponse) !== 0) response = { status: reader.u32(), headers: readHeaders(reader) };
  const result: InvokeResult = output === undefined ? { ok: false, error: error!, usage, logs, version }
    : response === undefined ? { ok: true, output, usage, logs, version } : { ok: true, output, usage, logs, version, response };
  return { id, result };
}
