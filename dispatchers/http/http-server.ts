import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Engine, InvokeResult } from '../../engine/index.ts';
import { EngineError, toErrorRecord, type ErrorRecord } from '../../engine/errors.ts';
import type { Usage } from '../../engine/budget.ts';
import type { InvocationRequest, InvocationResponse } from '../../engine/plugin.ts';
import { budgetFromStrings, kBudgetFields, kBudgetLists } from '../budget-fields.ts';
import { assertDeployToken } from '../deploy-token.ts';
import { kQueueFullRetryAfterSeconds, statusForCode } from './error-status.ts';
import { answerHeaders, envFromHeaders, invocationRequest, isBodiless } from './function-http.ts';
import { readBody } from './read-body.ts';
import { matchRoute, splitTarget } from './router.ts';
import { callsMade } from '../../engine/invoke/call-list.ts';

/** What the HTTP front reports to a metrics collector: only what the engine's stats cannot tell. */
export interface HttpMetricsSink {
  /** One invocation answered over HTTP, with its latency from body read to answer, in seconds. */
  observeInvoke (name: string, seconds: number): void;
  /** The Prometheus text exposition and its content type. */
  render (): Promise<{ readonly contentType: string, readonly body: string }>;
}

export interface HttpServerOptions {
  readonly engine: Engine;
  /** Where to listen; a host other than loopback must be asked for explicitly by the caller. */
  readonly host: string;
  /** TCP port; 0 picks a free one (see {@link HttpServer.address}). */
  readonly port: number;
  /** Required (as `Authorization: Bearer TOKEN`) on PUT and DELETE when set. */
  readonly deployToken?: string;
  /** Largest deploy body, in bytes: the engine's maxSourceBytes. */
  readonly maxSourceBytes: number;
  /** Largest invoke body, in bytes. */
  readonly maxInputBytes: number;
  /** Serves GET /metrics and is told of each invocation; without it /metrics is 404. */
  readonly metrics?: HttpMetricsSink;
}

const kQueryParameters = new Set(['language', ...kBudgetLists.map((list) => list.name), ...kBudgetFields.map((field) => field.name)]);

/**
 * The HTTP front of the engine (doc/http.md) on node:http: POST invokes, PUT deploys, DELETE
 * removes, GET lists; /healthz and /metrics. Its address is protected from the functions.
 *
 * Nothing a client sends can throw out of here: every failure is a JSON error answer, an
 * unparseable request gets a bare 400, and a client that disconnects cancels its invocation.
 */
export class HttpServer {
  readonly #server: Server;
  readonly #options: HttpServerOptions;
  #address: { host: string, port: number } = { host: '', port: 0 };
  #closed = false;
  #stopped: Promise<void> | undefined;

