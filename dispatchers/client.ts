import { createConnection, type Socket } from 'node:net';
import type { Budget, Usage } from '../engine/budget.ts';
import type { EngineStats, FunctionInfo } from '../engine/engine-types.ts';
import { EngineError, type ErrorRecord } from '../engine/errors.ts';
import type { ClusterClient } from '../engine/cluster/cluster-client.ts';
import { decodeHeader, encodeFrame, errorFromHeader, FrameDecoder, MessageType, type Frame, type MessageTypeCode } from './protocol.ts';

/** Where the engine listens: a unix socket path, or a TCP host and port. */
export type EngineAddress = { readonly socketPath: string } | { readonly host: string, readonly port: number };

/** An invocation's answer as the client receives it. */
export type ClientInvokeResult =
  | { readonly ok: true, readonly output: Buffer, readonly usage: Usage, readonly logs: readonly string[], readonly version: number }
  | { readonly ok: false, readonly error: ErrorRecord, readonly usage: Usage, readonly logs: readonly string[], readonly version: number };

interface Pending {
  readonly resolve: (frame: Frame) => void;
  readonly reject: (error: EngineError) => void;
}

/**
 * A pipelined client of the wire protocol: any number of requests in flight on one connection,
 * answers matched by id. Request errors from the engine reject with {@link EngineError} carrying
 * the engine's code; a lost connection rejects what is pending with ERR_CONNECTION.
 */
export class SpringbokClient {
  readonly #socket: Socket;
  readonly #decoder = new FrameDecoder(2 ** 31);
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closedError: EngineError | undefined;

  /** Sent with deploy and remove, for engines that require a deploy token. */
  readonly #token: string | undefined;

