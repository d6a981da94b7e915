import { join } from 'node:path';
import type { Budget } from './budget.ts';
import { EngineError, toErrorRecord, type ErrorRecord } from './errors.ts';
import { copyStats, countResult, emptyFunctionStats, statsByFunction, type FunctionStats } from './function-stats.ts';
import { FunctionVersion, type VersionExtras, type VersionState } from './function-version.ts';
import { Invocation, type InvokeResult } from './invocation.ts';
import { assertFunctionName, byName } from './names.ts';
import type { FilledEngineOptions } from './options.ts';
import type { Artifact, LanguagePlugin, Sandbox } from './plugin.ts';
import { Registry, type FunctionRecord } from './registry.ts';
import { checkDeploy, newRecord, unavailableAtLoad } from './deploy-request.ts';
import { NameLocks } from './name-locks.ts';
import { refusal } from './admission.ts';
import { Lane, Scheduler, type SchedulerStats } from './scheduler.ts';
import { canonicalAddress } from './network/address-policy.ts';
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
  /** How long ago the invocation was accepted elsewhere (a multi-core engine's main thread): its wall clock started then. */
  readonly acceptedMsAgo?: number;
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
  /** Live sandboxes of the current version: 0 or 1 on one thread; up to one per worker thread on many. */
  readonly instances: number;
  /** Why the function cannot run, when state is 'unavailable'. */
  readonly error?: ErrorRecord;
}

/** What list() says of a function: its stored record and what the engine knows of it now. */
export function functionInfo (record: FunctionRecord, now: { readonly state: VersionState, readonly inFlight: number, readonly instances: number, readonly unavailable: ErrorRecord | undefined }): FunctionInfo {
  return {
    name: record.name,
    language: record.language,
    version: record.version,
    state: now.state,
    budget: record.budget,
    sourceBytes: record.source.byteLength,
    sourceSha256: record.sourceSha256,
    deployedAt: record.deployedAt,
    inFlight: now.inFlight,
    instances: now.instances,
    ...(now.unavailable !== undefined ? { error: now.unavailable } : {}),
  };
}

export interface EngineStats {
  readonly uptimeMs: number;
  readonly functions: number;
  readonly inFlight: number;
  readonly scheduler: SchedulerStats;
  readonly totals: FunctionStats;
  readonly perFunction: Readonly<Record<string, FunctionStats & { inFlight: number }>>;
  readonly process: { readonly rssBytes: number, readonly heapUsedBytes: number, readonly externalBytes: number };
  /** Per scheduler thread, when the engine runs on several (a thread's scheduler and heap figures are a snapshot, sent with the results of each lane visit and every quarter second). */
  readonly threads?: readonly ThreadStats[];
}

export interface ThreadStats {
  readonly inFlight: number;
  /** Functions compiled on the thread (a function is compiled on a thread when first sent there). */
  readonly functions: number;
  /** Live sandboxes on the thread. */
  readonly instances: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
  readonly scheduler: SchedulerStats;
}

/** Whether the engine can serve: false while closed, or while a scheduler thread is stalled or missing. */
export interface EngineHealth {
  readonly ok: boolean;
  /** Per scheduler thread, when the engine runs on several; silentMs is how long its heartbeat has stood still. */
  readonly threads?: readonly ThreadHealth[];
}

export interface ThreadHealth {
  readonly index: number;
  readonly state: 'starting' | 'running' | 'stalled' | 'stopped';
  readonly silentMs: number;
}

/** What an engine's owner (a worker thread of a multi-core engine) wants to hear of. */
export interface CoreHooks {
  /** A function's sandbox came to life (true) or was closed (false). */
  readonly onInstance?: (name: string, version: number, live: boolean) => void;
  /** The scheduler finished a visit to one function's lane. */
  readonly onVisitEnd?: () => void;
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
  readonly #locks = new NameLocks();
  #registry: Registry | undefined;
  #closed = false;
  /** Addresses the engine listens on ("ip:port", or "*:port" for a wildcard listen): unreachable from functions. */
  readonly #ownAddresses = new Set<string>();
  readonly #networkPolicy: NetworkPolicy;
  readonly #versionHooks: Pick<VersionExtras, 'onInstance'>;

