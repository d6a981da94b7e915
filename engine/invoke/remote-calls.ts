import { EngineError, type ErrorRecord } from '../errors.ts';
import type { InvokeResult } from '../invocation.ts';
import type { KvReply, KvRequest } from '../kv/kv-types.ts';
import type { EngineCalls } from './engine-calls.ts';

/** A ctx.invoke or kv call as it crosses from a scheduler thread to the main thread. */
export type RemoteCall =
  | { readonly kind: 'invoke', readonly name: string, readonly input: Uint8Array, readonly depth: number }
  | { readonly kind: 'kv', readonly request: KvRequest };

/** The main thread's answer to a RemoteCall. */
export type RemoteAnswer =
  | { readonly ok: true, readonly value: InvokeResult | KvReply }
  | { readonly ok: false, readonly error: ErrorRecord };

/** What a scheduler thread says about its calls (messages.ts FromThread). */
export type CallMessage =
  | { readonly t: 'call', readonly id: number, readonly call: RemoteCall }
  | { readonly t: 'call-cancel', readonly id: number, readonly message: string };

interface Waiting {
  readonly resolve: (value: InvokeResult | KvReply) => void;
  readonly reject: (error: EngineError) => void;
}

/**
 * A scheduler thread's EngineCalls: each call is a message to the main thread's control plane
 * (which answers with `answer`), so a callee runs on whichever thread dispatch picks and kv has one
 * store for the whole engine. An aborted invoke sends a cancel.
 */
export class RemoteCalls implements EngineCalls {
  readonly #send: (message: CallMessage) => void;
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 1;
  #closed = false;

  constructor (send: (message: CallMessage) => void) {
    this.#send = send;
  }

  invoke (name: string, input: Uint8Array, depth: number, signal: AbortSignal): Promise<InvokeResult> {
    return this.#call({ kind: 'invoke', name, input, depth }, signal) as Promise<InvokeResult>;
  }

  kv (request: KvRequest): Promise<KvReply> {
    return this.#call({ kind: 'kv', request }, undefined) as Promise<KvReply>;
  }

  /** The main thread answered call `id`. */
  answer (id: number, answer: RemoteAnswer): void {
    const waiting = this.#waiting.get(id);
    if (waiting === undefined) return;
    this.#waiting.delete(id);
    if (answer.ok) waiting.resolve(answer.value);
    else waiting.reject(new EngineError(answer.error.code, answer.error.message));
  }

  /** The thread is closing: calls still waiting fail. */
  close (): void {
    this.#closed = true;
    for (const waiting of this.#waiting.values()) waiting.reject(new EngineError('ERR_CLOSED', 'the engine is closing'));
    this.#waiting.clear();
  }

  #call (call: RemoteCall, signal: AbortSignal | undefined): Promise<InvokeResult | KvReply> {
    if (this.#closed) return Promise.reject(new EngineError('ERR_CLOSED', 'the engine is closing'));
    if (signal?.aborted === true) return Promise.reject(new EngineError('ERR_CANCELLED', 'the caller ended'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => this.#send({ t: 'call-cancel', id, message: 'the caller ended' });
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      this.#waiting.set(id, {
        resolve: (value) => { done(); resolve(value); },
        reject: (error) => { done(); reject(error); },
      });
      this.#send({ t: 'call', id, call });
    });
  }
}

/**
 * The main thread's side: runs one thread's calls on the control plane's EngineCalls and keeps
 * each running invoke's controller, so a cancel from the thread reaches it.
 */
export class CallServer {
  readonly #running = new Map<number, AbortController>();

  /** Runs `call` and answers through `reply` (never rejects). */
  serve (calls: EngineCalls, id: number, call: RemoteCall, reply: (id: number, answer: RemoteAnswer) => void): void {
    let running: Promise<InvokeResult | KvReply>;
    if (call.kind === 'invoke') {
      const controller = new AbortController();
      this.#running.set(id, controller);
      running = calls.invoke(call.name, call.input, call.depth, controller.signal).finally(() => this.#running.delete(id));
    } else {
      running = calls.kv(call.request);
    }
    running.then(
      (value) => reply(id, { ok: true, value }),
      (error: unknown) => reply(id, { ok: false, error: error instanceof EngineError ? error.toRecord() : { code: 'ERR_INTERNAL', message: error instanceof Error ? error.message : String(error) } }),
    );
  }

  cancel (id: number, message: string): void {
    this.#running.get(id)?.abort(new Error(message));
  }

  /** The thread is gone: the calls its invocations made end with them. */
  cancelAll (message: string): void {
    for (const controller of this.#running.values()) controller.abort(new Error(message));
    this.#running.clear();
  }
}
