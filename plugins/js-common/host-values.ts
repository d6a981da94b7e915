import { EngineError, type ErrorRecord } from '../../engine/errors.ts';
import type { FetchRequest } from '../../engine/plugin.ts';
import type { GuestFailureCode } from './guest-prelude.ts';

/**
 * Conversions at the host side of the guest boundary, shared by both engines. Values that come
 * out of a guest are untrusted: each is checked for type and size here before the engine sees it.
 */

const kInputDecoder = new TextDecoder('utf-8');
const kGuestFailureCodes: ReadonlySet<string> = new Set<GuestFailureCode>(['ERR_FUNCTION', 'ERR_MEMORY_BUDGET', 'ERR_OUTPUT_TOO_LARGE']);
/** Longest error message kept from a guest, in characters. */
const kMaxMessageChars = 4096;
const kMaxUrlChars = 8192;

/** The function's input as JavaScript sees it: a string, UTF-8 decoded (bad sequences become U+FFFD). */
export function decodeInput (input: Uint8Array): string {
  return kInputDecoder.decode(input);
}

/** A successful payload from the guest prelude (a string or bytes) as output bytes. */
export function outputBytes (payload: unknown): Uint8Array | ErrorRecord {
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  if (payload instanceof Uint8Array) return payload;
  return { code: 'ERR_INTERNAL', message: 'js: the guest prelude returned an output that is neither a string nor bytes' };
}

/** A failure payload `[code, message]` from the guest prelude as an error record. */
export function failureRecord (payload: unknown): ErrorRecord {
  if (Array.isArray(payload) && typeof payload[0] === 'string' && kGuestFailureCodes.has(payload[0])) {
    return { code: payload[0] as GuestFailureCode, message: clip(String(payload[1])) };
  }
  return { code: 'ERR_FUNCTION', message: 'the function failed' };
}

/** Cuts a guest-provided message to a bounded length. */
export function clip (message: string): string {
  return message.length > kMaxMessageChars ? `${message.slice(0, kMaxMessageChars)}…` : message;
}

/**
 * The arguments of a guest's ctx.fetch call as a {@link FetchRequest}.
 * @throws {EngineError} ERR_NETWORK_BUDGET when a field has the wrong shape (the guest sees it as a rejection).
 */
export function fetchRequest (url: unknown, method: unknown, headersJson: unknown, body: unknown): FetchRequest {
  if (typeof url !== 'string' || url.length > kMaxUrlChars) throw new EngineError('ERR_NETWORK_BUDGET', 'ctx.fetch: the url must be a string of at most 8192 characters');
  if (typeof method !== 'string' || !/^[A-Z]{1,16}$/i.test(method)) throw new EngineError('ERR_NETWORK_BUDGET', 'ctx.fetch: method must be an HTTP method name');
  let headers: Record<string, string> = {};
  if (typeof headersJson === 'string') {
    const parsed: unknown = JSON.parse(headersJson);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new EngineError('ERR_NETWORK_BUDGET', 'ctx.fetch: headers must be an object of strings');
    headers = Object.fromEntries(Object.entries(parsed).map(([name, value]) => [name, String(value)]));
  }
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body instanceof Uint8Array ? body : undefined;
  return { url, method: method.toUpperCase(), headers, ...(bytes === undefined ? {} : { body: bytes }) };
}
