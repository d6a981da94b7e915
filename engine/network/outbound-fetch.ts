import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Budget } from '../budget.ts';
import { EngineError, type ErrorRecord } from '../errors.ts';
import type { FetchRequest, FetchResponse } from '../plugin.ts';
import { parseAddressRange, type AddressRange } from './address-policy.ts';
import { findRule, parseAllowEntry } from './allow-list.ts';
import { refusalFor, resolveDestination } from './destination.ts';
import { reachesEngine } from './engine-destination.ts';
import { guardedConnection } from './guarded-connection.ts';
import { requestHead, type RequestHead } from './request-head.ts';
import type { TokenBucket } from './token-bucket.ts';

/** One invocation's network account: what it may use, what it used, and when to stop. */
export interface NetworkMeter {
  readonly budget: Budget;
  requests: number;
  bytes: number;
  /** The function's shared rate limit, when it has one. */
  readonly bucket: TokenBucket | undefined;
  /** Aborted when the invocation ends: every request in flight is torn down. */
  readonly signal: AbortSignal;
  /** The first denial: if the invocation then fails, it fails with this (ERR_NETWORK_BUDGET). */
  breach: ErrorRecord | undefined;
}

export interface NetworkPolicy {
  /** Per-request time limit, in ms (the invocation's wall clock also applies). */
  readonly requestTimeoutMs: number;
  /** Largest response body kept in memory, whatever the byte budget, in bytes. */
  readonly maxResponseBytes: number;
  readonly maxRedirects: number;
  /** True for an address and port the engine itself listens on: never reachable from a function. */
  readonly isEngineAddress: (address: string, port: number) => boolean;
  /**
   * Non-public ranges the operator opened (`serve --net-allow-private`), as CIDR text: only these
   * let a function reach loopback, private, link-local and the other special addresses. Optional
   * so an embedder's policy without it opens nothing.
   */
  readonly allowPrivate?: readonly string[];
}

const kRedirects = new Set([301, 302, 303, 307, 308]);

/**
 * Performs one request for a function: allow-list, request and byte budgets, the engine's deny
 * list of internal addresses (only the operator can open ranges), the engine's own addresses in
 * every form (checked before connecting and again on the connected socket's real peer), redirects
 * (each hop checked in full and counted as a request), the function's rate limit, and a response
 * body streamed into the byte budget rather than buffered without limit.
 *
 * Counting (doc/budgets.md): a request counts once its connection is attempted; one refused here
 * before any byte is sent (allow-list, deny list, own address, bad header, budget) does not. Bytes:
 * request line + header lines sent (Authorization made from `user:pw@` included) + blank line +
 * body, charged before sending and given back if the connection never came up; then status line +
 * header lines received + blank line + body as received after transfer decoding.
 * @throws {EngineError} ERR_NETWORK_BUDGET for a denied or over-budget request, ERR_NETWORK for a failed one or a malformed request.
 */
export async function outboundFetch (request: FetchRequest, meter: NetworkMeter, policy: NetworkPolicy): Promise<FetchResponse> {
  const rules = meter.budget.allowHosts.map(parseAllowEntry);
  const opened = openedRanges(policy.allowPrivate ?? []);
  let url = parseUrl(request.url);
  let method = (request.method ?? 'GET').toUpperCase();
  let body = request.body ?? new Uint8Array(0);
  for (let hop = 0; ; hop++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') deny(meter, `scheme ${url.protocol} is not allowed (http and https only)`);
    if (findRule(rules, url) === undefined) deny(meter, `${hop > 0 ? 'redirect to ' : ''}${url.host} is not on the function's allow-list`);
    if (meter.requests >= meter.budget.netRequests) deny(meter, `request budget of ${meter.budget.netRequests} requests used up`);
    // Taken now, before any await, so concurrent requests of one invocation cannot pass the budget together; given back if refused here.
    meter.requests++;
    let charged = 0;
    let attempted = false;
    let connected = false;
    let refusedOnSocket = false;
    let response: FetchResponse;
    try {
      const head = requestHead(url, method, request.headers, body.byteLength);
      const address = await destinationOf(url, opened, meter);
      const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
      if (reachesEngine(address, port, policy.isEngineAddress)) deny(meter, `${url.host} is the engine's own address`);
      const requestBytes = head.bytes + body.byteLength;
      if (meter.bytes + requestBytes > meter.budget.netBytes) deny(meter, `byte budget of ${meter.budget.netBytes} bytes used up (this request needs ${requestBytes} bytes)`);
      charged = requestBytes;
      await charge(meter, requestBytes);
      attempted = true;
      // The socket's real peer, checked once connected: whatever the address's spelling, what it reached is what counts.
      const check = (peer: { address: string, port: number, localAddress: string | undefined }): string | undefined => {
        if (reachesEngine(peer.address, peer.port, policy.isEngineAddress, peer.localAddress)) return `${url.host} is the engine's own address`;
        const refused = refusalFor(peer.address, opened);
        return refused === undefined ? undefined : `${url.host} connected to ${peer.address}, which ${refused}`;
      };
      const refuse = (reason: string): EngineError => {
        refusedOnSocket = true;
        return refusal(meter, reason);
      };
      const connection = guardedConnection({ address, port, hostname: url.hostname.replace(/^\[|\]$/g, ''), tls: url.protocol === 'https:' }, check, refuse, () => { connected = true; });
      response = await send(url, head, body, connection, meter, policy);
    } catch (error) {
      if (!attempted || refusedOnSocket) meter.requests--;
      // Bytes of a request that never left: its connection did not come up.
      if (!connected) meter.bytes -= charged;
      throw error;
    }
    const location = response.headers.location;
    if (kRedirects.has(response.status) && location !== undefined) {
      if (hop >= policy.maxRedirects) throw new EngineError('ERR_NETWORK', `more than ${policy.maxRedirects} redirects`);
      url = parseUrl(new URL(location, url).href);
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = 'GET';
        body = new Uint8Array(0);
      }
      continue;
    }
    return response;
  }
}