  private constructor (options: HttpServerOptions) {
    this.#options = options;
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => sendError(response, toErrorRecord(error)));
    });
    this.#server.on('clientError', (_error: Error, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    });
  }

  /**
   * Listens, then marks the address with {@link Engine.protectAddress} so no function can call it.
   * @throws the listen error (address in use, permission).
   */
  static async start (options: HttpServerOptions): Promise<HttpServer> {
    const server = new HttpServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', reject);
      server.#server.listen(options.port, options.host, () => {
        server.#server.off('error', reject);
        // After start-up a failing accept must not take the engine down.
        server.#server.on('error', () => {});
        resolve();
      });
    });
    const address = server.#server.address();
    if (address !== null && typeof address === 'object') {
      server.#address = { host: address.address, port: address.port };
      options.engine.protectAddress(address.address, address.port);
    }
    return server;
  }

  /** The address actually listened on (the real port when 0 was asked). */
  get address (): { readonly host: string, readonly port: number } { return this.#address; }

  /** Stops accepting connections and closes idle keep-alive ones; requests in progress are answered. Idempotent. */
  stopListening (): void {
    this.#stopped ??= new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
  }

  /** Stops listening and drops every connection; their invocations are cancelled. Idempotent. */
  async close (): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stopListening();
    this.#server.closeAllConnections();
    await this.#stopped;
  }

  async #handle (request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = splitTarget(request.url ?? '/');
    const route = matchRoute(request.method ?? 'GET', url.pathname);
    const { engine } = this.#options;
    switch (route.kind) {
      case 'invoke': return this.#invoke(route.name, invocationRequest(request, route.path ?? '/', url.search), request, response);
      case 'deploy': return this.#deploy(route.name, new URLSearchParams(url.search), request, response);
      case 'remove': {
        this.#authorize(request);
        if (!await engine.remove(route.name)) throw new EngineError('ERR_UNKNOWN_FUNCTION', `no function named ${JSON.stringify(route.name)} is deployed`);
        return sendJson(response, 200, { removed: true });
      }
      case 'describe': {
        const info = engine.list().find((fn) => fn.name === route.name);
        if (info === undefined) throw new EngineError('ERR_UNKNOWN_FUNCTION', `no function named ${JSON.stringify(route.name)} is deployed`);
        return sendJson(response, 200, { function: info });
      }
      case 'list': return sendJson(response, 200, { functions: engine.list() });
      case 'health': {
        const health = engine.health();
        return sendJson(response, health.ok ? 200 : 503, { ...health, languages: engine.languages, functions: engine.list().length });
      }
      case 'metrics': {
        if (this.#options.metrics === undefined) throw new EngineError('ERR_PROTOCOL', 'metrics are not served by this engine');
        const { contentType, body } = await this.#options.metrics.render();
        response.writeHead(200, ['content-type', contentType, 'content-length', String(Buffer.byteLength(body))]);
        response.end(body);
        return;
      }
      case 'method-not-allowed':
        return sendError(response, { code: 'ERR_PROTOCOL', message: `${request.method} is not allowed on ${url.pathname}; allowed: ${route.allow}` }, undefined, ['allow', route.allow], 405);
      case 'not-found':
        return sendError(response, { code: 'ERR_PROTOCOL', message: `no such endpoint: ${url.pathname} (see doc/http.md)` }, undefined, [], 404);
    }
  }

  async #invoke (name: string, described: InvocationRequest, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const input = await readBody(request, this.#options.maxInputBytes, 'ERR_FRAME_TOO_LARGE', 'the input');
    const controller = new AbortController();
    // 'close' also follows a normal answer; only a close before the answer is the client going away.
    response.once('close', () => { if (!response.writableFinished) controller.abort(new Error('the client disconnected')); });
    const startedAt = performance.now();
    const { metrics } = this.#options;
    // The answer is written from onResult, as the invocation ends, not when the scheduler's turn ends.
    await this.#options.engine.invoke(name, input, {
      signal: controller.signal,
      request: described,
      onResult: (result) => {
        metrics?.observeInvoke(name, (performance.now() - startedAt) / 1000);
        sendResult(response, result);
      },
    });
  }

  async #deploy (name: string, query: URLSearchParams, request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.#authorize(request);
    for (const key of query.keys()) {
      if (!kQueryParameters.has(key)) throw new EngineError('ERR_INVALID_ARGUMENT', `unknown query parameter ${JSON.stringify(key)}; known: ${[...kQueryParameters].join(', ')}`);
    }
    const language = query.get('language');
    if (language === null || language === '') throw new EngineError('ERR_INVALID_ARGUMENT', 'deploy needs the query parameter "language" (e.g. ?language=lua)');
    const budget = budgetFromStrings((key) => query.get(key) ?? undefined, (key) => { const all = query.getAll(key); return all.length > 0 ? all : undefined; },
      (key, text) => new EngineError('ERR_INVALID_ARGUMENT', `query parameter ${key} must be a number: got ${JSON.stringify(text)}`));
    const source = await readBody(request, this.#options.maxSourceBytes, 'ERR_SOURCE_TOO_LARGE', 'the source');
    const controller = new AbortController();
    response.once('close', () => { if (!response.writableFinished) controller.abort(new Error('the client disconnected')); });
    const env = envFromHeaders(request);
    const info = await this.#options.engine.deploy(name, language, source, budget, { signal: controller.signal, ...(env !== undefined ? { env } : {}) });
    sendJson(response, 200, { function: info });
  }

  /** @throws {EngineError} ERR_UNAUTHORIZED without the deploy token, when one is configured. */
  #authorize (request: IncomingMessage): void {
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header);
    assertDeployToken(this.#options.deployToken, match?.[1]?.trim(), 'Authorization: Bearer TOKEN');
  }
}

