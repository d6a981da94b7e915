import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineHealth, ThreadHealth, ThreadStats } from '../engine-types.ts';
import { EngineError, type ErrorRecord } from '../errors.ts';
import type { ExecuteOptions, Executor, InstanceStats, VersionStatus } from '../executor.ts';
import { emptyUsage } from '../budget.ts';
import type { InvokeResult } from '../invocation.ts';
import { TokenBucket } from '../network/token-bucket.ts';
import type { FilledEngineOptions } from '../options.ts';
import type { LanguageInfo } from '../plugin.ts';
import type { FunctionRecord } from '../registry.ts';
import type { SchedulerStats } from '../scheduler.ts';
import { kThreadStalledMs } from './heartbeat.ts';
import type { ThreadInit } from './messages.ts';
import { SchedulerThread, type ThreadListener } from './scheduler-thread.ts';
import type { EngineCalls } from '../invoke/engine-calls.ts';

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

/** A function in service: the committed record and the balance of its rate limit, shared by every thread. */
interface Deployed {
  record: FunctionRecord;
  rateState: SharedArrayBuffer | undefined;
}

/** An invocation sent to a thread and not yet answered. */
interface Call {
  readonly thread: SchedulerThread;
  readonly version: number;
  /** When it was accepted (performance.now()), and its wall budget: the watchdog ends it on time if its thread stalls. */
  readonly acceptedAt: number;
  readonly wallMs: number;
  readonly options: ExecuteOptions;
  readonly resolve: (result: InvokeResult) => void;
  readonly reject: (error: EngineError) => void;
  readonly onAbort: (() => void) | undefined;
}

/**
 * The executor on many cores: N scheduler threads (worker_threads, thread-main.ts), each hosting a
 * local executor with the functions sent to it; this thread runs no guest code.
 *
 * A function is compiled on one thread at deploy and on another when dispatch first sends it
 * there. Dispatch sends an invocation to the thread with the fewest invocations in flight, a
 * thread without a warm instance counting a little busier, so a function that is called one at a
 * time keeps one instance on one thread and a busy one spreads over every core. Each thread's
 * scheduler is fair between the functions it runs.
 *
 * Budgets hold per invocation on whichever thread runs it; a function's byte rate is one balance
 * shared by all threads; memory budgets that cover a function's whole state hold per thread, since
 * each thread has its own instance. A thread that dies (a fault in a plugin) fails its invocations
 * with ERR_INTERNAL and is replaced; a thread whose heartbeat stands still is avoided, and given up
 * after threadStuckMs.
 */
export class ThreadExecutor implements Executor {
  readonly #options: FilledEngineOptions;
  readonly #threads: SchedulerThread[] = [];
  readonly #deployed = new Map<string, Deployed>();
  /** The thread each prepared version was compiled on, by "name@version". */
  readonly #preparedOn = new Map<string, SchedulerThread>();
  /** Rate balances of versions prepared and not yet committed, by "name@version". */
  readonly #pendingRates = new Map<string, SharedArrayBuffer | undefined>();
  readonly #calls = new Map<number, Call>();
  readonly #protected: { host: string, port: number }[] = [];
  readonly #init: Omit<ThreadInit, 'index' | 'heartbeat' | 'preempt'>;
  readonly #watchdog: NodeJS.Timeout;
  /** A cache dir this executor made (no data dir): removed at close. */
  readonly #ownCacheDir: string | undefined;
  #languages: readonly LanguageInfo[] = [];
  #engineCalls: EngineCalls | undefined;
  #nextCall = 1;
  #closed = false;

