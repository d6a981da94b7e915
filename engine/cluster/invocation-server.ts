import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import { encodeFrame, encodeResult, MessageType } from '../../dispatchers/protocol.ts';
import type { Engine } from '../engine.ts';
import { toErrorRecord, type ErrorRecord } from '../errors.ts';
import type { InvokeResult } from '../invocation.ts';
import { kEngineQueue, kInvokeSubjectPrefix } from './names.ts';

/** Below this share of its limit a paused engine takes calls again: resubscribing at every call that ends would flap. */
const kResumeShare = 0.9;

/**
 * Serves the invocations of the cluster on this engine: one queue-group subscription on
 * springbok.invoke.> (the function's name is the rest of the subject), shared by every engine, so
 * NATS hands each request to one of them. The request's data is the input; the reply is one frame
 * of the wire protocol (doc/protocol.md): a result, or an error for a request the engine refused.
 *
 * An engine at its limit of calls in flight stops taking from the queue: it drains its
 * subscription, so NATS sends the next requests to the engines that still subscribe, and takes
 * calls again once it is back under 90% of the limit. A request that reached it in between is
 * answered ERR_QUEUE_FULL at once; a request no engine subscribes for gets NATS's "no responders"
 * at once, which the client, after asking again for half a second, reports as ERR_QUEUE_FULL. So a saturated cluster answers quickly and
 * builds no backlog anywhere.
 */
export class InvocationServer {
  readonly #connection: NatsConnection;
  readonly #engine: Engine;
  readonly #limit: number;
  #subscription: Subscription | undefined;
  #inFlight = 0;
  #stopped = false;

  private constructor (connection: NatsConnection, engine: Engine, limit: number) {
    this.#connection = connection;
    this.#engine = engine;
    this.#limit = limit;
  }

  /** Starts taking invocations; at most `limit` of them in flight at once. */
  static async start (connection: NatsConnection, engine: Engine, limit: number): Promise<InvocationServer> {
    const server = new InvocationServer(connection, engine, limit);
    server.#subscribe();
    // The server has the subscription once it answered a ping after it: only then does a request find this engine.
    await connection.flush();
    return server;
  }

  /** Invocations taken over NATS and not yet answered. */
  get inFlight (): number { return this.#inFlight; }

  /** Whether this engine takes calls from the queue now (false while saturated or stopped). */
  get taking (): boolean { return this.#subscription !== undefined; }

  /** Takes no more calls; those already received are still answered. */
  async stop (): Promise<void> {
    this.#stopped = true;
    await this.#pause();
  }

  #subscribe (): void {
    this.#subscription = this.#connection.subscribe(`${kInvokeSubjectPrefix}>`, { queue: kEngineQueue, callback: (error, message) => {
      if (error === null) this.#onRequest(message);
    } });
  }

  async #pause (): Promise<void> {
    const subscription = this.#subscription;
    this.#subscription = undefined;
    // drain, not unsubscribe: requests the server sent before it saw the UNSUB are still answered.
    await subscription?.drain().catch(() => {});
  }

  #onRequest (message: Msg): void {
    if (this.#inFlight >= this.#limit) {
      answerError(message, { code: 'ERR_QUEUE_FULL', message: `the engine has its maximum of ${this.#limit} cluster invocations in flight` });
      return;
    }
    this.#inFlight++;
    if (this.#inFlight >= this.#limit) void this.#pause();
    const name = message.subject.slice(kInvokeSubjectPrefix.length);
    // The answer goes from onResult, as the invocation ends, not when the scheduler's turn ends.
    this.#engine.invoke(name, message.data, { onResult: (result) => answerResult(message, result) })
      .then(() => this.#ended(), (error: unknown) => {
        answerError(message, toErrorRecord(error));
        this.#ended();
      });
  }

  #ended (): void {
    this.#inFlight--;
    if (this.#subscription === undefined && !this.#stopped && this.#inFlight <= Math.floor(this.#limit * kResumeShare)) this.#subscribe();
  }
}

function answerResult (message: Msg, result: InvokeResult): void {
  respond(message, encodeResult(0, result));
}

function answerError (message: Msg, error: ErrorRecord): void {
  respond(message, encodeFrame(MessageType.error, 0, { code: error.code, message: error.message }));
}

function respond (message: Msg, frame: Uint8Array): void {
  // A caller that gave up (its connection closed) or a connection closing: nobody is left to tell.
  try { message.respond(frame); } catch { /* see above */ }
}
