import { Worker } from 'node:worker_threads';
import { EngineError, type ErrorRecord } from '../errors.ts';
import type { FromThread, ThreadInit, ThreadSnapshot, ToThread } from './messages.ts';
import { Outbox } from './outbox.ts';
import { readResult, RecordReader, writeInvoke } from './records.ts';
import type { InvokeResult } from '../invocation.ts';
import { HeartbeatWatch } from './heartbeat.ts';
import { PreemptSignal } from '../preemption.ts';
import type { InvocationRequest, LanguageInfo } from '../plugin.ts';
import { CallServer, type RemoteCall } from '../invoke/remote-calls.ts';

const kThreadMain = new URL('./thread-main.ts', import.meta.url);
/** How long a closing thread may take to end its invocations and plugins before it is terminated. */
const kCloseGraceMs = 3000;

/** What a SchedulerThread tells its engine (everything but the answers to its own requests). */
export interface ThreadListener {
  result (id: number, result: InvokeResult): void;
  refused (id: number, error: ErrorRecord): void;
  warning (message: string): void;
  /** An invocation on the thread made a ctx.invoke or kv call: answer it with thread.calls.serve. */
  call (thread: SchedulerThread, id: number, call: RemoteCall): void;
  /** The thread ended without being closed (a fault in it): its invocations are lost. */
  exited (thread: SchedulerThread, reason: string): void;
}

type Request = Extract<ToThread, { request: number }>;
type RequestBody = Request extends infer R ? R extends Request ? Omit<R, 'request'> : never : never;

/**
 * The main thread's handle on one scheduler thread: its worker, its outbox, the requests waiting
 * for an answer, and what dispatch needs to know of it (invocations in flight, live instances).
 */
export class SchedulerThread {
  readonly index: number;
  readonly startedAt = performance.now();
  /** Resolves with the languages the thread runs once its plugins are loaded. */
  readonly ready: Promise<readonly LanguageInfo[]>;
  /** Invocations sent here and not answered: the load that dispatch balances. */
  inFlight = 0;
  /** Functions committed here (compiled, or being compiled): name → version. */
  readonly installed = new Map<string, number>();
  /** Functions with a live sandbox here: name → version. */
  readonly instances = new Map<string, number>();
  /** Functions whose instance here was evicted to stay under the memory ceiling (name → version), until it runs again. */
  readonly evicted = new Map<string, number>();
  /** Versions of functions that failed to compile here (name → version): dispatch sends them elsewhere. */
  readonly broken = new Map<string, number>();
  snapshot: ThreadSnapshot = { scheduler: { lanesReady: 0, tasksWaiting: 0, slices: 0, turns: 0 }, instances: { live: 0, evictions: 0, restores: 0, chargedBytes: 0, ceilingBytes: 0 }, heapUsedBytes: 0, externalBytes: 0 };
  /** The thread's sign of life (heartbeat.ts): the watchdog reads it. */
  readonly heartbeat = new HeartbeatWatch();
  /** The ctx.invoke and kv calls of the thread's invocations being answered here. */
  readonly calls = new CallServer();
  /** Raised as an invocation is sent: the thread's slice in progress ends at its next clock check. */
  readonly #preempt = new PreemptSignal();
  /** True once the thread's plugins are loaded (before that it beats irregularly and runs nothing). */
  isReady = false;
  /** Set by the engine's watchdog (every quarter second): the heartbeat has stood still for kThreadStalledMs. Dispatch reads it. */
  stalled = false;
  readonly #worker: Worker;
  readonly #outbox: Outbox<ToThread>;
  readonly #listener: ThreadListener;
  readonly #requests = new Map<number, { resolve: () => void, reject: (error: EngineError) => void }>();
  #nextRequest = 1;
  #closing = false;
  #exited = false;
  #closed!: () => void;
  readonly #closedMessage = new Promise<void>((resolve) => { this.#closed = resolve; });

