import { join } from 'node:path';
import { EngineError, toErrorRecord } from './errors.ts';
import type { ExecuteOptions, Executor, InstanceStats, VersionStatus } from './executor.ts';
import { FunctionVersion, type InstanceEnd } from './function-version.ts';
import { InstanceLedger } from './instance-ledger.ts';
import { ColdStartGate } from './cold-start-gate.ts';
import { Invocation, type InvokeResult } from './invocation.ts';
import type { FilledEngineOptions } from './options.ts';
import { languageInfo, type Artifact, type LanguageInfo, type LanguagePlugin, type Sandbox } from './plugin.ts';
import type { FunctionRecord } from './registry.ts';
import { Lane, Scheduler, type SchedulerStats } from './scheduler.ts';
import { canonicalAddress } from './network/address-policy.ts';
import type { NetworkPolicy } from './network/outbound-fetch.ts';
import type { EngineCalls } from './invoke/engine-calls.ts';

/** What the owner of a local executor (a scheduler thread of a thread executor) wants to hear of. */
export interface LocalExecutorHooks {
  /** A function's sandbox came to life (live) or was closed or evicted. */
  readonly onInstance?: (name: string, version: number, live: boolean, end?: InstanceEnd) => void;
  /** The scheduler finished a visit to one function's lane. */
  readonly onVisitEnd?: () => void;
}

/** A function in service here: its run lane and the version new invocations get. */
interface Slot {
  readonly lane: Lane;
  current: FunctionVersion;
}

/**
 * The executor that runs invocations on this thread: the plugins, one scheduler, a lane and the
 * current version per function, and the versions compiled by prepare() until their commit. It
 * keeps no limits and no registry; the control plane (or, on a scheduler thread, the thread
 * executor on the main thread) decides what runs.
 */
export class LocalExecutor implements Executor {
  readonly languages: readonly LanguageInfo[];
  readonly loadConcurrency = 1;
  readonly #options: FilledEngineOptions;
  readonly #plugins: ReadonlyMap<string, LanguagePlugin>;
  readonly #scheduler: Scheduler;
  readonly #slots = new Map<string, Slot>();
  /** Compiled by prepare(), waiting for commit() or discard(), by "name@version". */
  readonly #prepared = new Map<string, FunctionVersion>();
  readonly #live = new Set<Invocation>();
  readonly #closing = new AbortController();
  /** Addresses the engine listens on ("ip:port", or "*:port" for a wildcard listen): unreachable from functions. */
  readonly #ownAddresses = new Set<string>();
  readonly #networkPolicy: NetworkPolicy;
  readonly #ledger: InstanceLedger;
  readonly #coldStarts = new ColdStartGate();
  readonly #onInstance: LocalExecutorHooks['onInstance'];
  #engineCalls: EngineCalls | undefined;
  #closed = false;

