import { emptyUsage, type Budget, type Usage } from '../budget.ts';
import { EngineError, toErrorRecord, type ErrorRecord } from '../errors.ts';
import type { TaskOutcome } from '../scheduler.ts';
import type { KvOperation, KvReply, KvRequest } from '../kv/kv-types.ts';
import { checkValue, keyBytes, kMaxListKeys, namespaceFor } from '../kv/kv-limits.ts';
import { CallList } from './call-list.ts';
import type { EngineCalls } from './engine-calls.ts';
import { checkCall } from './invoke-policy.ts';
import { assertFunctionName } from '../names.ts';

/**
 * One invocation's ctx.invoke and kv calls: checks each against the function's deploy, sends it
 * to the engine, counts it, and adds what it counted to the invocation's usage at the end. Made by
 * the first such call, so invocations that make none pay nothing.
 */
export class OutgoingCalls {
  readonly #engine: EngineCalls;
  readonly #caller: string;
  readonly #budget: Budget;
  readonly #depth: number;
  /** Aborted when the invocation ends: its calls still running are cancelled. */
  readonly #ended = new AbortController();
  readonly #calls = new CallList();
  #callsMade = 0;
  #kvReads = 0;
  #kvWrites = 0;
  #kvBytes = 0;
  #usedKv = false;
  /** The first of the function's own limits it ran into (calls, depth, kv size): what its failure is put down to. */
  #breach: ErrorRecord | undefined;

  constructor (engine: EngineCalls, caller: string, budget: Budget, depth: number) {
    this.#engine = engine;
    this.#caller = caller;
    this.#budget = budget;
    this.#depth = depth;
  }

  /** The callee's output; rejects with EngineError carrying the callee's code when it failed, or the refusal's. */
  async invoke (name: string, input: Uint8Array): Promise<Uint8Array> {
    // Checked first, so no guest-made string longer than a name reaches a message or the usage.
    try {
      assertFunctionName(name);
    } catch {
      throw new EngineError('ERR_UNKNOWN_FUNCTION', `invoke: no function can be named ${JSON.stringify(String(name).slice(0, 140))}`);
    }
    this.#noting(() => checkCall(this.#caller, name, this.#budget.allowInvoke, this.#budget.invokeCalls, this.#callsMade, this.#depth));
    if (!(input instanceof Uint8Array)) throw new EngineError('ERR_FUNCTION', 'invoke: the input must be bytes or a string');
    this.#callsMade++;
    const startedAt = performance.now();
    const wallMs = (): number => Math.round((performance.now() - startedAt) * 1000) / 1000;
    let result;
    try {
      result = await this.#engine.invoke(name, input, this.#depth + 1, this.#ended.signal);
    } catch (error) {
      const record = toErrorRecord(error);
      this.#calls.add({ function: name, ok: false, error: record.code, wallMs: wallMs(), usage: emptyUsage() });
      throw new EngineError(record.code, `invoke ${name}: ${record.message}`);
    }
    this.#calls.add({ function: name, ok: result.ok, ...(result.ok ? {} : { error: result.error.code }), wallMs: wallMs(), usage: result.usage });
    if (!result.ok) throw new EngineError(result.error.code, `invoke ${name}: ${result.error.message}`);
    return result.output;
  }

  async kv (operation: KvOperation): Promise<KvReply> {
    this.#usedKv = true;
    const write = operation.op === 'put' || operation.op === 'delete';
    const namespace = namespaceFor(this.#caller, this.#budget.kv, operation.namespace, write);
    const request = this.#noting(() => this.#requestFor(operation, namespace));
    if (write) this.#kvWrites++;
    else this.#kvReads++;
    this.#kvBytes += request.op === 'list' ? request.prefix.byteLength : request.key.byteLength + (request.op === 'put' ? request.value.byteLength : 0);
    const reply = await this.#engine.kv(request).catch((error: unknown) => this.#noting(() => { throw error; }));
    if (reply.value != null) this.#kvBytes += reply.value.byteLength;
    if (reply.keys !== undefined) for (const key of reply.keys) this.#kvBytes += Buffer.byteLength(key);
    return reply;
  }

  /** The checked request for the store. @throws {EngineError} ERR_KV_BUDGET for a key or value over its limit, ERR_FUNCTION for a malformed one. */
  #requestFor (operation: KvOperation, namespace: string): KvRequest {
    switch (operation.op) {
      case 'get': return { op: 'get', namespace, key: keyBytes(operation.key) };
      case 'delete': return { op: 'delete', namespace, key: keyBytes(operation.key) };
      case 'list': return { op: 'list', namespace, prefix: keyBytes(operation.prefix, 'prefix'), limit: kMaxListKeys };
      case 'put':
        if (!(operation.value instanceof Uint8Array)) throw new EngineError('ERR_FUNCTION', 'kv: the value must be bytes or a string');
        checkValue(operation.value);
        return { op: 'put', namespace, key: keyBytes(operation.key), value: operation.value, limitBytes: this.#budget.kvBytes };
      default: throw new EngineError('ERR_FUNCTION', `kv: unknown operation ${JSON.stringify((operation as { op: unknown }).op)}`);
    }
  }

  /**
   * The invocation ended: cancels its calls still running and adds the counts to its usage. A
   * function that failed (ERR_FUNCTION, ERR_TRAP) after one of its own limits refused it failed
   * because of that limit, as for the network budget: the outcome then carries that code.
   */
  end (usage: Usage, outcome: TaskOutcome): TaskOutcome {
    this.#ended.abort(new EngineError('ERR_CANCELLED', `the caller ${this.#caller} ended`));
    if (this.#usedKv) {
      usage.kvReads = this.#kvReads;
      usage.kvWrites = this.#kvWrites;
      usage.kvBytes = this.#kvBytes;
    }
    this.#calls.addTo(usage);
    const breach = this.#breach;
    if (outcome.ok || breach === undefined || (outcome.error.code !== 'ERR_FUNCTION' && outcome.error.code !== 'ERR_TRAP')) return outcome;
    return { ok: false, error: { code: breach.code, message: `${breach.message} (the function then failed: ${outcome.error.message})` } };
  }

  /** Runs `check`, noting a refusal by one of the function's own budgets (ERR_INVOKE_BUDGET, ERR_INVOKE_DEPTH, ERR_KV_BUDGET) before it is thrown on. */
  #noting<T> (check: () => T): T {
    try {
      return check();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (this.#breach === undefined && (code === 'ERR_INVOKE_BUDGET' || code === 'ERR_INVOKE_DEPTH' || code === 'ERR_KV_BUDGET')) this.#breach = toErrorRecord(error);
      throw error;
    }
  }
}