  private constructor (options: FilledEngineOptions, cacheDir: string, ownCacheDir: boolean) {
    this.#options = options;
    this.#ownCacheDir = ownCacheDir ? cacheDir : undefined;
    const { sliceMs, maxSourceBytes, maxOutputBytes, maxLogBytes, compileTimeoutMs, netRequestTimeoutMs, netAllowPrivate, maxResponseBytes, defaultBudget } = options;
    const maxInstanceMemoryBytes = Math.max(1, Math.floor(options.maxInstanceMemoryBytes / options.workers));
    this.#init = {
      threads: options.workers,
      pluginModule: options.pluginModule!,
      options: { cacheDir, sliceMs, maxSourceBytes, maxOutputBytes, maxLogBytes, compileTimeoutMs, netRequestTimeoutMs, netAllowPrivate, maxResponseBytes, defaultBudget, maxInstanceMemoryBytes },
    };
    this.#watchdog = setInterval(() => this.#watch(), kWatchdogEveryMs);
    this.#watchdog.unref();
  }

  /** Starts the threads and waits until each has loaded its plugins. */
  static async start (options: FilledEngineOptions): Promise<ThreadExecutor> {
    // Threads compile each function once more after the first: a cache dir makes that a cache hit for C.
    const cacheDir = options.cacheDir ?? await mkdtemp(join(tmpdir(), 'springbok-cache-'));
    const executor = new ThreadExecutor(options, cacheDir, options.cacheDir === undefined);
    try {
      for (let index = 0; index < options.workers; index++) executor.#threads.push(executor.#startThread(index));
      const languages = await Promise.all(executor.#threads.map((thread) => thread.ready));
      executor.#languages = languages[0]!;
    } catch (error) {
      await executor.close();
      throw error;
    }
    return executor;
  }

  get languages (): readonly LanguageInfo[] {
    return this.#languages;
  }

  get loadConcurrency (): number {
    return this.#threads.length;
  }

  serveCalls (calls: EngineCalls): void {
    this.#engineCalls = calls;
  }

  protectAddress (host: string, port: number): void {
    this.#protected.push({ host, port });
    for (const thread of this.#threads) thread.post({ t: 'protect', host, port });
  }

  /** Compiles a new version on one thread, which checks the source for all of them. */
  async prepare (record: FunctionRecord, signal?: AbortSignal): Promise<void> {
    const thread = this.#leastLoaded();
    if (thread === undefined) throw new EngineError('ERR_CLOSED', 'the engine is closing');
    const prepared = thread.request({ t: 'prepare', record, rateState: this.#rateStateFor(record) });
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
    this.#preparedOn.set(keyOf(record), thread);
  }

  discard (record: FunctionRecord): void {
    const thread = this.#preparedOn.get(keyOf(record));
    this.#preparedOn.delete(keyOf(record));
    this.#pendingRates.delete(keyOf(record));
    thread?.post({ t: 'discard', name: record.name, version: record.version });
  }

  /**
   * Makes `record` the function's current version: on the thread that prepared it, and on every
   * thread that has an older version (so none keeps running it, and those stay warm). The commits
   * are posted before anything else can be dispatched, so every invocation accepted after this call
   * runs the new version; a thread without the function gets it with its first invocation (#dispatch).
   */
  async commit (record: FunctionRecord): Promise<void> {
    const prepared = this.#preparedOn.get(keyOf(record));
    this.#preparedOn.delete(keyOf(record));
    const rateState = this.#rateStateFor(record);
    this.#pendingRates.delete(keyOf(record));
    this.#deployed.set(record.name, { record, rateState });
    const targets = this.#threads.filter((thread) => thread === prepared || thread.installed.has(record.name));
    await Promise.all(targets.map((thread) => this.#commitOn(thread, record, rateState)));
  }

  /** A stored function, compiled on the thread with the fewest functions; others compile it when first sent there. */
  async load (record: FunctionRecord): Promise<void> {
    const thread = this.#threads.filter((candidate) => candidate.accepting).sort((a, b) => a.installed.size - b.installed.size)[0];
    if (thread === undefined) throw new EngineError('ERR_CLOSED', 'the engine is closing');
    const rateState = this.#rateStateFor(record);
    this.#pendingRates.delete(keyOf(record));
    thread.installed.set(record.name, record.version);
    try {
      await thread.request({ t: 'commit', record, rateState });
    } catch (error) {
      thread.installed.delete(record.name);
      throw error;
    }
    this.#deployed.set(record.name, { record, rateState });
  }

  async remove (name: string): Promise<void> {
    this.#deployed.delete(name);
    const holders = this.#threads.filter((thread) => thread.installed.has(name));
    for (const thread of this.#threads) {
      thread.installed.delete(name);
      thread.broken.delete(name);
    }
    await Promise.all(holders.map((thread) => thread.request({ t: 'remove', name }).catch((error: Error) => {
      this.#options.onWarning(`removing ${name} from scheduler thread ${thread.index}: ${error.message}`);
    })));
  }

  invoke (name: string, input: Uint8Array, options: ExecuteOptions): Promise<InvokeResult> {
    const deployed = this.#deployed.get(name);
    if (deployed === undefined) return Promise.reject(new EngineError('ERR_UNKNOWN_FUNCTION', `no function named ${JSON.stringify(name)} is deployed`));
    const thread = this.#dispatch(deployed);
    if (thread === undefined) return Promise.reject(new EngineError('ERR_UNAVAILABLE', `no scheduler thread can run ${name} now`));
    const id = this.#nextCall++;
    thread.inFlight++;
    return new Promise((resolve, reject) => {
      const { signal } = options;
      const onAbort = signal === undefined ? undefined : (): void => {
        const reason: unknown = signal.reason;
        thread.post({ t: 'cancel', id, message: reason instanceof Error ? reason.message : String(reason) });
      };
      if (onAbort !== undefined) signal!.addEventListener('abort', onAbort, { once: true });
      const acceptedAt = performance.now() - (options.acceptedMsAgo ?? 0);
      this.#calls.set(id, { thread, version: deployed.record.version, acceptedAt, wallMs: deployed.record.budget.wallMs, options, resolve, reject, onAbort });
      thread.invoke(id, name, input, options.request, options.depth ?? 0);
    });
  }

  status (name: string): VersionStatus {
    const deployed = this.#deployed.get(name);
    if (deployed === undefined) return { state: 'closed', instances: 0 };
    const { version } = deployed.record;
    let instances = 0;
    let evicted = false;
    for (const thread of this.#threads) {
      if (thread.instances.get(name) === version) instances++;
      if (thread.evicted.get(name) === version) evicted = true;
    }
    return { state: instances > 0 ? 'ready' : evicted ? 'evicted' : 'compiled', instances };
  }

  instanceStats (): InstanceStats {
    const sum = { live: 0, evictions: 0, restores: 0, chargedBytes: 0, ceilingBytes: 0 };
    for (const thread of this.#threads) {
      for (const key of Object.keys(sum) as (keyof InstanceStats)[]) sum[key] += thread.snapshot.instances[key];
    }
    return sum;
  }

  schedulerStats (): SchedulerStats {
    const sum: { -readonly [K in keyof SchedulerStats]: number } = { lanesReady: 0, tasksWaiting: 0, slices: 0, turns: 0 };
    for (const thread of this.#threads) {
      for (const key of Object.keys(sum) as (keyof SchedulerStats)[]) sum[key] += thread.snapshot.scheduler[key];
    }
    return sum;
  }

  threadStats (): readonly ThreadStats[] {
    return this.#threads.map((thread) => ({ inFlight: thread.inFlight, functions: thread.installed.size, instances: thread.instances.size, heapUsedBytes: thread.snapshot.heapUsedBytes, externalBytes: thread.snapshot.externalBytes, scheduler: thread.snapshot.scheduler }));
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
    call: (thread, id, call) => {
      if (this.#engineCalls === undefined) {
        thread.post({ t: 'answer', id, answer: { ok: false, error: { code: 'ERR_INTERNAL', message: 'this engine offers no ctx.invoke or kv' } } });
        return;
      }
      thread.calls.serve(this.#engineCalls, id, call, (answered, answer) => thread.post({ t: 'answer', id: answered, answer }));
    },
    exited: (thread, reason) => this.#replace(thread, reason),
  };

  #commitOn (thread: SchedulerThread, record: FunctionRecord, rateState: SharedArrayBuffer | undefined): Promise<void> {
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

  /** The balance of a function's rate limit, one per version, shared by every thread that runs it. */
  #rateStateFor (record: FunctionRecord): SharedArrayBuffer | undefined {
    const deployed = this.#deployed.get(record.name);
    if (deployed?.record === record) return deployed.rateState;
    const key = keyOf(record);
    if (this.#pendingRates.has(key)) return this.#pendingRates.get(key);
    const state = record.budget.netRateBytesPerSec > 0 ? new TokenBucket(record.budget.netRateBytesPerSec).state : undefined;
    this.#pendingRates.set(key, state);
    return state;
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
  #dispatch (deployed: Deployed): SchedulerThread | undefined {
    let best: SchedulerThread | undefined;
    let bestLoad = Infinity;
    const { record } = deployed;
    const { name } = record;
    for (const thread of this.#threads) {
      if (!thread.accepting || thread.broken.get(name) === record.version) continue;
      // A stalled thread takes work only when every thread is stalled (it may be back soon).
      const load = (thread.stalled ? kStalledLoad : 0) + thread.inFlight + (thread.instances.get(name) === record.version ? 0 : thread.installed.get(name) === record.version ? kNoInstanceLoad : kNotInstalledLoad);
      if (load < bestLoad) {
        best = thread;
        bestLoad = load;
      }
    }
    if (best !== undefined && best.installed.get(name) !== record.version) void this.#commitOn(best, record, deployed.rateState);
    return best;
  }

  #answer (id: number, result: InvokeResult): void {
    const call = this.#take(id);
    if (call === undefined) return;
    call.options.onResult(result);
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
}

function keyOf (record: FunctionRecord): string {
  return `${record.name}@${record.version}`;
}