  constructor (init: Omit<ThreadInit, 'heartbeat' | 'preempt'>, listener: ThreadListener) {
    this.index = init.index;
    this.#listener = listener;
    this.#worker = new Worker(kThreadMain, { workerData: { ...init, heartbeat: this.heartbeat.buffer, preempt: this.#preempt.buffer } satisfies ThreadInit, stdout: false, stderr: false });
    this.#outbox = new Outbox(this.#worker, Infinity);
    let onReady!: (languages: readonly LanguageInfo[]) => void;
    let onFail!: (error: Error) => void;
    this.ready = new Promise((resolve, reject) => { onReady = resolve; onFail = reject; });
    this.ready.catch(() => {});
    this.#worker.on('message', (batch: FromThread[]) => {
      for (const message of batch) {
        if (message.t === 'ready') {
          this.isReady = true;
          onReady(message.languages);
        } else {
          this.#receive(message);
        }
      }
    });
    this.#worker.on('error', (error: Error) => { onFail(error); this.#end(`it failed: ${error.message}`); });
    this.#worker.on('exit', (code) => { onFail(new Error(`scheduler thread ${this.index} exited with code ${code} before it was ready`)); this.#end(`it exited with code ${code}`); });
  }

  post (message: ToThread): void {
    if (this.#exited) return;
    this.#outbox.send(message);
  }

  /** Sends an invocation (as a record: records.ts). */
  invoke (id: number, name: string, input: Uint8Array, request: InvocationRequest | undefined, depth: number): void {
    if (this.#exited) return;
    writeInvoke(this.#outbox.records, id, performance.timeOrigin + performance.now(), name, input, request, depth);
    this.#outbox.wrote();
    this.#preempt.request();
  }

  /** Sends a request and resolves when the thread has done it. @throws {EngineError} the thread's error, or ERR_INTERNAL if it ends first. */
  request (body: RequestBody): Promise<void> {
    if (this.#exited) return Promise.reject(new EngineError('ERR_INTERNAL', `scheduler thread ${this.index} has stopped`));
    const request = this.#nextRequest++;
    return new Promise((resolve, reject) => {
      this.#requests.set(request, { resolve, reject });
      this.#outbox.send({ ...body, request });
    });
  }

  get accepting (): boolean {
    return !this.#exited && !this.#closing;
  }

  /** Ends the thread's invocations (ERR_CLOSED) and plugins, then the thread; terminates it if that takes too long. */
  async close (): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#exited) return;
    this.#outbox.send({ t: 'close' });
    const grace = new Promise<void>((resolve) => setTimeout(resolve, kCloseGraceMs).unref());
    await Promise.race([this.#closedMessage, grace]);
    await this.#worker.terminate();
  }

  /**
   * Gives up on a thread that stopped answering: it is terminated without waiting (a thread stuck
   * in native code may never finish terminating) and reported as exited, so its invocations fail
   * and a new thread takes its place; anything it says later is ignored.
   */
  abandon (reason: string): void {
    if (this.#exited) return;
    this.#worker.removeAllListeners('message');
    this.#worker.terminate().catch(() => {});
    this.#end(reason);
  }

  #receive (message: FromThread): void {
    switch (message.t) {
      case 'records': {
        const reader = new RecordReader(message.buffer, message.length);
        while (!reader.done) {
          const { id, result } = readResult(reader);
          this.#listener.result(id, result);
        }
        break;
      }
      case 'refused':
        this.#listener.refused(message.id, message.error);
        break;
      case 'call':
        this.#listener.call(this, message.id, message.call);
        break;
      case 'call-cancel':
        this.calls.cancel(message.id, message.message);
        break;
      case 'done': {
        const waiting = this.#requests.get(message.request);
        this.#requests.delete(message.request);
        if (message.error === undefined) waiting?.resolve();
        else waiting?.reject(toEngineError(message.error));
        break;
      }
      case 'instance':
        if (message.live) {
          this.instances.set(message.name, message.version);
          this.evicted.delete(message.name);
        } else {
          if (this.instances.get(message.name) === message.version) this.instances.delete(message.name);
          if (message.end === 'evicted') this.evicted.set(message.name, message.version);
        }
        break;
      case 'snapshot':
        this.snapshot = message.snapshot;
        break;
      case 'warning':
        this.#listener.warning(message.message);
        break;
      case 'closed':
        this.#closed();
        break;
    }
  }

  #end (reason: string): void {
    if (this.#exited) return;
    this.#exited = true;
    this.#closed();
    for (const waiting of this.#requests.values()) waiting.reject(new EngineError('ERR_INTERNAL', `scheduler thread ${this.index} stopped: ${reason}`));
    this.#requests.clear();
    this.calls.cancelAll(`scheduler thread ${this.index} stopped: ${reason}`);
    this.instances.clear();
    this.evicted.clear();
    this.installed.clear();
    if (!this.#closing) this.#listener.exited(this, reason);
  }
}

function toEngineError (error: ErrorRecord): EngineError {
  return new EngineError(error.code, error.message);
}
