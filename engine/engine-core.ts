import { join } from 'node:path';
import { resolveBudget, type Budget } from './budget.ts';
import { EngineError, toErrorRecord, type ErrorRecord } from './errors.ts';
import { countResult, emptyFunctionStats, type FunctionStats } from './function-stats.ts';
import { FunctionVersion, type VersionState } from './function-version.ts';
import { Invocation, type InvokeResult } from './invocation.ts';
import { assertFunctionName } from './names.ts';
import type { FilledEngineOptions } from './options.ts';
import type { Artifact, LanguagePlugin, Sandbox } from './plugin.ts';
import { Registry, sha256Hex, type FunctionRecord } from './registry.ts';
import { Lane, Scheduler, type SchedulerStats } from './scheduler.ts';
import type { NetworkPolicy } from './network/outbound-fetch.ts';

export interface InvokeOptions {
  /** Aborting it cancels the invocation (ERR_CANCELLED), e.g. when the client disconnects. */
  readonly signal?: AbortSignal;
  /**
   * Called synchronously the moment the invocation ends, before the returned promise settles.
   * Promise reactions wait until the scheduler's current turn (up to a slice of other functions'
   * work) gives the thread back; a dispatcher that answers from here answers without that wait.
   * Not called when invoke rejects (request errors).
   */
  readonly onResult?: (result: InvokeResult) => void;
}

export interface DeployOptions {
  readonly signal?: AbortSignal;
}

/** What `list` reports of a function. */
export interface FunctionInfo {
  readonly name: string;
  readonly language: string;
  readonly version: number;
  readonly state: VersionState;
  readonly budget: Budget;
  readonly sourceBytes: number;
  readonly sourceSha256: string;
  readonly deployedAt: string;
  readonly inFlight: number;
  /** Why the function cannot run, when state is 'unavailable'. */
  readonly error?: ErrorRecord;
}

export interface EngineStats {
  readonly uptimeMs: number;
  readonly functions: number;
  readonly inFlight: number;
  readonly scheduler: SchedulerStats;
  readonly totals: FunctionStats;
  readonly perFunction: Readonly<Record<string, FunctionStats & { inFlight: number }>>;
  readonly process: { readonly rssBytes: number, readonly heapUsedBytes: number, readonly externalBytes: number };
}

/** Everything the engine knows about one function name: current version, its run lane, counters. */
interface FunctionEntry {
  readonly name: string;
  readonly lane: Lane;
  current: FunctionVersion;
  inFlight: number;
  stats: FunctionStats;
}

export class EngineCore {
  readonly #options: FilledEngineOptions;
  readonly #plugins: ReadonlyMap<string, LanguagePlugin>;
  readonly #scheduler: Scheduler;
  readonly #functions = new Map<string, FunctionEntry>();
  readonly #live = new Set<Invocation>();
  readonly #closing = new AbortController();
  readonly #startedAt = performance.now();
  readonly #totals = emptyFunctionStats();
  /** Tail of the queue of deploys and removes per name. */
  readonly #locks = new Map<string, Promise<void>>();
  #registry: Registry | undefined;
  #closed = false;
  /** Addresses the engine listens on ("ip:port", or "*:port" for a wildcard listen): unreachable from functions. */
  readonly #ownAddresses = new Set<string>();
  readonly #networkPolicy: NetworkPolicy;

