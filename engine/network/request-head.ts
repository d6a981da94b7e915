import { validateHeaderName, validateHeaderValue } from 'node:http';
import { EngineError } from '../errors.ts';

/** Header names the engine sets itself: framing and the connection are not the function's to choose. */
const kEngineHeaders = /^(host|connection|content-length|transfer-encoding|keep-alive|upgrade)$/i;
const kMethodToken = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Methods for which Node would send `transfer-encoding: chunked` or `content-length: 0` on its own when we set neither. */
const kMethodsWithoutImplicitBody = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

/** The request line and headers exactly as they go on the wire, and their size. */
export interface RequestHead {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Request line + header lines + blank line, in bytes (the body is counted apart). */
  readonly bytes: number;
}

/**
 * Builds the head of one request: the function's headers, then the engine's own (`host`,
 * `connection: close`, `content-length`), and `authorization: Basic ...` made from `user:pw@` in
 * the URL unless the function set its own. Node adds nothing to a request whose headers say all
 * of this, so `bytes` is what is sent.
 * @throws {EngineError} ERR_NETWORK naming the method or header that HTTP does not allow.
 */
export function requestHead (url: URL, method: string, functionHeaders: Readonly<Record<string, string>> | undefined, bodyBytes: number): RequestHead {
  if (!kMethodToken.test(method)) throw new EngineError('ERR_NETWORK', `method ${JSON.stringify(method.slice(0, 100))} is not a valid HTTP method`);
  const headers: Record<string, string> = {};
  for (const [name, raw] of Object.entries(functionHeaders ?? {})) {
    const value = String(raw);
    try {
      validateHeaderName(name);
    } catch {
      throw new EngineError('ERR_NETWORK', `header name ${JSON.stringify(name.slice(0, 100))} is not a valid HTTP header name`);
    }
    try {
      validateHeaderValue(name, value);
    } catch {
      throw new EngineError('ERR_NETWORK', `header ${JSON.stringify(name.slice(0, 100))} has a value HTTP does not allow (control characters such as CR or LF, or characters beyond Latin-1)`);
    }
    if (!kEngineHeaders.test(name)) headers[name] = value;
  }
  if ((url.username !== '' || url.password !== '') && !Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) {
    headers.authorization = `Basic ${Buffer.from(`${decoded(url.username)}:${decoded(url.password)}`).toString('base64')}`;
  }
  headers.host = url.host;
  headers.connection = 'close';
  if (bodyBytes > 0 || !kMethodsWithoutImplicitBody.has(method)) headers['content-length'] = String(bodyBytes);
  const path = `${url.pathname}${url.search}`;
  const bytes = Buffer.byteLength(`${method} ${path} HTTP/1.1\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`, 'latin1');
  return { method, path, headers, bytes };
}

/** A URL's percent-encoded user or password as text; a malformed escape is kept as written. */
function decoded (text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
