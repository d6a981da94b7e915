import { emptyUsage, type Budget, type Usage } from './budget.ts';
import { EngineError, type ErrorRecord } from './errors.ts';
import { outboundFetch, type NetworkMeter, type NetworkPolicy } from './network/outbound-fetch.ts';
import type { TokenBucket } from './network/token-bucket.ts';
import type { FetchRequest, FetchResponse, Fiber, InvocationContext, InvocationRequest, InvocationResponse } from './plugin.ts';
import type { EngineCalls } from './invoke/engine-calls.ts';
import { OutgoingCalls } from './invoke/outgoing-calls.ts';
import type { KvOperation, KvReply } from './kv/kv-types.ts';
import type { Lane, Task, TaskOutcome, TaskState } from './scheduler.ts';

/**
 * The result of one invocation. A failed function is a result too, never a throw. `response` is
 * the HTTP status and headers a function chose for its output (the JavaScript Workers format).
 */
export type InvokeResult =
  | { readonly ok: true, readonly output: Uint8Array, readonly usage: Usage, readonly logs: readonly string[], readonly version: number, readonly response?: InvocationResponse | undefined }
  | { readonly ok: false, readonly error: ErrorRecord, readonly usage: Usage, readonly logs: readonly string[], readonly version: number };

export interface InvocationLimits {
  readonly maxOutputBytes: number;
  readonly maxLogBytes: number;
}

/** The network side of an invocation: the engine's policy and the function's shared rate limit. */
export interface InvocationNetwork {
  readonly policy: NetworkPolicy;
  readonly bucket: TokenBucket | undefined;
}

/**
 * One accepted invocation, from acceptance to result: owns its wall-clock deadline, its
 * cancellation listener and its bounded log, and is the Task the scheduler runs.
 * finish() is the single exit: it runs once, whoever calls it first.
 */
export class Invocation implements Task, InvocationContext {
  readonly lane: Lane;
  readonly budget: Budget;
  readonly cpuBudgetMs: number;
  readonly version: number;
  readonly result: Promise<InvokeResult>;
  readonly request: InvocationRequest | undefined;
  fiber!: Fiber;
  cpuMs = 0;
  peakMemoryBytes = 0;
  state: TaskState = 'queued';
  readonly #limits: InvocationLimits;
  readonly #logs: string[] = [];
  #logBytes = 0;
  #resolve!: (result: InvokeResult) => void;
  readonly #deadline: NodeJS.Timeout;
  readonly #signal: AbortSignal | undefined;
  readonly #onResult: ((result: InvokeResult) => void) | undefined;
  readonly #onSettled: (invocation: Invocation, result: InvokeResult) => void;
  readonly #network: InvocationNetwork;
  /** Created by the first fetch, so invocations that make none pay nothing. */
  #meter: (NetworkMeter & { readonly controller: AbortController }) | undefined;
  /** ctx.invoke and kv: the engine's side (undefined: an executor that offers none), and this invocation's calls, made by the first. */
  readonly #engineCalls: EngineCalls | undefined;
  readonly #depth: number;
  #outgoing: OutgoingCalls | undefined;

