import { errors, type NatsConnection } from '@nats-io/nats-core';
import { invokeResultFromFrame, type ClientInvokeResult } from '../../dispatchers/client.ts';
import { FrameDecoder } from '../../dispatchers/protocol.ts';
import { EngineError } from '../errors.ts';
import { connectCluster } from './connection.ts';
import { invokeSubject } from './names.ts';
import { kDefaultClusterTimeoutMs } from './servers.ts';

/**
 * A client of a springbok cluster: invocations go through NATS to whichever engine the queue group
 * picks, so no engine's socket is needed. Answers are the engine's, as over the socket; what NATS
 * itself reports becomes a code too, never silence: no engine subscribed (all saturated, or none
 * running) for about half a second is ERR_QUEUE_FULL, no answer within the timeout (the engine that took the call died, or
 * the call outlived the timeout) is ERR_CONNECTION.
 */
export class ClusterClient {
  readonly #connection: NatsConnection;
  readonly #timeoutMs: number;

  private constructor (connection: NatsConnection, timeoutMs: number) {
    this.#connection = connection;
    this.#timeoutMs = timeoutMs;
  }

  /** @throws {EngineError} ERR_CONNECTION when no NATS server answers. */
  static async connect (servers: string, options: { timeoutMs?: number } = {}): Promise<ClusterClient> {
    return new ClusterClient(await connectCluster(servers, 'springbok client'), options.timeoutMs ?? kDefaultClusterTimeoutMs);
  }

  /** Runs one invocation on some engine of the cluster; request errors reject with EngineError, as SpringbokClient's do. */
  async invoke (name: string, input: Uint8Array | string = new Uint8Array(0)): Promise<ClientInvokeResult> {
    // A dot at the end would make an empty token, which no subject may have.
    if (name.endsWith('.')) throw new EngineError('ERR_INVALID_ARGUMENT', `function ${JSON.stringify(name)} ends in a dot: it cannot be called through NATS (deploy it under another name)`);
    const payload = typeof input === 'string' ? Buffer.from(input) : input;
    let data: Uint8Array | undefined;
    for (let attempt = 0; data === undefined; attempt++) {
      try {
        data = (await this.#connection.request(invokeSubject(name), payload, { timeout: this.#timeoutMs })).data;
      } catch (error) {
        // No engine subscribed: often for a moment only (engines reconnecting after a NATS server
        // went away, or about to take calls again under their limit), so it is asked again a few times.
        const delayMs = kNoResponderDelaysMs[attempt];
        if (!isNoResponders(error) || delayMs === undefined) throw requestError(error, name, this.#timeoutMs);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
    const frames = new FrameDecoder(2 ** 31).push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    if (frames.length !== 1) throw new EngineError('ERR_PROTOCOL', `an engine answered ${frames.length} frames where one was expected`);
    return invokeResultFromFrame(frames[0]!);
  }

  /** Closes the connection once what it sent has gone out. */
  async close (): Promise<void> {
    await this.#connection.drain().catch(() => {});
  }

  [Symbol.asyncDispose] (): Promise<void> {
    return this.close();
  }
}

/** The pauses before asking again when no engine subscribed, in ms: about half a second in all. */
const kNoResponderDelaysMs = [25, 50, 100, 150, 200];

function isNoResponders (error: unknown): boolean {
  return error instanceof errors.NoRespondersError || (error as { cause?: unknown }).cause instanceof errors.NoRespondersError;
}

function requestError (error: unknown, name: string, timeoutMs: number): EngineError {
  const cause = (error as { cause?: unknown }).cause;
  if (isNoResponders(error)) {
    return new EngineError('ERR_QUEUE_FULL', `no engine takes calls of ${name} now: every engine is at its limit of calls in flight, or none is running`);
  }
  if (error instanceof errors.TimeoutError || cause instanceof errors.TimeoutError) {
    return new EngineError('ERR_CONNECTION', `no answer within ${timeoutMs} ms: the engine that took the call stopped, or the call outlasted the timeout`);
  }
  return new EngineError('ERR_CONNECTION', `the cluster request failed: ${(error as Error).message}`);
}
