import { EngineError, isErrorCode, type ErrorRecord } from '../engine/errors.ts';
import type { InvokeResult } from '../engine/invocation.ts';

/**
 * The springbok wire protocol, version 1: length-prefixed binary frames, pipelined, answers matched
 * by request id. This file owns the frame layout and every message's encode and decode; the full
 * specification, message by message, is doc/protocol.md.
 *
 *   offset  size  field
 *   0       4     frame length L (uint32 BE): bytes after this field, 10 ≤ L ≤ maxFrameBytes
 *   4       1     protocol version (1)
 *   5       1     message type (MessageType)
 *   6       4     request id (uint32 BE), chosen by the client, echoed in the answer
 *   10      4     header length H (uint32 BE)
 *   14      H     header: a UTF-8 JSON object (H = 0 means {})
 *   14+H    rest  payload: raw bytes (source, input or output), never interpreted
 */

export const kProtocolVersion = 1;
export const kPrefixBytes = 4;
/** Version, type, request id and header length: the fixed part after the length prefix. */
export const kFixedBytes = 10;
export const kDefaultMaxFrameBytes = 16 * 2 ** 20;
export const kMaxHeaderBytes = 1 * 2 ** 20;

export const MessageType = {
  // Requests, client → engine.
  deploy: 0x01,
  invoke: 0x02,
  remove: 0x03,
  list: 0x04,
  stats: 0x05,
  ping: 0x06,
  cancel: 0x07,
  // Answers, engine → client.
  result: 0x81,
  ok: 0x82,
  error: 0xff,
} as const;
export type MessageTypeCode = typeof MessageType[keyof typeof MessageType];

/** One frame cut from the stream; header and payload are views into the received bytes. */
export interface Frame {
  readonly version: number;
  readonly type: number;
  readonly id: number;
  readonly header: Buffer;
  readonly payload: Buffer;
  /** Set when the header length field is inconsistent with the frame. */
  readonly headerError?: string;
}

/** Builds one frame. `header` is JSON-encoded; `payload` is copied as is. */
export function encodeFrame (type: MessageTypeCode, id: number, header: unknown, payload?: Uint8Array): Buffer {
  const headerBytes = header === undefined ? 0 : Buffer.byteLength(JSON.stringify(header));
  const payloadBytes = payload?.byteLength ?? 0;
  const frame = Buffer.allocUnsafe(kPrefixBytes + kFixedBytes + headerBytes + payloadBytes);
  frame.writeUInt32BE(kFixedBytes + headerBytes + payloadBytes, 0);
  frame.writeUInt8(kProtocolVersion, 4);
  frame.writeUInt8(type, 5);
  frame.writeUInt32BE(id >>> 0, 6);
  frame.writeUInt32BE(headerBytes, 10);
  if (header !== undefined) frame.write(JSON.stringify(header), 14, 'utf8');
  if (payload !== undefined) frame.set(payload, 14 + headerBytes);
  return frame;
}

