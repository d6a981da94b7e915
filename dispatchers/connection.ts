import type { Socket } from 'node:net';
import type { Engine } from '../engine/index.ts';
import { EngineError, toErrorRecord, type ErrorRecord } from '../engine/errors.ts';
import type { Budget } from '../engine/budget.ts';
import { assertDeployToken } from './deploy-token.ts';
import { decodeHeader, encodeFrame, encodeResult, FrameDecoder, kProtocolVersion, MessageType, stringField, type Frame } from './protocol.ts';

export interface ConnectionLimits {
  readonly maxFrameBytes: number;
  /** Requests of one connection awaiting an answer; past it ERR_QUEUE_FULL. */
  readonly maxInFlightPerConnection: number;
  /** Answer bytes queued for a client that is not reading, past which we stop reading its requests. */
  readonly maxPendingWriteBytes: number;
  /** When set, deploy and remove must carry it as header field "token" (execute, list and stats need none). */
  readonly deployToken: string | undefined;
}

/**
 * One client connection: cuts frames, runs requests concurrently against the engine, writes
 * answers as they finish (matched by id), and cancels the connection's invocations when it closes.
 *
 * Nothing a client sends can throw out of here: a frame that cannot be cut (bad length) gets an
 * ERROR frame with id 0 and the connection is ended; a well-cut but bad request gets an ERROR frame
 * with its id and the connection goes on.
 */
export class Connection {
  readonly #socket: Socket;
  readonly #engine: Engine;
  readonly #limits: ConnectionLimits;
  readonly #decoder: FrameDecoder;
  readonly #inFlight = new Map<number, AbortController>();
  #ending = false;
  #readPaused = false;
  readonly #deferred: Frame[] = [];

