/**
 * What an HTTP request asks for, from its method and path alone. The handlers live in
 * http-server.ts; this file only knows the URL scheme of doc/http.md.
 */
export type Route =
  | { readonly kind: 'deploy' | 'describe' | 'remove', readonly name: string }
  /** `path`: what follows the function's name in the URL, absent for none (a Workers-format function sees `/`). */
  | { readonly kind: 'invoke', readonly name: string, readonly path?: string }
  | { readonly kind: 'list' | 'health' | 'metrics' }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'method-not-allowed', readonly allow: string };

const kFunctionMethods = { POST: 'invoke', PUT: 'deploy', GET: 'describe', DELETE: 'remove' } as const;

/**
 * Matches a request; the function name is percent-decoded but not validated (the engine does that).
 * Any method on a path below a function (`/functions/NAME/...`) invokes it, with that path.
 */
export function matchRoute (method: string, pathname: string): Route {
  if (pathname === '/functions' || pathname === '/functions/') {
    return method === 'GET' ? { kind: 'list' } : { kind: 'method-not-allowed', allow: 'GET' };
  }
  if (pathname === '/healthz') return method === 'GET' || method === 'HEAD' ? { kind: 'health' } : { kind: 'method-not-allowed', allow: 'GET, HEAD' };
  if (pathname === '/metrics') return method === 'GET' ? { kind: 'metrics' } : { kind: 'method-not-allowed', allow: 'GET' };
  const match = /^\/functions\/([^/]+)(\/.*)?$/.exec(pathname);
  if (match === null) return { kind: 'not-found' };
  let name: string;
  try {
    name = decodeURIComponent(match[1]!);
  } catch {
    return { kind: 'not-found' };
  }
  if (match[2] !== undefined) return { kind: 'invoke', name, path: match[2] };
  const kind = (kFunctionMethods as Record<string, 'invoke' | 'deploy' | 'describe' | 'remove' | undefined>)[method];
  if (kind === undefined) return { kind: 'method-not-allowed', allow: Object.keys(kFunctionMethods).join(', ') };
  return { kind, name };
}

/**
 * A plain request target: an origin-form path (not `//`, which a URL reads as a host) of characters
 * a URL keeps as they are, and a query of the same kind.
 */
const kPlainTarget = /^(\/(?!\/)[\w\-.~!$&'()*+,;=:@/]*)(?:\?([\w\-.~!$&()*+,;=:@/?%]*))?$/;

/**
 * A request target's path and query (`?...`, or empty), as `new URL(target, base)` gives them:
 * a plain target (the invocations' common case) without building a URL, anything else through
 * the URL parser, which normalises it (dot segments, percent-encoding).
 * @throws {TypeError} for a target the URL parser refuses.
 */
export function splitTarget (target: string): { readonly pathname: string, readonly search: string } {
  const plain = kPlainTarget.exec(target);
  if (plain !== null && !plain[1]!.includes('/.')) return { pathname: plain[1]!, search: plain[2] === undefined || plain[2] === '' ? '' : `?${plain[2]}` };
  const url = new URL(target, 'http://localhost');
  return { pathname: url.pathname, search: url.search };
}
