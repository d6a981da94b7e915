import { emptyUsage, resolveBudget, type Budget } from './budget.ts';
import type { DeployOptions, EngineHealth, EngineStats, FunctionInfo, InvokeOptions } from './engine-types.ts';
import { EngineError, toErrorRecord, type ErrorRecord } from './errors.ts';
import type { Executor } from './executor.ts';
import { runFlow } from './flows/flow-run.ts';
import { compileFlow, kFlowLanguage, type FlowSpec, type FunctionKind } from './flows/flow-spec.ts';
import { checkEnv } from './function-env.ts';
import { copyStats, countResult, emptyFunctionStats, statsByFunction, type FunctionStats } from './function-stats.ts';
import type { InvokeResult } from './invocation.ts';
import type { EngineCalls } from './invoke/engine-calls.ts';
import { openKv } from './kv/open-kv.ts';
import type { KvStore } from './kv/kv-types.ts';
import { NameLocks } from './name-locks.ts';
import { assertFunctionName, byName } from './names.ts';
import type { FilledEngineOptions, FunctionStore, StoreChange } from './options.ts';
import { Registry, sha256Hex, type FunctionRecord } from './registry.ts';

/** open: serving. draining: invocations in flight finish, nothing new is accepted. closed: nothing runs. */
export type Lifecycle = 'open' | 'draining' | 'closed';

/** A function as the control plane knows it: the committed record and its counters. */
interface FunctionEntry {
  readonly name: string;
  record: FunctionRecord;
  /** Why it cannot run (a stored function that no longer loads), or undefined. */
  unavailable: ErrorRecord | undefined;
  inFlight: number;
  stats: FunctionStats;
  /** The compiled flow, when the function is one: the control plane runs it itself, no executor knows it. */
  flow: FlowSpec | undefined;
}

/** A function new to the table: available, nothing in flight, counters at zero. */
function newEntry (record: FunctionRecord, flow: FlowSpec | undefined): FunctionEntry {
  return { name: record.name, record, unavailable: undefined, inFlight: 0, stats: emptyFunctionStats(), flow };
}

/**
 * The engine's one control plane: the registry (the data dir), the function table, deploys and
 * removes one at a time per name, admission (queue limits), list and stats, and the lifecycle
 * open → draining → closed. Where invocations run is the executor's business (executor.ts); this
 * class never touches a plugin or a thread.
 */
export class ControlPlane {
  readonly #options: FilledEngineOptions;
  readonly #executor: Executor;
  readonly #functions = new Map<string, FunctionEntry>();
  readonly #locks = new NameLocks();
  readonly #totals = emptyFunctionStats();
  readonly #startedAt = performance.now();
  #registry: FunctionStore | undefined;
  #lifecycle: Lifecycle = 'open';
  /** The functions' kv store, opened by load(). */
  #kv: KvStore | undefined;
  #inFlight = 0;
  /** Resolves the drain's wait once nothing is in flight. */
  #onIdle: (() => void) | undefined;

  constructor (options: FilledEngineOptions, executor: Executor) {
    this.#options = options;
    this.#executor = executor;
    executor.serveCalls(this.#engineCalls);
  }

  /** Where invocations' ctx.invoke and kv calls land, whatever thread they run on. */
  readonly #engineCalls: EngineCalls = {
    invoke: (name, input, depth, signal) => this.#admit(name, input, { signal, depth }, 'call'),
    kv: (request) => this.#kv === undefined ? Promise.reject(new EngineError('ERR_CLOSED', 'the engine is not open')) : this.#kv.apply(request),
  };

  get lifecycle (): Lifecycle {
    return this.#lifecycle;
  }