/** The usage headers, as flat name, value pairs after `first` (node:http's writeHead takes the array as it is). */
function usageHeaders (usage: Usage, version: number, first: string[]): string[] {
  first.push(
    'x-springbok-cpu-ms', String(usage.cpuMs),
    'x-springbok-memory-bytes', String(usage.memoryBytes),
    'x-springbok-net-requests', String(usage.netRequests),
    'x-springbok-net-bytes', String(usage.netBytes),
    'x-springbok-version', String(version),
  );
  // Present, as in the usage itself, only when the invocation used kv or ctx.invoke.
  if (usage.kvReads !== undefined) first.push('x-springbok-kv-reads', String(usage.kvReads), 'x-springbok-kv-writes', String(usage.kvWrites ?? 0), 'x-springbok-kv-bytes', String(usage.kvBytes ?? 0));
  if (usage.calls !== undefined || usage.callsOmitted !== undefined) first.push('x-springbok-invoke-calls', String(callsMade(usage)));
  return first;
}

function sendResult (response: ServerResponse, result: InvokeResult): void {
  if (response.destroyed || response.headersSent) return;
  if (result.ok && result.response !== undefined) return sendResponse(response, result.output, result.response, result.usage, result.version);
  if (result.ok) {
    response.writeHead(200, usageHeaders(result.usage, result.version, ['content-type', 'application/octet-stream', 'content-length', String(result.output.byteLength)]));
    response.end(result.output);
    return;
  }
  sendError(response, result.error, { usage: result.usage, version: result.version, ...(result.logs.length > 0 ? { logs: result.logs } : {}) }, usageHeaders(result.usage, result.version, []));
}

/** The answer a function chose (the Workers format): its status, its headers and ours, its body. */
function sendResponse (response: ServerResponse, body: Uint8Array, chosen: InvocationResponse, usage: Usage, version: number): void {
  const headers = usageHeaders(usage, version, answerHeaders(chosen));
  if (!isBodiless(chosen.status)) headers.push('content-length', String(body.byteLength));
  try {
    response.writeHead(chosen.status, headers);
  } catch (error) {
    // The plugin checked the headers; should node:http still refuse one, the client learns why.
    sendError(response, { code: 'ERR_FUNCTION', message: `the function's response cannot be sent: ${(error as Error).message}` });
    return;
  }
  response.end(isBodiless(chosen.status) ? undefined : body);
}

/** A JSON error answer `{error: {code, message}, usage?, ...}` with the status of its code (or `status`). */
function sendError (response: ServerResponse, error: ErrorRecord, extra: Record<string, unknown> = {}, headers: string[] = [], status = statusForCode(error.code)): void {
  if (response.destroyed || response.headersSent) return;
  if (error.code === 'ERR_QUEUE_FULL') headers.push('retry-after', String(kQueueFullRetryAfterSeconds));
  if (error.code === 'ERR_UNAUTHORIZED') headers.push('www-authenticate', 'Bearer');
  // A refused body may still be arriving: close the connection rather than read it all.
  if (error.code === 'ERR_SOURCE_TOO_LARGE' || error.code === 'ERR_FRAME_TOO_LARGE') headers.push('connection', 'close');
  sendJson(response, status, { error: { code: error.code, message: error.message }, ...extra }, headers);
}

function sendJson (response: ServerResponse, status: number, body: unknown, headers: string[] = []): void {
  if (response.destroyed || response.headersSent) return;
  const text = `${JSON.stringify(body)}\n`;
  headers.push('content-type', 'application/json; charset=utf-8', 'content-length', String(Buffer.byteLength(text)));
  response.writeHead(status, headers);
  response.end(text);
}