/** Compiled once per list: the filled engine options hold one frozen array for the engine's life. */
const kOpenedCache = new WeakMap<readonly string[], readonly AddressRange[]>();

function openedRanges (texts: readonly string[]): readonly AddressRange[] {
  let ranges = kOpenedCache.get(texts);
  if (ranges === undefined) {
    // Options were validated when the engine was built (fillEngineOptions): an entry that does not parse opens nothing.
    ranges = texts.map(parseAddressRange).filter((range) => range !== undefined);
    kOpenedCache.set(texts, ranges);
  }
  return ranges;
}

function parseUrl (text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new EngineError('ERR_NETWORK', `not a valid URL: ${JSON.stringify(String(text).slice(0, 200))}`);
  }
}

/** Records the first denial on the meter (the invocation's failure if it then fails) and returns the error to throw. */
function refusal (meter: NetworkMeter, message: string): EngineError {
  const record = { code: 'ERR_NETWORK_BUDGET', message } as const;
  meter.breach ??= record;
  return new EngineError(record.code, message);
}

function deny (meter: NetworkMeter, message: string): never {
  throw refusal(meter, message);
}

async function charge (meter: NetworkMeter, bytes: number): Promise<void> {
  meter.bytes += bytes;
  if (meter.bytes > meter.budget.netBytes) deny(meter, `byte budget of ${meter.budget.netBytes} bytes used up`);
  await meter.bucket?.take(bytes, meter.signal);
}

async function destinationOf (url: URL, opened: readonly AddressRange[], meter: NetworkMeter): Promise<string> {
  let destination;
  try {
    destination = await resolveDestination(url, opened);
  } catch (error) {
    throw new EngineError('ERR_NETWORK', `cannot resolve ${url.hostname}: ${(error as Error).message}`);
  }
  if (destination.refused !== undefined) deny(meter, destination.refused);
  return destination.address;
}

function send (url: URL, head: RequestHead, body: Uint8Array, connection: ReturnType<typeof guardedConnection>, meter: NetworkMeter, policy: NetworkPolicy): Promise<FetchResponse> {
  const signal = AbortSignal.any([meter.signal, AbortSignal.timeout(policy.requestTimeoutMs)]);
  return new Promise((resolvePromise, reject) => {
    const fail = (error: unknown): void => {
      if (error instanceof EngineError) reject(error);
      else if (signal.aborted) reject(new EngineError('ERR_NETWORK', meter.signal.aborted ? 'the invocation ended' : `no answer within ${policy.requestTimeoutMs} ms`));
      else reject(new EngineError('ERR_NETWORK', `request to ${url.host} failed: ${(error as Error).message}`));
    };
    try {
      // No URL and no agent: nothing of Node's own (an Authorization from the URL, a pooled socket) joins what was checked and counted.
      const options = { method: head.method, path: head.path, headers: head.headers, createConnection: connection, signal };
      const outgoing = (url.protocol === 'https:' ? httpsRequest : httpRequest)(options, (incoming: IncomingMessage) => {
        readResponse(incoming, meter, policy).then(resolvePromise, (error: unknown) => { incoming.destroy(); fail(error); });
      });
      outgoing.on('error', fail);
      outgoing.end(body.byteLength > 0 ? body : undefined);
    } catch (error) {
      fail(error);
    }
  });
}

async function readResponse (incoming: IncomingMessage, meter: NetworkMeter, policy: NetworkPolicy): Promise<FetchResponse> {
  const raw = incoming.rawHeaders;
  let headerBytes = Buffer.byteLength(`HTTP/${incoming.httpVersion} ${incoming.statusCode} ${incoming.statusMessage}\r\n`) + 2;
  for (let i = 0; i + 1 < raw.length; i += 2) headerBytes += Buffer.byteLength(`${raw[i]}: ${raw[i + 1]}\r\n`);
  await charge(meter, headerBytes);
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    received += chunk.byteLength;
    if (received > policy.maxResponseBytes) deny(meter, `response body passed the engine's limit of ${policy.maxResponseBytes} bytes`);
    // Charging waits on the rate limit while the stream is not read: TCP backpressure slows the sender.
    await charge(meter, chunk.byteLength);
    chunks.push(chunk);
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  return { status: incoming.statusCode ?? 0, headers, body: new Uint8Array(Buffer.concat(chunks)) };
}