  get languages (): readonly string[] {
    return [...this.#executor.languages.map((info) => info.language), kFlowLanguage];
  }

  /**
   * Opens the store (the data dir, or the one in the options) and brings back every stored
   * function; one that no longer loads is kept as 'unavailable'. Then follows the store's changes.
   */
  async load (): Promise<void> {
    this.#kv = await openKv(this.#options.dataDir);
    this.#registry = this.#options.store ?? (this.#options.dataDir === undefined ? undefined : await Registry.open(this.#options.dataDir));
    if (this.#registry === undefined) return;
    const { records, unreadable } = await this.#registry.load();
    for (const bad of unreadable) this.#options.onWarning(`stored function ${bad.file} cannot be read and was skipped: ${bad.reason}`);
    const queue = [...records];
    const loadNext = async (): Promise<void> => {
      for (let record = queue.shift(); record !== undefined; record = queue.shift()) {
        const entry = newEntry(record, undefined);
        this.#functions.set(record.name, entry);
        try {
          // A flow's functions may load after it (or arrive later): they are checked when it runs.
          if (record.language === kFlowLanguage) entry.flow = compileFlow(record.source);
          else await this.#executor.load(record);
        } catch (error) {
          const known = this.languages.includes(record.language);
          entry.unavailable = { code: 'ERR_UNAVAILABLE', message: known ? `stored source no longer compiles: ${toErrorRecord(error).message}` : `stored function needs language ${record.language}, which this engine does not load` };
          this.#options.onWarning(`function ${record.name}: ${entry.unavailable.message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.#executor.loadConcurrency) }, loadNext));
    this.#registry.follow?.((change) => this.#follow(change));
  }

  /**
   * Applies a change of a shared store: another engine's deploy is compiled and put in service,
   * another's remove taken out of it. This engine's own changes come back too; their version is
   * not newer than the one it runs, so they change nothing.
   */
  #follow (change: StoreChange): void {
    const name = change.kind === 'put' ? change.record.name : change.name;
    void this.#locks.run(name, async () => {
      if (this.#lifecycle === 'closed') return;
      const entry = this.#functions.get(name);
      if (change.kind === 'delete') {
        if (entry === undefined || entry.record.version > change.version) return;
        this.#functions.delete(name);
        if (entry.flow === undefined) await this.#executor.remove(name);
        return;
      }
      const { record } = change;
      if (entry !== undefined && entry.record.version >= record.version) return;
      const current = entry ?? newEntry(record, undefined);
      this.#functions.set(name, current);
      const wasFunction = entry !== undefined && entry.flow === undefined;
      current.record = record;
      current.unavailable = undefined;
      current.flow = undefined;
      try {
        // As at load: a flow's functions may arrive after it; they are checked when it runs.
        if (record.language === kFlowLanguage) {
          current.flow = compileFlow(record.source);
          if (wasFunction) await this.#executor.remove(name);
        } else {
          await this.#executor.prepare(record);
          await this.#executor.commit(record);
        }
      } catch (error) {
        current.unavailable = { code: 'ERR_UNAVAILABLE', message: `deployed by another engine, but it does not compile here: ${toErrorRecord(error).message}` };
        this.#options.onWarning(`function ${name} version ${record.version}: ${current.unavailable.message}`);
      }
    }).catch((error: unknown) => this.#options.onWarning(`applying a change of function ${name} from the store: ${toErrorRecord(error).message}`));
  }

  /**
   * Compiles, stores durably, then makes `name` run the new source; invocations in flight finish
   * on the old version.
   */
  async deploy (name: string, language: string, source: Uint8Array, budget: Partial<Budget> | undefined, options: DeployOptions): Promise<FunctionInfo> {
    this.#assertOpen();
    const resolved = this.#checkDeploy(name, language, source, budget);
    const env = checkEnv(options.env);
    return this.#locks.run(name, async () => {
      const previous = this.#functions.get(name);
      // A shared store knows versions other engines stored; the local one may lag behind it.
      const latest = Math.max(previous?.record.version ?? 0, await this.#registry?.latestVersion?.(name) ?? 0);
      const record: FunctionRecord = { name, language, version: latest + 1, budget: resolved, source, sourceSha256: sha256Hex(source), deployedAt: new Date().toISOString(), ...(env !== undefined ? { env } : {}) };
      const flow = language === kFlowLanguage ? compileFlow(source, this.#kindOf) : undefined;
      if (flow === undefined) await this.#executor.prepare(record, options.signal);
      try {
        this.#assertOpen();
        await this.#registry?.write(record);
      } catch (error) {
        if (flow === undefined) this.#executor.discard(record);
        throw error;
      }
      // A function replaced by a flow leaves its executor; its invocations in flight finish.
      if (flow === undefined) await this.#executor.commit(record);
      else if (previous !== undefined && previous.flow === undefined) await this.#executor.remove(name);
      const entry = this.#functions.get(name);
      if (entry === undefined) {
        const created = newEntry(record, flow);
        this.#functions.set(name, created);
        return this.#infoOf(created);
      }
      entry.record = record;
      entry.unavailable = undefined;
      entry.flow = flow;
      return this.#infoOf(entry);
    });
  }

  /** Removes a function from disk, then from service; its invocations in flight finish. False when there was none. */
  async remove (name: string): Promise<boolean> {
    this.#assertOpen();
    assertFunctionName(name);
    return this.#locks.run(name, async () => {
      if (!this.#functions.has(name)) return false;
      await this.#registry?.delete(name);
      const { flow } = this.#functions.get(name)!;
      this.#functions.delete(name);
      if (flow === undefined) await this.#executor.remove(name);
      return true;
    });
  }

  invoke (name: string, input: Uint8Array, options: InvokeOptions): Promise<InvokeResult> {
    return this.#admit(name, input, options, 'outside');
  }

  /**
   * Admits and runs one invocation, from outside, as a flow's step, or as a function's ctx.invoke
   * call. Steps and calls are admitted also while the engine drains, since the flow or caller they
   * belong to was admitted before; neither may run a flow (a flow's steps would start again at
   * depth 0, so a cycle through one would not end).
   */
  #admit (name: string, input: Uint8Array, options: InvokeOptions, via: 'outside' | 'step' | 'call'): Promise<InvokeResult> {
    const entry = this.#functions.get(name);
    const refused = this.#refusal(name, entry, via);
    if (refused !== undefined) return Promise.reject(refused);
    const admitted = entry!;
    admitted.inFlight++;
    this.#inFlight++;
    let ended = false;
    const end = (result: InvokeResult | undefined): void => {
      if (ended) return;
      ended = true;
      admitted.inFlight--;
      this.#inFlight--;
      if (result !== undefined) {
        countResult(admitted.stats, result);
        // A flow's steps are counted as invocations of their functions; the flow would count them twice.
        if (admitted.flow === undefined) countResult(this.#totals, result);
      }
      if (this.#inFlight === 0) this.#onIdle?.();
    };
    const onResult = (result: InvokeResult): void => {
      end(result);
      if (options.onResult === undefined) return;
      try {
        options.onResult(result);
      } catch {
        // The caller's listener failing must not stop the engine; the promise still settles.
      }
    };
    if (options.signal?.aborted === true) {
      const result: InvokeResult = { ok: false, error: { code: 'ERR_CANCELLED', message: 'invocation cancelled by its caller before it started' }, usage: emptyUsage(), logs: [], version: admitted.record.version };
      onResult(result);
      return Promise.resolve(result);
    }
    const running = admitted.flow !== undefined
      ? runFlow(admitted.flow, input, this.#flowHost, { wallMs: admitted.record.budget.wallMs, acceptedMsAgo: options.acceptedMsAgo, version: admitted.record.version, maxOutputBytes: this.#options.maxOutputBytes, maxLogBytes: this.#options.maxLogBytes, signal: options.signal, onResult })
      : this.#executor.invoke(name, input, { signal: options.signal, onResult, acceptedMsAgo: options.acceptedMsAgo, request: options.request, depth: options.depth });
    // A request the executor refused (the function went away on its thread) ended nothing above.
    running.catch(() => end(undefined));
    return running;
  }

  readonly #flowHost = { invokeStep: (name: string, input: Uint8Array, signal: AbortSignal): Promise<InvokeResult> => this.#admit(name, input, { signal }, 'step') };

  readonly #kindOf = (name: string): FunctionKind => {
    const entry = this.#functions.get(name);
    return entry === undefined ? undefined : entry.flow !== undefined ? 'flow' : 'function';
  };

  list (): FunctionInfo[] {
    return [...this.#functions.values()].map((entry) => this.#infoOf(entry)).sort(byName);
  }

  stats (): EngineStats {
    const memory = process.memoryUsage();
    const threads = this.#executor.threadStats();
    return {
      uptimeMs: Math.round(performance.now() - this.#startedAt),
      functions: this.#functions.size,
      inFlight: this.#inFlight,
      scheduler: this.#executor.schedulerStats(),
      totals: copyStats(this.#totals),
      perFunction: statsByFunction(this.#functions.values()),
      process: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, externalBytes: memory.external },
      instances: this.#executor.instanceStats(),
      ...(threads !== undefined ? { threads } : {}),
    };
  }

  /** Healthy while open and every scheduler thread answers. */
  health (): EngineHealth {
    const executor = this.#executor.health();
    return { ...executor, ok: this.#lifecycle === 'open' && executor.ok };
  }

  protectAddress (host: string, port: number): void {
    this.#executor.protectAddress(host, port);
  }

  /**
   * Stops accepting invocations and deploys (ERR_CLOSED, "draining") and resolves once those in
   * flight have finished, or `deadlineMs` has passed; close() then ends whatever still runs.
   */
  async drain (deadlineMs: number): Promise<void> {
    if (this.#lifecycle === 'closed') return;
    this.#lifecycle = 'draining';
    if (this.#inFlight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#onIdle = resolve;
      timer = setTimeout(resolve, deadlineMs);
    });
    clearTimeout(timer);
    this.#onIdle = undefined;
  }

  /** Ends every invocation in flight with ERR_CLOSED and releases everything. Idempotent. */
  async close (): Promise<void> {
    if (this.#lifecycle === 'closed') return;
    this.#lifecycle = 'closed';
    this.#onIdle?.();
    await this.#executor.close();
    this.#kv?.close();
    await this.#locks.drain();
    await this.#registry?.close();
  }

  /**
   * Checks a deploy's arguments before any work is done; returns the function's full budget.
   * @throws {EngineError} ERR_INVALID_ARGUMENT, ERR_UNKNOWN_LANGUAGE, ERR_SOURCE_TOO_LARGE.
   */
  #checkDeploy (name: string, language: string, source: Uint8Array, budget: Partial<Budget> | undefined): Budget {
    assertFunctionName(name);
    const info = this.#executor.languages.find((known) => known.language === language);
    if (info === undefined && language !== kFlowLanguage) throw new EngineError('ERR_UNKNOWN_LANGUAGE', `no plugin for language ${JSON.stringify(language)} (this engine runs: ${this.languages.join(', ')})`);
    if (!(source instanceof Uint8Array)) throw new EngineError('ERR_INVALID_ARGUMENT', 'source must be bytes');
    if (source.byteLength > this.#options.maxSourceBytes) throw new EngineError('ERR_SOURCE_TOO_LARGE', `source of ${source.byteLength} bytes is over the limit of ${this.#options.maxSourceBytes}`);
    const resolved = resolveBudget(budget, this.#options.defaultBudget);
    if (info !== undefined && resolved.memoryBytes < info.memory.minimumBytes) {
      throw new EngineError('ERR_INVALID_ARGUMENT', `budget.memoryBytes of ${resolved.memoryBytes} is below the least ${language} can run in, ${info.memory.minimumBytes} bytes (${formatMiB(info.memory.minimumBytes)})`);
    }
    return resolved;
  }

  /** Why an invocation of `name` is refused before it starts, or undefined when it may run. */
  #refusal (name: string, entry: FunctionEntry | undefined, via: 'outside' | 'step' | 'call'): EngineError | undefined {
    if (this.#lifecycle === 'closed') return new EngineError('ERR_CLOSED', 'the engine is closed');
    if (this.#lifecycle === 'draining' && via === 'outside') return new EngineError('ERR_CLOSED', 'the engine is draining: it finishes the invocations in flight and accepts no new ones');
    if (entry === undefined) return new EngineError('ERR_UNKNOWN_FUNCTION', `no function named ${JSON.stringify(name)} is deployed`);
    if (entry.unavailable !== undefined) return new EngineError('ERR_UNAVAILABLE', entry.unavailable.message);
    if (via === 'step' && entry.flow !== undefined) return new EngineError('ERR_INVALID_ARGUMENT', `${name} is a flow; a flow's step runs a function (flows do not nest)`);
    if (via === 'call' && entry.flow !== undefined) return new EngineError('ERR_INVOKE_DENIED', `${name} is a flow: ctx.invoke calls functions, not flows`);
    if (this.#inFlight >= this.#options.maxInFlight) return new EngineError('ERR_QUEUE_FULL', `the engine has its maximum of ${this.#options.maxInFlight} invocations in flight`);
    if (entry.inFlight >= this.#options.maxInFlightPerFunction) return new EngineError('ERR_QUEUE_FULL', `function ${name} has its maximum of ${this.#options.maxInFlightPerFunction} invocations in flight`);
    return undefined;
  }

  #infoOf (entry: FunctionEntry): FunctionInfo {
    const { record } = entry;
    const now = entry.unavailable !== undefined ? { state: 'unavailable' as const, instances: 0 } : entry.flow !== undefined ? { state: 'ready' as const, instances: 0 } : this.#executor.status(entry.name);
    return {
      name: record.name,
      language: record.language,
      version: record.version,
      state: now.state,
      budget: record.budget,
      sourceBytes: record.source.byteLength,
      sourceSha256: record.sourceSha256,
      deployedAt: record.deployedAt,
      ...(record.env !== undefined ? { envKeys: Object.keys(record.env) } : {}),
      inFlight: entry.inFlight,
      instances: now.instances,
      ...(entry.unavailable !== undefined ? { error: entry.unavailable } : {}),
    };
  }

  #assertOpen (): void {
    if (this.#lifecycle === 'draining') throw new EngineError('ERR_CLOSED', 'the engine is draining: it accepts no deploys or removes');
    if (this.#lifecycle === 'closed') throw new EngineError('ERR_CLOSED', 'the engine is closed');
  }
}

function formatMiB (bytes: number): string {
  return `${Math.round(bytes / 2 ** 20 * 100) / 100} MiB`;
}
