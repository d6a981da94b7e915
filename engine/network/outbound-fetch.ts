import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Budget } from '../budget.ts';
import { EngineError, type ErrorRecord } from '../errors.ts';
import type { FetchRequest, FetchResponse } from '../plugin.ts';
import { isPublicAddress } from './address-policy.ts';
import { findRule, parseAllowEntry, type AllowRule } from './allow-list.ts';
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
}

const kRedirects = new Set([301, 302, 303, 307, 308]);

/**
 * Performs one request for a function: allow-list, request and byte budgets, DNS policy, the
 * engine's own addresses, redirects (each hop checked and counted as a request), the function's rate
 * limit, and a response body streamed into the byte budget rather than buffered without limit.
 * Byte counting (doc/budgets.md): request line + header lines sent + blank line + body, then status
 * line + header lines received + blank line + body as received after transfer decoding.
 * @throws {EngineError} ERR_NETWORK_BUDGET for a denied or over-budget request, ERR_NETWORK for a failed one.
 */
export async function outboundFetch (request: FetchRequest, meter: NetworkMeter, policy: NetworkPolicy): Promise<FetchResponse> {
  const rules = meter.budget.allowHosts.map(parseAllowEntry);
  let url = parseUrl(request.url);
  let method = (request.method ?? 'GET').toUpperCase();
  let body = request.body ?? new Uint8Array(0);
  for (let hop = 0; ; hop++) {
    const rule = findRule(rules, url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') deny(meter, `scheme ${url.protocol} is not allowed (http and https only)`);
    if (rule === undefined) deny(meter, `${hop > 0 ? 'redirect to ' : ''}${url.host} is not on the function's allow-list`);
    if (meter.requests >= meter.budget.netRequests) deny(meter, `request budget of ${meter.budget.netRequests} requests used up`);
    meter.requests++;
    const address = await resolve(url, rule, meter);
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    if (policy.isEngineAddress(address, port)) deny(meter, `${url.host} is the engine's own address`);
    // Exactly the headers that go on the wire (Node adds none of its own when these are set), so the count is exact.
    const headers = { ...ownHeaders(request.headers), host: url.host, connection: 'close', ...(body.byteLength > 0 ? { 'content-length': String(body.byteLength) } : {}) };
    const requestBytes = Buffer.byteLength(`${method} ${url.pathname}${url.search} HTTP/1.1\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`) + body.byteLength;
    await charge(meter, requestBytes);
    const response = await send(url, address, method, headers, body, meter, policy);
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

/** The function's headers without those the engine sets itself (framing and connection are not the function's to choose). */
function ownHeaders (headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!/^(host|connection|content-length|transfer-encoding|keep-alive|upgrade)$/i.test(name)) kept[name] = String(value);
  }
  return kept;
}

function parseUrl (text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new EngineError('ERR_NETWORK', `not a valid URL: ${JSON.stringify(String(text).slice(0, 200))}`);
  }
}

function deny (meter: NetworkMeter, message: string): never {
  const record = { code: 'ERR_NETWORK_BUDGET', message } as const;
  meter.breach ??= record;
  throw new EngineError(record.code, message);
}

async function charge (meter: NetworkMeter, bytes: number): Promise<void> {
  meter.bytes += bytes;
  if (meter.bytes > meter.budget.netBytes) deny(meter, `byte budget of ${meter.budget.netBytes} bytes used up`);
  await meter.bucket?.take(bytes, meter.signal);
}

async function resolve (url: URL, rule: AllowRule, meter: NetworkMeter): Promise<string> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (rule.literal || isIP(host) !== 0) return host;
  let answers: { address: string }[];
  try {
    answers = await lookup(host, { all: true });
  } catch (error) {
    throw new EngineError('ERR_NETWORK', `cannot resolve ${host}: ${(error as Error).message}`);
  }
  const internal = answers.find((answer) => !isPublicAddress(answer.address));
  if (internal !== undefined || answers.length === 0) deny(meter, `${host} resolves to ${internal?.address ?? 'nothing'}, which is not a public address (name the IP in the allow-list to reach an internal service)`);
  return answers[0]!.address;
}

function send (url: URL, address: string, method: string, headers: Record<string, string>, body: Uint8Array, meter: NetworkMeter, policy: NetworkPolicy): Promise<FetchResponse> {
  const signal = AbortSignal.any([meter.signal, AbortSignal.timeout(policy.requestTimeoutMs)]);
  // Connect to the address that was checked, not to whatever a second lookup would say.
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all === true) (callback as unknown as (error: null, addresses: { address: string, family: number }[]) => void)(null, [{ address, family: isIP(address) }]);
    else callback(null, address, isIP(address));
  };
  return new Promise((resolvePromise, reject) => {
    const fail = (error: unknown): void => {
      if (error instanceof EngineError) reject(error);
      else if (signal.aborted) reject(new EngineError('ERR_NETWORK', meter.signal.aborted ? 'the invocation ended' : `no answer within ${policy.requestTimeoutMs} ms`));
      else reject(new EngineError('ERR_NETWORK', `request to ${url.host} failed: ${(error as Error).message}`));
    };
    const options = { method, headers, lookup: pinned, signal, agent: false as const };
    const outgoing = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, (incoming: IncomingMessage) => {
      readResponse(incoming, meter, policy).then(resolvePromise, (error: unknown) => { incoming.destroy(); fail(error); });
    });
    outgoing.on('error', fail);
    outgoing.end(body.byteLength > 0 ? body : undefined);
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