/**
 * Cuts frames out of a byte stream. Bytes are kept as a list of chunks and joined once per frame,
 * so a large frame arriving in many small reads costs one copy, not one per read.
 *
 * A length prefix out of range is fatal (the stream can no longer be cut into frames): push()
 * throws EngineError ERR_FRAME_TOO_LARGE or ERR_PROTOCOL and the caller closes the connection.
 * The decoder checks the declared length as soon as the prefix arrives, before any body is buffered.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Length of the frame being assembled, or -1 while its prefix is incomplete. */
  #needed = -1;

  constructor (maxFrameBytes: number = kDefaultMaxFrameBytes) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes (): number { return this.#buffered; }

  /** Adds received bytes; returns the frames they complete. */
  push (chunk: Buffer): Frame[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    const frames: Frame[] = [];
    for (;;) {
      if (this.#needed < 0) {
        if (this.#buffered < kPrefixBytes) break;
        const length = this.#peekLength();
        if (length > this.#maxFrameBytes) throw new EngineError('ERR_FRAME_TOO_LARGE', `frame of ${length} bytes declared; the maximum is ${this.#maxFrameBytes}`);
        if (length < kFixedBytes) throw new EngineError('ERR_PROTOCOL', `frame of ${length} bytes declared; a frame has at least ${kFixedBytes}`);
        this.#needed = kPrefixBytes + length;
      }
      if (this.#buffered < this.#needed) break;
      frames.push(parseFrame(this.#take(this.#needed)));
      this.#needed = -1;
    }
    return frames;
  }

  #peekLength (): number {
    const first = this.#chunks[0]!;
    if (first.byteLength >= kPrefixBytes) return first.readUInt32BE(0);
    const joined = Buffer.concat(this.#chunks, kPrefixBytes);
    this.#chunks = [Buffer.concat(this.#chunks)];
    return joined.readUInt32BE(0);
  }

  #take (count: number): Buffer {
    const joined = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const frame = joined.subarray(0, count);
    const rest = joined.subarray(count);
    this.#chunks = rest.byteLength > 0 ? [rest] : [];
    this.#buffered = rest.byteLength;
    return frame;
  }
}

function parseFrame (bytes: Buffer): Frame {
  const headerBytes = bytes.readUInt32BE(10);
  const room = bytes.byteLength - kPrefixBytes - kFixedBytes;
  const headerFits = headerBytes <= room;
  return {
    version: bytes.readUInt8(4),
    type: bytes.readUInt8(5),
    id: bytes.readUInt32BE(6),
    header: headerFits ? bytes.subarray(14, 14 + headerBytes) : bytes.subarray(0, 0),
    payload: headerFits ? bytes.subarray(14 + headerBytes) : bytes.subarray(0, 0),
    // The frame's boundary is still sound, so this is reported for the one request, not fatal.
    ...(headerFits ? {} : { headerError: `header length ${headerBytes} runs past the end of the frame (${room} bytes)` }),
  };
}

const kUtf8 = new TextDecoder('utf-8', { fatal: true });

/** An invocation's result frame: the header (ok, usage, version, the error or logs when there are any) and the output. */
export function encodeResult (id: number, result: InvokeResult): Buffer {
  const logs = result.logs.length > 0 ? { logs: result.logs } : {};
  const header = result.ok
    ? { ok: true, usage: result.usage, version: result.version, ...logs }
    : { ok: false, error: result.error, usage: result.usage, version: result.version, ...logs };
  return encodeFrame(MessageType.result, id, header, result.ok ? result.output : undefined);
}

/**
 * The JSON header of a frame, as an object. The engine holds requests to `maxHeaderBytes` (1 MiB);
 * a client reads answers with no limit but the frame's own, since `list` and `stats` of thousands
 * of functions are larger.
 * @throws {EngineError} ERR_PROTOCOL for a header past the frame's end or over the limit, invalid UTF-8, invalid JSON or a non-object.
 */
export function decodeHeader (frame: Frame, maxHeaderBytes = kMaxHeaderBytes): Record<string, unknown> {
  if (frame.headerError !== undefined) throw new EngineError('ERR_PROTOCOL', frame.headerError);
  if (frame.header.byteLength === 0) return {};
  if (frame.header.byteLength > maxHeaderBytes) throw new EngineError('ERR_PROTOCOL', `header of ${frame.header.byteLength} bytes is over the limit of ${maxHeaderBytes}`);
  let text: string;
  try {
    text = kUtf8.decode(frame.header);
  } catch {
    throw new EngineError('ERR_PROTOCOL', 'header is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new EngineError('ERR_PROTOCOL', `header is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new EngineError('ERR_PROTOCOL', 'header must be a JSON object');
  return value as Record<string, unknown>;
}

/** Reads a required string field of a request header. */
export function stringField (header: Record<string, unknown>, field: string): string {
  const value = header[field];
  if (typeof value !== 'string') throw new EngineError('ERR_PROTOCOL', `header field "${field}" must be a string`);
  return value;
}

/** An error as the engine sends it; anything unrecognised from the wire becomes ERR_PROTOCOL. */
export function errorFromHeader (header: Record<string, unknown>): ErrorRecord {
  const code = header.code;
  const message = typeof header.message === 'string' ? header.message : 'no message';
  return isErrorCode(code) ? { code, message } : { code: 'ERR_PROTOCOL', message: `unknown error code ${JSON.stringify(code)}: ${message}` };
}