  constructor (options: FilledEngineOptions, hooks: LocalExecutorHooks = {}) {
    this.#options = options;
    this.languages = options.plugins.map(languageInfo);
    this.#onInstance = hooks.onInstance;
    this.#ledger = new InstanceLedger(options.maxInstanceMemoryBytes, new Map(this.languages.map((info) => [info.language, info.memory])));
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

  serveCalls (calls: EngineCalls): void {
    this.#engineCalls = calls;
  }

  protectAddress (host: string, port: number): void {
    const wildcard = host === '0.0.0.0' || host === '::' || host === '';
    this.#ownAddresses.add(wildcard ? `*:${port}` : `${canonicalAddress(host.replace(/^\[|\]$/g, ''))}:${port}`);
  }

  /**
   * Compiles a record into a version that is not yet in service. `rateState` is the balance of
   * the function's rate limit when other threads share it.
   */
  async prepare (record: FunctionRecord, signal?: AbortSignal, rateState?: SharedArrayBuffer): Promise<void> {
    const version = await this.#compileVersion(record, signal, rateState);
    this.#prepared.set(keyOf(record), version);
  }

  /**
   * Puts a version in service: the prepared one, or one compiled now (a thread that did not
   * prepare it). A version that fails to compile here takes the function out of service here, so
   * an older version never runs in its place.
   */
  async commit (record: FunctionRecord, rateState?: SharedArrayBuffer): Promise<void> {
    const key = keyOf(record);
    let version = this.#prepared.get(key);
    this.#prepared.delete(key);
    if (version === undefined) {
      try {
        version = await this.#compileVersion(record, undefined, rateState);
      } catch (error) {
        await this.remove(record.name);
        throw error;
      }
    }
    this.#assertOpen();
    this.#install(version);
  }

  /** Drops a prepared version; false when there is none (yet). */
  discard (record: Pick<FunctionRecord, 'name' | 'version'>): boolean {
    return this.#prepared.delete(keyOf(record));
  }

  load (record: FunctionRecord): Promise<void> {
    return this.commit(record);
  }

  async remove (name: string): Promise<void> {
    const slot = this.#slots.get(name);
    if (slot === undefined) return;
    this.#slots.delete(name);
    slot.current.retire();
  }

  invoke (name: string, input: Uint8Array, options: ExecuteOptions): Promise<InvokeResult> {
    const slot = this.#slots.get(name);
    if (this.#closed) return Promise.reject(new EngineError('ERR_CLOSED', 'the engine is closed'));
    if (slot === undefined) return Promise.reject(new EngineError('ERR_UNKNOWN_FUNCTION', `no function named ${JSON.stringify(name)} is deployed`));
    const version = slot.current;
    version.live++;
    this.#ledger.used(version);
    const invocation = new Invocation(slot.lane, version.record.budget, version.record.version, this.#options, { policy: this.#networkPolicy, bucket: version.bucket }, this.#engineCalls, options, (settled, result) => {
      this.#live.delete(settled);
      this.#ledger.measured(version, result.usage.memoryBytes);
      version.release();
      // Instances that were busy when the ceiling was passed can go now that one is idle.
      this.#ledger.evictIfOver();
    });
    this.#live.add(invocation);
    if (options.signal?.aborted === true) {
      invocation.abandon({ code: 'ERR_CANCELLED', message: 'invocation cancelled by its caller before it started' });
      return invocation.result;
    }
    const sandbox = version.sandbox;
    if (sandbox !== undefined) {
      this.#startFiber(invocation, sandbox, input);
    } else {
      if (version.state === 'evicted') this.#ledger.restoring();
      version.start().then(
        (started) => this.#startFiber(invocation, started, input),
        (error: unknown) => invocation.abandon(toErrorRecord(error)),
      );
    }
    return invocation.result;
  }

  status (name: string): VersionStatus {
    const version = this.#slots.get(name)?.current;
    if (version === undefined) return { state: 'closed', instances: 0 };
    return { state: version.state, instances: version.sandbox === undefined ? 0 : 1 };
  }

  /** Functions in service here. */
  get functionCount (): number {
    return this.#slots.size;
  }

  schedulerStats (): SchedulerStats {
    return this.#scheduler.stats();
  }

  threadStats (): undefined {
    return undefined;
  }

  instanceStats (): InstanceStats {
    return this.#ledger.stats();
  }

  /** On one thread there is nothing to watch: a stuck thread could not answer this either. */
  health (): { ok: boolean } {
    return { ok: !this.#closed };
  }

  async close (): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(new EngineError('ERR_CLOSED', 'the engine is closing'));
    for (const invocation of [...this.#live]) invocation.abandon({ code: 'ERR_CLOSED', message: 'the engine is closing' });
    for (const slot of this.#slots.values()) slot.current.close();
    this.#prepared.clear();
    await Promise.allSettled([...this.#plugins.values()].map(async (plugin) => plugin.close?.()));
  }

  /** Puts a compiled version in service: new invocations of its name run it; those in flight finish on the old one. */
  #install (version: FunctionVersion): void {
    const { name } = version.record;
    const slot = this.#slots.get(name);
    if (slot === undefined) {
      this.#slots.set(name, { lane: new Lane(name), current: version });
      return;
    }
    const old = slot.current;
    slot.current = version;
    old.retire();
  }

  async #compileVersion (record: FunctionRecord, signal: AbortSignal | undefined, rateState: SharedArrayBuffer | undefined): Promise<FunctionVersion> {
    this.#assertOpen();
    const plugin = this.#plugins.get(record.language);
    if (plugin === undefined) throw new EngineError('ERR_UNKNOWN_LANGUAGE', `function ${record.name} needs language ${record.language}, which this engine does not load`);
    const artifact = await this.#compile(plugin, record.source, signal);
    return new FunctionVersion(record, plugin, artifact, {
      ...(rateState !== undefined ? { rateState } : {}),
      coldStarts: this.#coldStarts,
      onInstance: (version, live, end) => {
        if (live) this.#ledger.started(version);
        else this.#ledger.ended(version);
        this.#onInstance?.(version.record.name, version.record.version, live, end);
      },
    });
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

  #assertOpen (): void {
    if (this.#closed) throw new EngineError('ERR_CLOSED', 'the engine is closed');
  }
}

function keyOf (record: Pick<FunctionRecord, 'name' | 'version'>): string {
  return `${record.name}@${record.version}`;
}