  constructor (socket: Socket, engine: Engine, limits: ConnectionLimits) {
    this.#socket = socket;
    this.#engine = engine;
    this.#limits = limits;
    this.#decoder = new FrameDecoder(limits.maxFrameBytes);
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.on('close', this.#onClose);
    // 'error' is always followed by 'close'; without a listener it would be thrown.
    socket.on('error', () => {});
  }

  /**
   * Ends the connection once what was written has gone out (a FIN, not a reset), so answers sent
   * just before still arrive; what is still in flight is cancelled.
   */
  end (): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#socket.end();
    this.#abortAll('the server is closing');
    // A client that never reads our FIN must not hold the socket open for ever.
    setTimeout(() => this.#socket.destroy(), 1000).unref();
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#ending) return;
    let frames: Frame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      this.#endWith(toErrorRecord(error));
      return;
    }
    // Answers given at once (errors, list, refusals under overload) leave in one write per read, not one each.
    this.#socket.cork();
    for (const frame of frames) {
      if (this.#ending) break;
      // While the client is not reading its answers, requests already read wait here instead of running.
      if (this.#readPaused) this.#deferred.push(frame);
      else this.#handle(frame);
    }
    // After the promise reactions of the requests just handled (queued before this one), so their answers are in the batch.
    queueMicrotask(() => this.#socket.uncork());
  };

  #handle (frame: Frame): void {
    if (frame.version !== kProtocolVersion) {
      this.#endWith({ code: 'ERR_PROTOCOL', message: `protocol version ${frame.version} is not spoken here; this engine speaks version ${kProtocolVersion}` });
      return;
    }
    const { id } = frame;
    if (frame.type === MessageType.cancel) {
      this.#cancel(frame);
      return;
    }
    if (this.#inFlight.has(id)) {
      this.#sendError(id, { code: 'ERR_PROTOCOL', message: `request id ${id} is already in flight on this connection` });
      return;
    }
    if (this.#inFlight.size >= this.#limits.maxInFlightPerConnection) {
      this.#sendError(id, { code: 'ERR_QUEUE_FULL', message: `this connection has its maximum of ${this.#limits.maxInFlightPerConnection} requests in flight` });
      return;
    }
    const controller = new AbortController();
    this.#inFlight.set(id, controller);
    let answer: Promise<Buffer | undefined>;
    try {
      answer = this.#dispatch(frame, controller.signal);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then((bytes) => {
      if (bytes === undefined) return;
      this.#inFlight.delete(id);
      this.#send(bytes);
    }, (error: unknown) => {
      this.#inFlight.delete(id);
      this.#sendError(id, toErrorRecord(error));
    });
  }

  /**
   * Runs one request; resolves to its encoded answer, or to undefined when it has answered already.
   * Throws or rejects with EngineError for request errors.
   */
  #dispatch (frame: Frame, signal: AbortSignal): Promise<Buffer | undefined> {
    const { id } = frame;
    const header = decodeHeader(frame);
    switch (frame.type) {
      case MessageType.invoke:
        // The answer is written from onResult, synchronously as the invocation ends, not when the
        // scheduler's turn ends; the promise then only carries request errors.
        return this.#engine.invoke(stringField(header, 'name'), frame.payload, { signal, onResult: (result) => {
          this.#inFlight.delete(id);
          this.#send(encodeResult(id, result));
        } }).then(() => undefined);
      case MessageType.deploy: {
        this.#authorize(header);
        const budget = header.budget;
        if (budget !== undefined && (budget === null || typeof budget !== 'object' || Array.isArray(budget))) throw new EngineError('ERR_PROTOCOL', 'header field "budget" must be an object');
        const env = header.env;
        if (env !== undefined && (env === null || typeof env !== 'object' || Array.isArray(env))) throw new EngineError('ERR_PROTOCOL', 'header field "env" must be an object of strings');
        // The payload is a view into a receive buffer; the registry keeps the source, so it gets its own copy.
        const source = new Uint8Array(frame.payload);
        return this.#engine.deploy(stringField(header, 'name'), stringField(header, 'language'), source, budget as Partial<Budget> | undefined, { signal, ...(env !== undefined ? { env: env as Record<string, string> } : {}) })
          .then((info) => encodeFrame(MessageType.ok, id, { function: info }));
      }
      case MessageType.remove:
        this.#authorize(header);
        return this.#engine.remove(stringField(header, 'name')).then((removed) => encodeFrame(MessageType.ok, id, { removed }));
      case MessageType.list:
        return Promise.resolve(encodeFrame(MessageType.ok, id, { functions: this.#engine.list() }));
      case MessageType.stats:
        return Promise.resolve(encodeFrame(MessageType.ok, id, { stats: this.#engine.stats() }));
      case MessageType.ping:
        return Promise.resolve(encodeFrame(MessageType.ok, id, { protocol: kProtocolVersion, languages: this.#engine.languages }));
      default:
        throw new EngineError('ERR_PROTOCOL', `unknown message type 0x${frame.type.toString(16).padStart(2, '0')}`);
    }
  }

  /** @throws {EngineError} ERR_UNAUTHORIZED when a deploy token is set and the request lacks it. */
  #authorize (header: Record<string, unknown>): void {
    assertDeployToken(this.#limits.deployToken, typeof header.token === 'string' ? header.token : undefined, '--token or SPRINGBOK_TOKEN');
  }

  #cancel (frame: Frame): void {
    let target: unknown;
    try {
      target = decodeHeader(frame).target;
    } catch (error) {
      this.#sendError(frame.id, toErrorRecord(error));
      return;
    }
    if (typeof target !== 'number') {
      this.#sendError(frame.id, { code: 'ERR_PROTOCOL', message: 'cancel needs a numeric header field "target"' });
      return;
    }
    const controller = this.#inFlight.get(target);
    controller?.abort(new Error('cancelled by the client'));
    this.#send(encodeFrame(MessageType.ok, frame.id, { cancelled: controller !== undefined }));
  }

  #sendError (id: number, error: ErrorRecord): void {
    this.#send(encodeFrame(MessageType.error, id, error));
  }

  #send (bytes: Buffer): void {
    if (this.#socket.destroyed || !this.#socket.writable) return;
    this.#socket.write(bytes);
    const pending = this.#socket.writableLength;
    // A client that sends but does not read would make us buffer answers without end. Past the soft
    // limit, stop reading it and running its requests until it drains; answers of requests already
    // running still arrive, and past four times the limit the client is dropped.
    if (pending > 4 * this.#limits.maxPendingWriteBytes) {
      this.#socket.destroy();
    } else if (!this.#readPaused && pending > this.#limits.maxPendingWriteBytes) {
      this.#readPaused = true;
      this.#socket.pause();
    }
  }

  readonly #onDrain = (): void => {
    if (!this.#readPaused) return;
    this.#readPaused = false;
    while (this.#deferred.length > 0 && !this.#readPaused && !this.#ending) this.#handle(this.#deferred.shift()!);
    if (!this.#readPaused) this.#socket.resume();
  };

  /** Answers a fatal framing error and ends the connection; what is in flight is cancelled. */
  #endWith (error: ErrorRecord): void {
    this.#ending = true;
    this.#sendError(0, error);
    this.#socket.end();
    this.#abortAll('the connection was ended after a protocol error');
    // A client that never reads our FIN must not hold the socket open for ever.
    setTimeout(() => this.#socket.destroy(), 2000).unref();
  }

  readonly #onClose = (): void => {
    this.#ending = true;
    this.#abortAll('the client disconnected');
  };

  #abortAll (reason: string): void {
    for (const controller of this.#inFlight.values()) controller.abort(new Error(reason));
  }
}