  private constructor (socket: Socket, token: string | undefined) {
    this.#socket = socket;
    this.#token = token;
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = this.#decoder.push(chunk);
      } catch (error) {
        this.#fail(new EngineError('ERR_PROTOCOL', `bad frame from the engine: ${(error as Error).message}`));
        socket.destroy();
        return;
      }
      for (const frame of frames) this.#onFrame(frame);
    });
    socket.on('error', (error) => this.#fail(new EngineError('ERR_CONNECTION', `connection to the engine failed: ${error.message}`)));
    socket.on('close', () => this.#fail(new EngineError('ERR_CONNECTION', 'the engine closed the connection')));
  }

  /** @throws {EngineError} ERR_CONNECTION when nothing answers at `address`. */
  static connect (address: EngineAddress, options: { token?: string } = {}): Promise<SpringbokClient> {
    return new Promise((resolve, reject) => {
      const socket = 'socketPath' in address ? createConnection(address.socketPath) : createConnection(address.port, address.host);
      const where = 'socketPath' in address ? address.socketPath : `${address.host}:${address.port}`;
      socket.once('error', (error) => reject(new EngineError('ERR_CONNECTION', `cannot reach an engine at ${where}: ${error.message}`)));
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        socket.setNoDelay?.(true);
        resolve(new SpringbokClient(socket, options.token));
      });
    });
  }

  /** Requests awaiting an answer. */
  get inFlight (): number { return this.#pending.size; }

  /** Deploys a function; `env` is its deploy-time variables (never logged; list shows their names only). */
  async deploy (name: string, language: string, source: Uint8Array, budget?: Partial<Budget>, env?: Readonly<Record<string, string>>): Promise<FunctionInfo> {
    const header = decodeHeader(await this.#request(MessageType.deploy, { name, language, ...(budget !== undefined ? { budget } : {}), ...(env !== undefined ? { env } : {}), ...this.#tokenField() }, source));
    return header.function as FunctionInfo;
  }

  /** Runs one invocation. Aborting `signal` asks the engine to cancel it (the answer is then ERR_CANCELLED). */
  async invoke (name: string, input: Uint8Array | string = new Uint8Array(0), options: { signal?: AbortSignal } = {}): Promise<ClientInvokeResult> {
    const payload = typeof input === 'string' ? Buffer.from(input) : input;
    return invokeResultFromFrame(await this.#request(MessageType.invoke, { name }, payload, options.signal));
  }

  async remove (name: string): Promise<boolean> {
    return decodeHeader(await this.#request(MessageType.remove, { name, ...this.#tokenField() })).removed === true;
  }

  async list (): Promise<FunctionInfo[]> {
    return decodeAnswer(await this.#request(MessageType.list, {})).functions as FunctionInfo[];
  }

  async stats (): Promise<EngineStats> {
    return decodeAnswer(await this.#request(MessageType.stats, {})).stats as EngineStats;
  }

  async ping (): Promise<{ protocol: number, languages: string[] }> {
    return decodeHeader(await this.#request(MessageType.ping, {})) as { protocol: number, languages: string[] };
  }

  /** Closes the connection; the engine cancels this connection's invocations still in flight. */
  close (): Promise<void> {
    if (this.#socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.end();
    });
  }

  [Symbol.asyncDispose] (): Promise<void> {
    return this.close();
  }

  #tokenField (): { token?: string } {
    return this.#token === undefined ? {} : { token: this.#token };
  }

  #request (type: MessageTypeCode, header: unknown, payload?: Uint8Array, signal?: AbortSignal): Promise<Frame> {
    if (this.#closedError !== undefined) return Promise.reject(this.#closedError);
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffff_fffe ? 1 : this.#nextId + 1;
    return new Promise<Frame>((resolve, reject) => {
      if (signal === undefined) {
        this.#pending.set(id, { resolve, reject });
      } else {
        const onAbort = (): void => { this.#socket.write(encodeFrame(MessageType.cancel, this.#allocateControlId(), { target: id })); };
        const settle = (): void => signal.removeEventListener('abort', onAbort);
        this.#pending.set(id, { resolve: (frame) => { settle(); resolve(frame); }, reject: (error) => { settle(); reject(error); } });
        if (signal.aborted) queueMicrotask(onAbort);
        else signal.addEventListener('abort', onAbort, { once: true });
      }
      this.#socket.write(encodeFrame(type, id, header, payload));
    });
  }

  /** Control messages (cancel) get ids whose answers nobody awaits; they are dropped on arrival. */
  #allocateControlId (): number {
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffff_fffe ? 1 : this.#nextId + 1;
    return id;
  }

  #onFrame (frame: Frame): void {
    const pending = this.#pending.get(frame.id);
    if (pending === undefined) {
      if (frame.id === 0 && frame.type === MessageType.error) {
        // The engine gave up on the connection as a whole (e.g. a frame over its size limit).
        const error = errorFromHeader(safeHeader(frame));
        this.#fail(new EngineError(error.code, error.message));
      }
      return;
    }
    this.#pending.delete(frame.id);
    if (frame.type === MessageType.error) {
      const error = errorFromHeader(safeHeader(frame));
      pending.reject(new EngineError(error.code, error.message));
    } else {
      pending.resolve(frame);
    }
  }

  #fail (error: EngineError): void {
    this.#closedError ??= error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}

/**
 * Connects to a springbok cluster through its NATS servers (comma-separated nats:// URLs): invoke
 * reaches whichever engine takes the call (engine/cluster/cluster-client.ts). The NATS client is
 * loaded here, on first use, so a program that never calls this does not load it.
 * @throws {EngineError} ERR_CONNECTION when no NATS server answers.
 */
export async function connectCluster (servers: string, options: { timeoutMs?: number } = {}): Promise<ClusterClient> {
  const { ClusterClient } = await import('../engine/cluster/cluster-client.ts');
  return ClusterClient.connect(servers, options);
}

/**
 * An invocation's answer frame as a result; an error frame (a refused request) throws
 * EngineError with the engine's code. The socket and the cluster carry the same frames.
 */
export function invokeResultFromFrame (frame: Frame): ClientInvokeResult {
  if (frame.type === MessageType.error) {
    const error = errorFromHeader(safeHeader(frame));
    throw new EngineError(error.code, error.message);
  }
  const header = decodeHeader(frame);
  const usage = header.usage as Usage;
  const logs = Array.isArray(header.logs) ? header.logs as string[] : [];
  const version = typeof header.version === 'number' ? header.version : 0;
  if (header.ok === true) return { ok: true, output: frame.payload, usage, logs, version };
  return { ok: false, error: errorFromHeader(header.error as Record<string, unknown>), usage, logs, version };
}

function safeHeader (frame: Frame): Record<string, unknown> {
  try { return decodeHeader(frame); } catch { return {}; }
}

/** An answer's header: as large as its frame (a list of thousands of functions is over the request limit). */
function decodeAnswer (frame: Frame): Record<string, unknown> {
  return decodeHeader(frame, Infinity);
}
