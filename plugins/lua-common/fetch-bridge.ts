import { EngineError } from '../../engine/errors.ts';
import type { FetchRequest, FetchResponse, InvocationContext } from '../../engine/plugin.ts';
import { kMaxHeaders } from './limits.ts';

/** What a guest's ctx.fetch turns into when its coroutine resumes: flat values for the prelude. */
export type FetchReply =
  | { readonly ok: true, readonly status: number, readonly body: Uint8Array, readonly headers: readonly string[] }
  | { readonly ok: false, readonly message: string };

/**
 * One ctx.fetch in flight. The plugin starts it from the arguments the prelude passed to
 * host_fetch, returns `{state: 'wait', until: pending.settled}` and, on the next run(), resumes
 * the guest with {@link PendingFetch.reply}. `settled` never rejects: a refusal becomes a reply
 * the guest sees as a Lua error it can pcall.
 */
export class PendingFetch {
  readonly settled: Promise<void>;
  reply: FetchReply | undefined;

  constructor (context: InvocationContext, request: FetchRequest) {
    let promise: Promise<FetchResponse>;
    try {
      promise = context.fetch(request);
    } catch (error) {
      promise = Promise.reject(error);
    }
    this.settled = promise.then((response) => {
      const headers: string[] = [];
      for (const [name, value] of Object.entries(response.headers).slice(0, kMaxHeaders)) headers.push(name, value);
      this.reply = { ok: true, status: response.status, body: response.body, headers };
    }, (error: unknown) => {
      const text = error instanceof EngineError ? `${error.code}: ${error.message}` : `fetch failed: ${error instanceof Error ? error.message : String(error)}`;
      this.reply = { ok: false, message: text };
    });
  }
}

const kDecoder = new TextDecoder();

/** Builds the request from host_fetch's arguments: url, method, body (or false), then name/value pairs. */
export function fetchRequestFrom (url: string, method: string, body: Uint8Array | undefined, headerPairs: readonly string[]): FetchRequest {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < headerPairs.length; i += 2) headers[headerPairs[i]!] = headerPairs[i + 1]!;
  return body === undefined ? { url, method, headers } : { url, method, headers, body };
}

/** Bytes of a Lua string as text for URLs, methods and headers (lossy for invalid UTF-8, which no valid URL holds). */
export function textOf (bytes: Uint8Array): string {
  return kDecoder.decode(bytes);
}
