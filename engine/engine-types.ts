import type { Budget } from './budget.ts';
import type { ErrorRecord } from './errors.ts';
import type { FunctionStats } from './function-stats.ts';
import type { VersionState } from './function-version.ts';
import type { InvokeResult } from './invocation.ts';
import type { SchedulerStats } from './scheduler.ts';
import type { InstanceStats } from './executor.ts';
import type { InvocationRequest } from './plugin.ts';

/** What callers of the engine pass and get back: the public shapes of deploy, invoke, list, stats and health. */

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
  /** The HTTP request the invocation answers (the HTTP front fills it): plugins with an HTTP-shaped entry read it. */
  readonly request?: InvocationRequest;
  /** How many ctx.invoke calls deep the invocation is: the engine sets it for a function's calls; other callers leave it unset (0). */
  readonly depth?: number;
}

export interface DeployOptions {
  readonly signal?: AbortSignal;
  /**
   * Deploy-time variables the function reads (JavaScript's Workers format: `env`), stored with it.
   * At most 64, names `[A-Za-z_][A-Za-z0-9_]*` of at most 128 characters, values of at most 4 KiB
   * (UTF-8). Never logged; `list` shows the names only.
   */
  readonly env?: Readonly<Record<string, string>>;
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
  /** The names of its deploy-time variables, sorted (their values are never shown); absent when it has none. */
  readonly envKeys?: readonly string[];
  readonly inFlight: number;
  /** Live sandboxes of the current version: 0 or 1 on one thread; up to one per worker thread on many. */
  readonly instances: number;
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
  /** Live sandboxes against the instance-memory ceiling, evictions and restores (all threads). */
  readonly instances: InstanceStats;
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

/** Whether the engine can serve: false while draining or closed, or while a scheduler thread is stalled or missing. */
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
