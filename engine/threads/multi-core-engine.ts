import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Budget } from '../budget.ts';
import { emptyUsage } from '../budget.ts';
import { checkDeploy, newRecord, unavailableAtLoad } from '../deploy-request.ts';
import { functionInfo, type DeployOptions, type EngineHealth, type EngineStats, type FunctionInfo, type InvokeOptions, type ThreadHealth } from '../engine-core.ts';
import { EngineError, type ErrorRecord } from '../errors.ts';
import { copyStats, countResult, emptyFunctionStats, statsByFunction, type FunctionStats } from '../function-stats.ts';
import type { InvokeResult } from '../invocation.ts';
import { assertFunctionName, byName } from '../names.ts';
import { NameLocks } from '../name-locks.ts';
import { refusal } from '../admission.ts';
import { TokenBucket } from '../network/token-bucket.ts';
import type { FilledEngineOptions } from '../options.ts';
import { Registry, type FunctionRecord } from '../registry.ts';
import type { SchedulerStats } from '../scheduler.ts';
import { kThreadStalledMs } from './heartbeat.ts';
import type { ThreadInit } from './messages.ts';
import { SchedulerThread, type ThreadListener } from './scheduler-thread.ts';

/** A thread that dies within this long of its start is restarted only after kRestartDelayMs. */
const kYoungThreadMs = 1000;
const kRestartDelayMs = 1000;

/** Dispatch's extra load, in invocations in flight, of a thread without an instance of the function, and without its code. */
const kNoInstanceLoad = 0.5;
const kNotInstalledLoad = 0.75;
/** A stalled thread's extra load: more than any queue a healthy thread would have. */
const kStalledLoad = 1e9;

/** How often the watchdog reads the threads' heartbeats, in ms. */
const kWatchdogEveryMs = 250;

/** A function as the main thread knows it: the current record, and counters over all threads. */
interface FunctionEntry {
  readonly name: string;
  record: FunctionRecord;
  unavailable: ErrorRecord | undefined;
  /** The balance of the function's rate limit, shared by every thread. */
  rateState: SharedArrayBuffer | undefined;
  inFlight: number;
  stats: FunctionStats;
}

/** An invocation sent to a thread and not yet answered. */
interface Call {
  readonly entry: FunctionEntry;
  readonly thread: SchedulerThread;
  readonly version: number;
  /** When the main thread accepted it (performance.now()), and its wall budget: the watchdog ends it on time if its thread stalls. */
  readonly acceptedAt: number;
  readonly wallMs: number;
  readonly options: InvokeOptions;
  readonly resolve: (result: InvokeResult) => void;
  readonly reject: (error: EngineError) => void;
  readonly onAbort: (() => void) | undefined;
}

/**
 * The engine on many cores: the main thread keeps the registry, the limits and the counters, and
 * runs no guest code; N scheduler threads (worker_threads, thread-main.ts) each hold an EngineCore
 * with the functions sent to them, and run their invocations.
 *
 * A function is compiled on one thread at deploy and on another when dispatch first sends it
 * there. Dispatch sends an invocation to the thread with the fewest invocations in flight, a
 * thread without a warm instance counting a little busier, so a function that is called one at a
 * time keeps one instance on one thread and a busy one spreads over every core. Each thread's
 * scheduler is fair between the functions it runs.
 *
 * Budgets hold per invocation on whichever thread runs it; a function's byte rate is one balance
 * shared by all threads; memory budgets that cover a function's whole state (lua, js) hold per
 * thread, since each thread has its own instance. A thread that dies (a fault in a plugin) fails
 * its invocations in flight with ERR_INTERNAL and is replaced by a new thread.
 */
export class MultiCoreEngine {
  readonly #options: FilledEngineOptions;
  readonly #threads: SchedulerThread[] = [];
  readonly #functions = new Map<string, FunctionEntry>();
  readonly #calls = new Map<number, Call>();
  readonly #locks = new NameLocks();
  readonly #totals = emptyFunctionStats();
  readonly #startedAt = performance.now();
  readonly #protected: { host: string, port: number }[] = [];
  readonly #init: Omit<ThreadInit, 'index' | 'heartbeat'>;
  readonly #watchdog: NodeJS.Timeout;
  /** A cache dir this engine made (no data dir): removed at close. */
  readonly #ownCacheDir: string | undefined;
  #languages: readonly string[] = [];
  #registry: Registry | undefined;
  #nextCall = 1;
  #closed = false;