  constructor (options: FilledEngineOptions, hooks: CoreHooks = {}) {
    this.#options = options;
    const { onInstance } = hooks;
    this.#versionHooks = onInstance === undefined ? {} : { onInstance: (version, live) => onInstance(version.record.name, version.record.version, live) };
    this.#plugins = new Map(options.plugins.map((plugin) => [plugin.language, plugin]));
    this.#scheduler = new Scheduler({ sliceMs: options.sliceMs, onVisitEnd: hooks.onVisitEnd });
    this.#networkPolicy = {
      requestTimeoutMs: options.netRequestTimeoutMs,
      maxResponseBytes: options.maxResponseBytes,
      maxRedirects: 5,
      isEngineAddress: (address, port) => this.#ownAddresses.has(`${canonicalAddress(address)}:${port}`) || this.#ownAddresses.has(`*:${port}`),
      allowPrivate: options.netAllowPrivate,
    };
  }

  /** Marks an address the engine listens on, so no function can send requests to it. */
  protectAddress (host: string, port: number): void {
    const wildcard = host === '0.0.0.0' || host === '::' || host === '';
    this.#ownAddresses.add(wildcard ? `*:${port}` : `${canonicalAddress(host.replace(/^\[|\]$/g, ''))}:${port}`);
  }

  /** Opens the data dir and brings back every stored function; one that no longer compiles is kept as 'unavailable'. */
  async load (): Promise<void> {
    if (this.#options.dataDir === undefined) return;
    this.#registry = await Registry.open(this.#options.dataDir);
    const { records, unreadable } = await this.#registry.load();
    for (const bad of unreadable) this.#options.onWarning(`stored function ${bad.file} cannot be read and was skipped: ${bad.reason}`);
    for (const record of records) {
      const version = await this.prepare(record).catch((error: unknown) => this.#unavailableVersion(record, toErrorRecord(error).message));
      if (version.unavailable !== undefined) this.#options.onWarning(`function ${record.name}: ${version.unavailable.message}`);
      this.install(version);
    }
  }

  async deploy (name: string, language: string, source: Uint8Array, budget: Partial<Budget> | undefined, options: DeployOptions): Promise<FunctionInfo> {
    this.#assertOpen();
    const resolvedBudget = checkDeploy(name, language, source, budget, { languages: this.languages, maxSourceBytes: this.#options.maxSourceBytes, defaultBudget: this.#options.defaultBudget });
    return this.#locks.run(name, async () => {
      const record = newRecord(name, language, source, resolvedBudget, this.#functions.get(name)?.current.record.version ?? 0);
      const version = await this.prepare(record, { signal: options.signal });
      this.#assertOpen();
      await this.#registry?.write(record);
      return this.install(version);
    });
  }

  /**
   * Compiles a record into a version that is not yet in service (install puts it there). A worker
   * thread of a multi-core engine calls this with the balance of the function's rate limit, which
   * all threads share.
   * @throws {EngineError} ERR_UNKNOWN_LANGUAGE, ERR_COMPILE, ERR_CLOSED.
   */
  async prepare (record: FunctionRecord, options: { readonly signal?: AbortSignal | undefined, readonly rateState?: SharedArrayBuffer | undefined } = {}): Promise<FunctionVersion> {
    this.#assertOpen();
    const plugin = this.#plugins.get(record.language);
    if (plugin === undefined) throw new EngineError('ERR_UNKNOWN_LANGUAGE', `function ${record.name} needs language ${record.language}, which this engine does not load`);
    const artifact = await this.#compile(plugin, record.source, options.signal);
    return new FunctionVersion(record, plugin, artifact, { ...(options.rateState !== undefined ? { rateState: options.rateState } : {}), ...this.#versionHooks });
  }

  /** Puts a prepared version in service: new invocations of its name run it; those in flight finish on the old one. */
  install (version: FunctionVersion): FunctionInfo {
    this.#assertOpen();
    const { name } = version.record;
    const previous = this.#functions.get(name);
    if (previous !== undefined) {
      const old = previous.current;
      previous.current = version;
      old.retire();
      return this.#infoOf(previous);
    }
    const entry: FunctionEntry = { name, lane: new Lane(name), current: version, inFlight: 0, stats: emptyFunctionStats() };
    this.#functions.set(name, entry);
    return this.#infoOf(entry);
  }

  /** Removes a function: gone from disk first, then from memory; running invocations finish. */
  async remove (name: string): Promise<boolean> {
    this.#assertOpen();
    assertFunctionName(name);
    return this.#locks.run(name, async () => {
      const entry = this.#functions.get(name);
      if (entry === undefined) return false;
      await this.#registry?.delete(name);
      this.#functions.delete(name);
      entry.current.retire();
      return true;
    });
  }

  invoke (name: string, input: Uint8Array, options: InvokeOptions): Promise<InvokeResult> {
    const entry = this.#functions.get(name);
    const refused = refusal(name, { closed: this.#closed, fn: entry === undefined ? undefined : { unavailable: entry.current.unavailable, inFlight: entry.inFlight }, engineInFlight: this.#live.size }, this.#options);
    if (refused !== undefined || entry === undefined) return Promise.reject(refused);
    const version = entry.current;
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
    return [...this.#functions.values()].map((entry) => this.#infoOf(entry)).sort(byName);
  }

  stats (): EngineStats {
    const memory = process.memoryUsage();
    return {
      uptimeMs: Math.round(performance.now() - this.#startedAt),
      functions: this.#functions.size,
      inFlight: this.#live.size,
      scheduler: this.#scheduler.stats(),
      totals: copyStats(this.#totals),
      perFunction: statsByFunction(this.#functions.values()),
      process: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, externalBytes: memory.external },
    };
  }

  /** On one thread there is nothing to watch: a stuck thread could not answer this either. */
  health (): EngineHealth {
    return { ok: !this.#closed };
  }

  /** The scheduler's figures alone (stats() also walks every function). */
  schedulerStats (): SchedulerStats {
    return this.#scheduler.stats();
  }

  async close (): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(new EngineError('ERR_CLOSED', 'the engine is closing'));
    for (const invocation of [...this.#live]) invocation.abandon({ code: 'ERR_CLOSED', message: 'the engine is closing' });
    for (const entry of this.#functions.values()) entry.current.close();
    await this.#locks.drain();
    await Promise.allSettled([...this.#plugins.values()].map((plugin) => plugin.close?.()));
    await this.#registry?.close();
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
      const cacheDir = this.#options.cacheDir === undefined ? undefined : join(this.#options.cacheDir, plugin.language);
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

  #unavailableVersion (record: FunctionRecord, reason: string): FunctionVersion {
    const plugin = this.#plugins.get(record.language);
    return new FunctionVersion(record, plugin, undefined, { unavailable: unavailableAtLoad(record, plugin !== undefined, reason) });
  }

  #infoOf (entry: FunctionEntry): FunctionInfo {
    const version = entry.current;
    return functionInfo(version.record, { state: version.state, inFlight: entry.inFlight, instances: version.sandbox === undefined ? 0 : 1, unavailable: version.unavailable });
  }

  #assertOpen (): void {
    if (this.#closed) throw new EngineError('ERR_CLOSED', 'the engine is closed');
  }
}

