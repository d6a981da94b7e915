import type { IncomingMessage } from 'node:http';
import { EngineError } from '../../engine/errors.ts';
import type { InvocationRequest, InvocationResponse } from '../../engine/plugin.ts';

/**
 * The HTTP side of an invocation (doc/http.md): the request a function that speaks HTTP (the
 * JavaScript Workers format) is shown, and the headers its response is answered with. Hop-by-hop
 * headers belong to one connection and are neither passed in nor taken out.
 */

const kHopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);
/** Headers the front sets itself on an answer. */
const kAnswerOwned = new Set(['content-length', 'date']);
/** A Host header fit to be a URL's authority: a name or IP literal and an optional port. */
const kHost = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
/** The host of the URL when the request's Host header is missing or unusable. */
const kFallbackHost = 'function.invalid';

/**
 * The request a function is shown: the method, the URL `http://HOST/PATH?QUERY` (PATH is what
 * follows `/functions/NAME`, `/` at least), and the headers as the client sent them, names in
 * lower case.
 */
export function invocationRequest (request: IncomingMessage, path: string, search: string): InvocationRequest {
  const host = request.headers.host !== undefined && kHost.test(request.headers.host) ? request.headers.host : kFallbackHost;
  const headers: [string, string][] = [];
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!kHopByHop.has(name)) headers.push([name, raw[i + 1]!]);
  }
  return { method: request.method ?? 'GET', url: `http://${host}${path}${search}`, headers };
}

/** The function's response headers fit for the answer (flat, as node:http's writeHead takes an array). */
export function answerHeaders (response: InvocationResponse): string[] {
  const flat: string[] = [];
  for (const [name, value] of response.headers) {
    const lower = name.toLowerCase();
    if (!kHopByHop.has(lower) && !kAnswerOwned.has(lower) && !lower.startsWith('x-springbok-')) flat.push(name, value);
  }
  return flat;
}

/**
 * The `X-Springbok-Env: KEY=VALUE` headers of a deploy, as the engine's env; undefined when there
 * are none. VALUE is percent-decoded, so any string can be sent, and a comma can only be a
 * separator: several variables may share one header (`A=1, B=2`, as HTTP joins repeated headers).
 * A header, not a query parameter: the values may be secrets, and URLs end up in logs.
 * @throws {EngineError} ERR_INVALID_ARGUMENT for a header without `=`, a bad escape or a name given twice.
 */
export function envFromHeaders (request: IncomingMessage): Record<string, string> | undefined {
  const values = request.headersDistinct['x-springbok-env'];
  if (values === undefined || values.length === 0) return undefined;
  const env: Record<string, string> = {};
  for (const text of values.flatMap((value) => value.split(','))) {
    const equals = text.indexOf('=');
    if (equals <= 0) throw new EngineError('ERR_INVALID_ARGUMENT', 'header X-Springbok-Env must be KEY=VALUE (VALUE percent-encoded)');
    const name = text.slice(0, equals).trim();
    let value: string;
    try {
      value = decodeURIComponent(text.slice(equals + 1).trim());
    } catch {
      throw new EngineError('ERR_INVALID_ARGUMENT', `header X-Springbok-Env ${name}: the value is not validly percent-encoded`);
    }
    if (Object.hasOwn(env, name)) throw new EngineError('ERR_INVALID_ARGUMENT', `header X-Springbok-Env gives ${name} twice`);
    Object.defineProperty(env, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return env;
}

/** Whether an answer with this status has no body (node:http sends none). */
export function isBodiless (status: number): boolean {
  return status === 204 || status === 304;
}