  constructor (options: FilledEngineOptions) {
    this.#options = options;
    this.#plugins = new Map(options.plugins.map((plugin) => [plugin.language, plugin]));
    this.#scheduler = new Scheduler({ sliceMs: options.sliceMs });
    this.#networkPolicy = {
      requestTimeoutMs: options.netRequestTimeoutMs,
      maxResponseBytes: options.maxResponseBytes,
      maxRedirects: 5,
      isEngineAddress: (address, port) => this.#ownAddresses.has(`${normalizeAddress(address)}:${port}`) || this.#ownAddresses.has(`*:${port}`),
    };
  }

  /** Marks an address the engine listens on, so no function can send requests to it. */
  protectAddress (host: string, port: number): void {
    const wildcard = host === '0.0.0.0' || host === '::' || host === '';
    this.#ownAddresses.add(wildcard ? `*:${port}` : `${normalizeAddress(host)}:${port}`);
  }

  /** Opens the data dir and brings back every stored function; one that no longer compiles is kept as 'unavailable'. */
  async load (): Promise<void> {
    if (this.#options.dataDir === undefined) return;
    this.#registry = await Registry.open(this.#options.dataDir);
    const { records, unreadable } = await this.#registry.load();
    for (const bad of unreadable) this.#options.onWarning(`stored function ${bad.file} cannot be read and was skipped: ${bad.reason}`);
    for (const record of records) {
      const plugin = this.#plugins.get(record.language);
      let version: FunctionVersion;
      if (plugin === undefined) {
        version = new FunctionVersion(record, undefined, undefined, { code: 'ERR_UNAVAILABLE', message: `stored function needs language ${record.language}, which this engine does not load` });
      } else {
        try {
          version = new FunctionVersion(record, plugin, await this.#compile(plugin, record.source, undefined));
        } catch (error) {
          version = new FunctionVersion(record, plugin, undefined, { code: 'ERR_UNAVAILABLE', message: `stored source no longer compiles: ${toErrorRecord(error).message}` });
        }
      }
      if (version.unavailable !== undefined) this.#options.onWarning(`function ${record.name}: ${version.unavailable.message}`);
      this.#functions.set(record.name, { name: record.name, lane: new Lane(record.name), current: version, inFlight: 0, stats: emptyFunctionStats() });
    }
  }

  async deploy (name: string, language: string, source: Uint8Array, budget: Partial<Budget> | undefined, options: DeployOptions): Promise<FunctionInfo> {
    this.#assertOpen();
    assertFunctionName(name);
    const plugin = this.#plugins.get(language);
    if (plugin === undefined) throw new EngineError('ERR_UNKNOWN_LANGUAGE', `no plugin for language ${JSON.stringify(language)} (this engine runs: ${[...this.#plugins.keys()].join(', ')})`);
    if (!(source instanceof Uint8Array)) throw new EngineError('ERR_INVALID_ARGUMENT', 'source must be bytes');
    if (source.byteLength > this.#options.maxSourceBytes) throw new EngineError('ERR_SOURCE_TOO_LARGE', `source of ${source.byteLength} bytes is over the limit of ${this.#options.maxSourceBytes}`);
    const resolvedBudget = resolveBudget(budget, this.#options.defaultBudget);
    return this.#withLock(name, async () => {
      const artifact = await this.#compile(plugin, source, options.signal);
      this.#assertOpen();
      const previous = this.#functions.get(name);
      const record: FunctionRecord = {
        name,
        language,
        version: (previous?.current.record.version ?? 0) + 1,
        budget: resolvedBudget,
        source,
        sourceSha256: sha256Hex(source),
        deployedAt: new Date().toISOString(),
      };
      await this.#registry?.write(record);
      const version = new FunctionVersion(record, plugin, artifact);
      if (previous !== undefined && this.#functions.get(name) === previous) {
        const old = previous.current;
        previous.current = version;
        old.retire();
        return this.#infoOf(previous);
      }
      const entry: FunctionEntry = { name, lane: new Lane(name), current: version, inFlight: 0, stats: emptyFunctionStats() };
      this.#functions.set(name, entry);
      return this.#infoOf(entry);
    });
  }

  /** Removes a function: gone from disk first, then from memory; running invocations finish. */
  async remove (name: string): Promise<boolean> {
    this.#assertOpen();
    assertFunctionName(name);
    return this.#withLock(name, async () => {
      const entry = this.#functions.get(name);
      if (entry === undefined) return false;
      await this.#registry?.delete(name);
      this.#functions.delete(name);
      entry.current.retire();
      return true;
    });
  }

  invoke (name: string, input: Uint8Array, options: InvokeOptions): Promise<InvokeResult> {
    if (this.#closed) return Promise.reject(new EngineError('ERR_CLOSED', 'the engine is closed'));
    const entry = this.#functions.get(name);
    if (entry === undefined) return Promise.reject(new EngineError('ERR_UNKNOWN_FUNCTION', `no function named ${JSON.stringify(name)} is deployed`));
    const version = entry.current;
    if (version.unavailable !== undefined) return Promise.reject(new EngineError('ERR_UNAVAILABLE', version.unavailable.message));
    if (this.#live.size >= this.#options.maxInFlight) {
      return Promise.reject(new EngineError('ERR_QUEUE_FULL', `the engine has its maximum of ${this.#options.maxInFlight} invocations in flight`));
    }
    if (entry.inFlight >= this.#options.maxInFlightPerFunction) {
      return Promise.reject(new EngineError('ERR_QUEUE_FULL', `function ${name} has its maximum of ${this.#options.maxInFlightPerFunction} invocations in flight`));
    }
    entry.inFlight++;
    version.live++;
    const invocation = new Invocation(entry.lane, version.record.budget, version.record.version, this.#options, { policy: this.#networkPolicy, bucket: version.bucket }, options, (settled, result) => {
      this.#live.delete(settled);
      entry.inFlight--;
      version.release();
      countResult(entry.stats, result);
      countResult(this.#totals, result);
    });
    this.#live.add(invocation);
    if (options.signal?.aborted) {
      invocation.abandon({ code: 'ERR_CANCELLED', message: 'invocation cancelled by its caller before it started' });
      return invocation.result;
    }
    const sandbox = version.sandbox;
    if (sandbox !== undefined) {
      this.#startFiber(invocation, sandbox, input);
    } else {
      version.start().then(
        (started) => this.#startFiber(invocation, started, input),
        (error: unknown) => invocation.abandon(toErrorRecord(error)),
      );
    }
    return invocation.result;
  }

  get languages (): readonly string[] {
    return [...this.#plugins.keys()];
  }

  list (): FunctionInfo[] {
    return [...this.#functions.values()].map((entry) => this.#infoOf(entry)).sort((a, b) => a.name < b.name ? -1 : 1);
  }

  stats (): EngineStats {
    const perFunction: Record<string, FunctionStats & { inFlight: number }> = {};
    for (const entry of this.#functions.values()) perFunction[entry.name] = { ...entry.stats, errors: { ...entry.stats.errors }, inFlight: entry.inFlight };
    const memory = process.memoryUsage();
    return {
      uptimeMs: Math.round(performance.now() - this.#startedAt),
      functions: this.#functions.size,
      inFlight: this.#live.size,
      scheduler: this.#scheduler.stats(),
      totals: { ...this.#totals, errors: { ...this.#totals.errors } },
      perFunction,
      process: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, externalBytes: memory.external },
    };
  }

  async close (): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(new EngineError('ERR_CLOSED', 'the engine is closing'));
    for (const invocation of [...this.#live]) invocation.abandon({ code: 'ERR_CLOSED', message: 'the engine is closing' });
    for (const entry of this.#functions.values()) entry.current.close();
    await Promise.allSettled([...this.#locks.values()]);
    await Promise.allSettled([...this.#plugins.values()].map((plugin) => plugin.close?.()));
  }

  #startFiber (invocation: Invocation, sandbox: Sandbox, input: Uint8Array): void {
    if (invocation.state === 'settled') return; // its deadline or caller ended it during the cold start
    try {
      invocation.fiber = sandbox.invoke(input, invocation);
    } catch (error) {
      invocation.finish({ ok: false, error: toErrorRecord(error) });
      return;
    }
    this.#scheduler.submit(invocation);
  }

  async #compile (plugin: LanguagePlugin, source: Uint8Array, signal: AbortSignal | undefined): Promise<Artifact> {
    // A controller of our own, a timer we clear and listeners we remove: once the compile settles
    // nothing may keep its artifact or source alive (an AbortSignal.timeout would, for a minute).
    const controller = new AbortController();
    const stop = (reason: unknown): void => controller.abort(reason);
    const onClose = (): void => stop(this.#closing.signal.reason);
    const onCaller = (): void => stop(signal?.reason);
    const timer = setTimeout(() => stop(new Error(`compilation took longer than ${this.#options.compileTimeoutMs} ms`)), this.#options.compileTimeoutMs);
    this.#closing.signal.addEventListener('abort', onClose, { once: true });
    signal?.addEventListener('abort', onCaller, { once: true });
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new EngineError('ERR_COMPILE', `compilation stopped: ${controller.signal.reason instanceof Error ? controller.signal.reason.message : String(controller.signal.reason)}`));
      controller.signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => {});
    if (signal?.aborted === true) onCaller();
    try {
      const cacheDir = this.#options.dataDir === undefined ? undefined : join(this.#options.dataDir, 'cache', plugin.language);
      return await Promise.race([plugin.compile(source, { signal: controller.signal, ...(cacheDir !== undefined ? { cacheDir } : {}) }), aborted]);
    } catch (error) {
      if (error instanceof EngineError) throw error;
      // Anything else a compiler throws is still a verdict on the source, not an engine failure.
      throw new EngineError('ERR_COMPILE', error instanceof Error ? error.message : String(error), { cause: error });
    } finally {
      clearTimeout(timer);
      this.#closing.signal.removeEventListener('abort', onClose);
      signal?.removeEventListener('abort', onCaller);
      controller.signal.removeEventListener('abort', onAbort!);
    }
  }

  /** Runs deploys and removes of one name one after another, in arrival order. */
  #withLock<T> (name: string, work: () => Promise<T>): Promise<T> {
    const next = (this.#locks.get(name) ?? Promise.resolve()).then(work);
    const settled = next.then(() => {}, () => {});
    this.#locks.set(name, settled);
    void settled.then(() => { if (this.#locks.get(name) === settled) this.#locks.delete(name); });
    return next;
  }

  #infoOf (entry: FunctionEntry): FunctionInfo {
    const version = entry.current;
    const { record } = version;
    return {
      name: record.name,
      language: record.language,
      version: record.version,
      state: version.state,
      budget: record.budget,
      sourceBytes: record.source.byteLength,
      sourceSha256: record.sourceSha256,
      deployedAt: record.deployedAt,
      inFlight: entry.inFlight,
      ...(version.unavailable !== undefined ? { error: version.unavailable } : {}),
    };
  }

  #assertOpen (): void {
    if (this.#closed) throw new EngineError('ERR_CLOSED', 'the engine is closed');
  }
}

function normalizeAddress (address: string): string {
  const lower = address.toLowerCase().replace(/^\[|\]$/g, '');
  return lower.startsWith('::ffff:') ? lower.slice(7) : lower;
}