  private constructor (options: FilledEngineOptions, cacheDir: string, ownCacheDir: boolean) {
    this.#options = options;
    this.#ownCacheDir = ownCacheDir ? cacheDir : undefined;
    const { sliceMs, maxSourceBytes, maxOutputBytes, maxLogBytes, compileTimeoutMs, netRequestTimeoutMs, netAllowPrivate, maxResponseBytes, defaultBudget } = options;
    this.#init = {
      pluginModule: options.pluginModule!,
      options: { cacheDir, sliceMs, maxSourceBytes, maxOutputBytes, maxLogBytes, compileTimeoutMs, netRequestTimeoutMs, netAllowPrivate, maxResponseBytes, defaultBudget },
    };
    this.#watchdog = setInterval(() => this.#watch(), kWatchdogEveryMs);
    this.#watchdog.unref();
  }

  /** Starts the threads, then reloads the stored functions into all of them. */
  static async open (options: FilledEngineOptions): Promise<MultiCoreEngine> {
    // Threads compile each function once more after the first: a cache dir makes that a cache hit for C.
    const cacheDir = options.cacheDir ?? await mkdtemp(join(tmpdir(), 'springbok-cache-'));
    const engine = new MultiCoreEngine(options, cacheDir, options.cacheDir === undefined);
    try {
      for (let index = 0; index < options.workers; index++) engine.#threads.push(engine.#startThread(index));
      const languages = await Promise.all(engine.#threads.map((thread) => thread.ready));
      engine.#languages = languages[0]!;
      await engine.#load();
    } catch (error) {
      await engine.close();
      throw error;
    }
    return engine;
  }

  get languages (): readonly string[] {
    return this.#languages;
  }

  protectAddress (host: string, port: number): void {
    this.#protected.push({ host, port });
    for (const thread of this.#threads) thread.post({ t: 'protect', host, port });
  }

  async deploy (name: string, language: string, source: Uint8Array, budget: Partial<Budget> | undefined, options: DeployOptions): Promise<FunctionInfo> {
    this.#assertOpen();
    const resolvedBudget = checkDeploy(name, language, source, budget, { languages: this.#languages, maxSourceBytes: this.#options.maxSourceBytes, defaultBudget: this.#options.defaultBudget });
    return this.#locks.run(name, async () => {
      const record = newRecord(name, language, source, resolvedBudget, this.#functions.get(name)?.record.version ?? 0);
      const rateState = rateStateFor(record);
      const thread = this.#leastLoaded();
      if (thread === undefined) throw new EngineError('ERR_CLOSED', 'the engine is closing');
      await this.#prepare(thread, record, rateState, options.signal);
      this.#assertOpen();
      return this.#install(thread, record, rateState);
    });
  }

  async remove (name: string): Promise<boolean> {
    this.#assertOpen();
    assertFunctionName(name);
    return this.#locks.run(name, async () => {
      if (!this.#functions.has(name)) return false;
      await this.#registry?.delete(name);
      this.#functions.delete(name);
      const holders = this.#threads.filter((thread) => thread.installed.has(name));
      for (const thread of this.#threads) {
        thread.installed.delete(name);
        thread.broken.delete(name);
      }
      await Promise.all(holders.map((thread) => thread.request({ t: 'remove', name }).catch((error: Error) => {
        this.#options.onWarning(`removing ${name} from scheduler thread ${thread.index}: ${error.message}`);
      })));
      return true;
    });
  }

  invoke (name: string, input: Uint8Array, options: InvokeOptions): Promise<InvokeResult> {
    const entry = this.#functions.get(name);
    const refused = refusal(name, { closed: this.#closed, fn: entry, engineInFlight: this.#calls.size }, this.#options);
    if (refused !== undefined || entry === undefined) return Promise.reject(refused);
    const { version } = entry.record;
    if (options.signal?.aborted === true) {
      const result: InvokeResult = { ok: false, error: { code: 'ERR_CANCELLED', message: 'invocation cancelled by its caller before it started' }, usage: emptyUsage(), logs: [], version };
      countResult(entry.stats, result);
      countResult(this.#totals, result);
      options.onResult?.(result);
      return Promise.resolve(result);
    }
    const thread = this.#dispatch(entry);
    if (thread === undefined) return Promise.reject(new EngineError('ERR_UNAVAILABLE', `no scheduler thread can run ${name} now`));
    const id = this.#nextCall++;
    entry.inFlight++;
    thread.inFlight++;
    return new Promise((resolve, reject) => {
      const { signal } = options;
      const onAbort = signal === undefined ? undefined : (): void => {
        const reason: unknown = signal.reason;
        thread.post({ t: 'cancel', id, message: reason instanceof Error ? reason.message : String(reason) });
      };
      if (onAbort !== undefined) signal!.addEventListener('abort', onAbort, { once: true });
      this.#calls.set(id, { entry, thread, version, acceptedAt: performance.now(), wallMs: entry.record.budget.wallMs, options, resolve, reject, onAbort });
      thread.invoke(id, name, input);
    });
  }

  list (): FunctionInfo[] {
    return [...this.#functions.values()].map((entry) => this.#infoOf(entry)).sort(byName);
  }

  stats (): EngineStats {
    const memory = process.memoryUsage();
    const scheduler: { -readonly [K in keyof SchedulerStats]: number } = { lanesReady: 0, tasksWaiting: 0, slices: 0, turns: 0 };
    for (const thread of this.#threads) {
      for (const key of Object.keys(scheduler) as (keyof SchedulerStats)[]) scheduler[key] += thread.snapshot.scheduler[key];
    }
    return {
      uptimeMs: Math.round(performance.now() - this.#startedAt),
      functions: this.#functions.size,
      inFlight: this.#calls.size,
      scheduler,
      totals: copyStats(this.#totals),
      perFunction: statsByFunction(this.#functions.values()),
      process: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, externalBytes: memory.external },
      threads: this.#threads.map((thread) => ({ inFlight: thread.inFlight, functions: thread.installed.size, instances: thread.instances.size, heapUsedBytes: thread.snapshot.heapUsedBytes, externalBytes: thread.snapshot.externalBytes, scheduler: thread.snapshot.scheduler })),
    };
  }

  /** Unhealthy while a scheduler thread is stalled (its heartbeat stands still) or missing. */
  health (): EngineHealth {
    const now = performance.now();
    const threads = this.#threads.map((thread) => {
      const silentMs = Math.round(thread.heartbeat.silentForMs(now));
      const state: ThreadHealth['state'] = !thread.accepting ? 'stopped' : !thread.isReady ? 'starting' : thread.stalled ? 'stalled' : 'running';
      return { index: thread.index, state, silentMs };
    });
    return { ok: !this.#closed && threads.every((thread) => thread.state === 'running'), threads };
  }

  async close (): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchdog);
    await Promise.all(this.#threads.map((thread) => thread.close()));
    // Anything a thread did not answer before it ended.
    for (const id of [...this.#calls.keys()]) this.#fail(id, { code: 'ERR_CLOSED', message: 'the engine is closing' });
    await this.#locks.drain();
    await this.#registry?.close();
    if (this.#ownCacheDir !== undefined) await rm(this.#ownCacheDir, { recursive: true, force: true });
  }

  /**
   * The watchdog: a thread whose heartbeat stands still is stalled; dispatch avoids it, and its
   * invocations past their wall budget fail here, since the thread cannot end them. One still
   * silent after threadStuckMs is given up and replaced.
   */
  #watch (): void {
    const now = performance.now();
    for (const thread of this.#threads) {
      if (!thread.accepting || !thread.isReady) continue;
      const silentMs = thread.heartbeat.silentForMs(now);
      thread.stalled = silentMs >= kThreadStalledMs;
      if (silentMs >= this.#options.threadStuckMs) {
        thread.abandon(`it stopped answering for ${Math.round(silentMs)} ms`);
        continue;
      }
      if (!thread.stalled) continue;
      for (const [id, call] of this.#calls) {
        if (call.thread === thread && now - call.acceptedAt > call.wallMs) {
          this.#fail(id, { code: 'ERR_WALL_TIMEOUT', message: `wall-clock budget of ${call.wallMs} ms passed (its scheduler thread has not answered for ${Math.round(silentMs)} ms)` });
        }
      }
    }
  }

  #startThread (index: number): SchedulerThread {
    const thread = new SchedulerThread({ ...this.#init, index }, this.#listener);
    for (const { host, port } of this.#protected) thread.post({ t: 'protect', host, port });
    return thread;
  }

  readonly #listener: ThreadListener = {
    result: (id, result) => this.#answer(id, result),
    refused: (id, error) => this.#take(id)?.reject(new EngineError(error.code, error.message)),
    warning: (message) => this.#options.onWarning(message),
    exited: (thread, reason) => this.#replace(thread, reason),
  };

  /**
   * Brings back the stored functions, each compiled on one thread (the threads share the work); one
   * that no longer compiles is kept as 'unavailable'. Other threads compile a function when it is
   * first sent to them.
   */
  async #load (): Promise<void> {
    if (this.#options.dataDir === undefined) return;
    this.#registry = await Registry.open(this.#options.dataDir);
    const { records, unreadable } = await this.#registry.load();
    for (const bad of unreadable) this.#options.onWarning(`stored function ${bad.file} cannot be read and was skipped: ${bad.reason}`);
    await Promise.all(this.#threads.map(async (thread, index) => {
      for (let i = index; i < records.length; i += this.#threads.length) {
        const record = records[i]!;
        const entry: FunctionEntry = { name: record.name, record, unavailable: undefined, rateState: rateStateFor(record), inFlight: 0, stats: emptyFunctionStats() };
        this.#functions.set(record.name, entry);
        try {
          thread.installed.set(record.name, record.version);
          await thread.request({ t: 'commit', record, rateState: entry.rateState });
        } catch (error) {
          thread.installed.delete(record.name);
          entry.unavailable = unavailableAtLoad(record, this.#languages.includes(record.language), (error as Error).message);
          this.#options.onWarning(`function ${record.name}: ${entry.unavailable.message}`);
        }
      }
    }));
  }

  /** Compiles a new version on one thread (which checks the source for all of them), then stores it. */
  async #prepare (thread: SchedulerThread, record: FunctionRecord, rateState: SharedArrayBuffer | undefined, signal: AbortSignal | undefined): Promise<void> {
    const prepared = thread.request({ t: 'prepare', record, rateState });
    if (signal !== undefined) {
      const stopped = new Promise<never>((_, reject) => {
        const onAbort = (): void => reject(new EngineError('ERR_COMPILE', `compilation stopped: ${signal.reason instanceof Error ? signal.reason.message : String(signal.reason)}`));
        if (signal.aborted) onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        void prepared.finally(() => signal.removeEventListener('abort', onAbort)).catch(() => {});
      });
      try {
        await Promise.race([prepared, stopped]);
      } catch (error) {
        thread.post({ t: 'discard', name: record.name, version: record.version });
        throw error;
      }
    } else {
      await prepared;
    }
    try {
      await this.#registry?.write(record);
    } catch (error) {
      thread.post({ t: 'discard', name: record.name, version: record.version });
      throw error;
    }
  }

  /**
   * Makes `record` the function's current version: on the thread that prepared it, and on every
   * thread that has an older version (so none keeps running it, and those stay warm). The commits
   * are posted before anything else can be dispatched, so every invocation accepted after this call
   * runs the new version; a thread without the function gets it with its first invocation (#dispatch).
   */
  async #install (prepared: SchedulerThread, record: FunctionRecord, rateState: SharedArrayBuffer | undefined): Promise<FunctionInfo> {
    let entry = this.#functions.get(record.name);
    if (entry === undefined) {
      entry = { name: record.name, record, unavailable: undefined, rateState, inFlight: 0, stats: emptyFunctionStats() };
      this.#functions.set(record.name, entry);
    } else {
      entry.record = record;
      entry.unavailable = undefined;
      entry.rateState = rateState;
    }
    const targets = this.#threads.filter((thread) => thread === prepared || thread.installed.has(record.name));
    await Promise.all(targets.map((thread) => this.#commit(thread, record, rateState)));
    return this.#infoOf(entry);
  }

  #commit (thread: SchedulerThread, record: FunctionRecord, rateState: SharedArrayBuffer | undefined): Promise<void> {
    thread.broken.delete(record.name);
    thread.installed.set(record.name, record.version);
    return thread.request({ t: 'commit', record, rateState }).catch((error: Error) => {
      // The source compiled on another thread; one that fails here is skipped for this function.
      if (thread.installed.get(record.name) !== record.version) return; // a later version was committed since
      thread.broken.set(record.name, record.version);
      thread.installed.delete(record.name);
      this.#options.onWarning(`function ${record.name} version ${record.version} did not install on scheduler thread ${thread.index}: ${error.message}`);
    });
  }

  /** Where a deploy compiles: the thread with the fewest invocations in flight, then with the fewest functions. */
  #leastLoaded (): SchedulerThread | undefined {
    let best: SchedulerThread | undefined;
    for (const thread of this.#threads) {
      if (!thread.accepting || thread.stalled) continue;
      if (best === undefined || thread.inFlight < best.inFlight || (thread.inFlight === best.inFlight && thread.installed.size < best.installed.size)) best = thread;
    }
    return best;
  }

  /**
   * The thread an invocation goes to: the fewest in flight, counting a thread without a live
   * instance of the function as a little busier, and one that has not compiled it as a little more:
   * an idle thread still wins over waiting behind another invocation, while among equally loaded
   * threads the warm one does.
   * A chosen thread that lacks the current version gets it committed first (it compiles it, from
   * the cache for C, and runs the invocation after).
   */
  #dispatch (entry: FunctionEntry): SchedulerThread | undefined {
    let best: SchedulerThread | undefined;
    let bestLoad = Infinity;
    const { name, record } = entry;
    for (const thread of this.#threads) {
      if (!thread.accepting || thread.broken.get(name) === record.version) continue;
      // A stalled thread takes work only when every thread is stalled (it may be back soon).
      const load = (thread.stalled ? kStalledLoad : 0) + thread.inFlight + (thread.instances.get(name) === record.version ? 0 : thread.installed.get(name) === record.version ? kNoInstanceLoad : kNotInstalledLoad);
      if (load < bestLoad) {
        best = thread;
        bestLoad = load;
      }
    }
    if (best !== undefined && best.installed.get(name) !== record.version) void this.#commit(best, record, entry.rateState);
    return best;
  }

  #answer (id: number, result: InvokeResult): void {
    const call = this.#take(id);
    if (call === undefined) return;
    countResult(call.entry.stats, result);
    countResult(this.#totals, result);
    if (call.options.onResult !== undefined) {
      try {
        call.options.onResult(result);
      } catch {
        // The caller's listener failing must not stop the others; the promise still settles.
      }
    }
    call.resolve(result);
  }

  /** Ends a call from here (its thread is gone or the engine closes). */
  #fail (id: number, error: ErrorRecord): void {
    const call = this.#calls.get(id);
    if (call === undefined) return;
    this.#answer(id, { ok: false, error, usage: emptyUsage(), logs: [], version: call.version });
  }

  #take (id: number): Call | undefined {
    const call = this.#calls.get(id);
    if (call === undefined) return undefined;
    this.#calls.delete(id);
    call.entry.inFlight--;
    call.thread.inFlight--;
    if (call.onAbort !== undefined) call.options.signal!.removeEventListener('abort', call.onAbort);
    return call;
  }

  /** A thread died: its invocations fail, and a new thread takes its place. */
  #replace (dead: SchedulerThread, reason: string): void {
    for (const [id, call] of this.#calls) {
      if (call.thread === dead) this.#fail(id, { code: 'ERR_INTERNAL', message: `the scheduler thread running this invocation stopped (${reason})` });
    }
    if (this.#closed) return;
    // A thread that dies young (its plugins do not load) is not restarted in a tight loop.
    const delayMs = performance.now() - dead.startedAt < kYoungThreadMs ? kRestartDelayMs : 0;
    this.#options.onWarning(`scheduler thread ${dead.index} stopped (${reason}); starting a new one${delayMs > 0 ? ` in ${delayMs} ms` : ''}`);
    const start = (): void => {
      if (this.#closed) return;
      // The new thread starts empty and compiles each function with its first invocation there.
      this.#threads[this.#threads.indexOf(dead)] = this.#startThread(dead.index);
    };
    if (delayMs > 0) setTimeout(start, delayMs).unref();
    else start();
  }

  #infoOf (entry: FunctionEntry): FunctionInfo {
    const { record } = entry;
    let instances = 0;
    for (const thread of this.#threads) if (thread.instances.get(entry.name) === record.version) instances++;
    const state = entry.unavailable !== undefined ? 'unavailable' : instances > 0 ? 'ready' : 'compiled';
    return functionInfo(record, { state, inFlight: entry.inFlight, instances, unavailable: entry.unavailable });
  }

  #assertOpen (): void {
    if (this.#closed) throw new EngineError('ERR_CLOSED', 'the engine is closed');
  }
}

function rateStateFor (record: FunctionRecord): SharedArrayBuffer | undefined {
  return record.budget.netRateBytesPerSec > 0 ? new TokenBucket(record.budget.netRateBytesPerSec).state : undefined;
}