  constructor (lane: Lane, budget: Budget, version: number, limits: InvocationLimits, network: InvocationNetwork, engineCalls: EngineCalls | undefined, caller: { readonly signal?: AbortSignal | undefined, readonly onResult?: (result: InvokeResult) => void, readonly acceptedMsAgo?: number | undefined, readonly request?: InvocationRequest | undefined, readonly depth?: number | undefined }, onSettled: (invocation: Invocation, result: InvokeResult) => void) {
    this.lane = lane;
    this.budget = budget;
    this.cpuBudgetMs = budget.cpuMs;
    this.version = version;
    this.#limits = limits;
    this.#network = network;
    this.#onSettled = onSettled;
    this.result = new Promise((resolve) => { this.#resolve = resolve; });
    this.#deadline = setTimeout(this.#expire, Math.max(0, budget.wallMs - (caller.acceptedMsAgo ?? 0)));
    this.#signal = caller.signal;
    this.#onResult = caller.onResult;
    this.request = caller.request;
    this.#engineCalls = engineCalls;
    this.#depth = caller.depth ?? 0;
    this.#signal?.addEventListener('abort', this.#abort, { once: true });
  }

  log (line: string): void {
    if (this.#logBytes > this.#limits.maxLogBytes) return;
    this.#logBytes += Buffer.byteLength(line) + 1;
    if (this.#logBytes > this.#limits.maxLogBytes) {
      this.#logs.push(`[log truncated at ${this.#limits.maxLogBytes} bytes]`);
    } else {
      this.#logs.push(line);
    }
  }

  fetch (request: FetchRequest): Promise<FetchResponse> {
    if (this.state === 'settled') return Promise.reject(new EngineError('ERR_CANCELLED', 'the invocation has ended'));
    if (this.#meter === undefined) {
      const controller = new AbortController();
      this.#meter = { budget: this.budget, requests: 0, bytes: 0, bucket: this.#network.bucket, signal: controller.signal, breach: undefined, controller };
    }
    return outboundFetch(request, this.#meter, this.#network.policy);
  }

  invoke (name: string, input: Uint8Array): Promise<Uint8Array> {
    const outgoing = this.#outgoingCalls();
    return outgoing instanceof OutgoingCalls ? outgoing.invoke(name, input) : Promise.reject(outgoing);
  }

  kv (operation: KvOperation): Promise<KvReply> {
    const outgoing = this.#outgoingCalls();
    return outgoing instanceof OutgoingCalls ? outgoing.kv(operation) : Promise.reject(outgoing);
  }

  #outgoingCalls (): OutgoingCalls | EngineError {
    if (this.state === 'settled') return new EngineError('ERR_CANCELLED', 'the invocation has ended');
    if (this.#engineCalls === undefined) return new EngineError('ERR_INTERNAL', 'this executor offers no ctx.invoke or kv');
    this.#outgoing ??= new OutgoingCalls(this.#engineCalls, this.lane.name, this.budget, this.#depth);
    return this.#outgoing;
  }

  /** Ends the invocation with an error from outside the scheduler (deadline, cancel, close). */
  abandon (error: ErrorRecord): void {
    if (this.state === 'settled') return;
    this.fiber?.cancel(error);
    this.finish({ ok: false, error });
  }

  finish (outcome: TaskOutcome): void {
    if (this.state === 'settled') return;
    this.state = 'settled';
    clearTimeout(this.#deadline);
    this.#signal?.removeEventListener('abort', this.#abort);
    const usage = emptyUsage();
    usage.cpuMs = Math.round((this.cpuMs + (this.fiber?.offThreadCpuMs ?? 0)) * 1000) / 1000;
    usage.memoryBytes = this.peakMemoryBytes;
    const meter = this.#meter;
    if (meter !== undefined) {
      meter.controller.abort();
      usage.netRequests = meter.requests;
      usage.netBytes = meter.bytes;
      // A function that failed after a request was denied failed because of its network budget.
      if (!outcome.ok && meter.breach !== undefined && (outcome.error.code === 'ERR_FUNCTION' || outcome.error.code === 'ERR_TRAP')) {
        outcome = { ok: false, error: { code: 'ERR_NETWORK_BUDGET', message: `${meter.breach.message} (the function then failed: ${outcome.error.message})` } };
      }
    }
    if (this.#outgoing !== undefined) outcome = this.#outgoing.end(usage, outcome);
    let result: InvokeResult;
    if (outcome.ok && outcome.output.byteLength > this.#limits.maxOutputBytes) {
      result = { ok: false, error: { code: 'ERR_OUTPUT_TOO_LARGE', message: `output of ${outcome.output.byteLength} bytes is over the limit of ${this.#limits.maxOutputBytes}` }, usage, logs: this.#logs, version: this.version };
    } else if (outcome.ok) {
      result = { ok: true, output: outcome.output, usage, logs: this.#logs, version: this.version, ...(outcome.response !== undefined ? { response: outcome.response } : {}) };
    } else {
      result = { ok: false, error: outcome.error, usage, logs: this.#logs, version: this.version };
    }
    this.#onSettled(this, result);
    // The control plane's listener, which guards the caller's own (control-plane.ts).
    this.#onResult?.(result);
    this.#resolve(result);
  }

  readonly #expire = (): void => {
    this.abandon({ code: 'ERR_WALL_TIMEOUT', message: `wall-clock budget of ${this.budget.wallMs} ms passed` });
  };

  readonly #abort = (): void => {
    const reason: unknown = this.#signal?.reason;
    const detail = reason instanceof Error ? `: ${reason.message}` : '';
    this.abandon({ code: 'ERR_CANCELLED', message: `invocation cancelled by its caller${detail}` });
  };
}
