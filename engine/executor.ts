import type { EngineHealth, ThreadStats } from './engine-types.ts';
import type { VersionState } from './function-version.ts';
import type { InvokeResult } from './invocation.ts';
import type { InvocationRequest, LanguageInfo } from './plugin.ts';
import type { FunctionRecord } from './registry.ts';
import type { EngineCalls } from './invoke/engine-calls.ts';
import type { SchedulerStats } from './scheduler.ts';

/** How an executor is asked to run one invocation: the control plane has already admitted it. */
export interface ExecuteOptions {
  readonly signal?: AbortSignal | undefined;
  /** Called exactly once, synchronously, when the invocation ends and before the promise settles. It does not throw. */
  readonly onResult: (result: InvokeResult) => void;
  /** How long ago the invocation was accepted (elsewhere): its wall clock started then. */
  readonly acceptedMsAgo?: number | undefined;
  /** The HTTP request the invocation answers, when the dispatcher has one. */
  readonly request?: InvocationRequest | undefined;
  /** How many ctx.invoke calls deep the invocation is (0: accepted from outside). */
  readonly depth?: number | undefined;
}

/** Live sandboxes against the instance-memory ceiling (instance-ledger.ts), summed over scheduler threads. */
export interface InstanceStats {
  readonly live: number;
  /** Idle sandboxes closed to stay under the ceiling, since the start. */
  readonly evictions: number;
  /** Evicted versions instantiated again by their next invocation, since the start. */
  readonly restores: number;
  /** What the live sandboxes are charged, in bytes. */
  readonly chargedBytes: number;
  readonly ceilingBytes: number;
}

/** What an executor knows of a function's current version right now. */
export interface VersionStatus {
  readonly state: VersionState;
  /** Live sandboxes of that version. */
  readonly instances: number;
}

/**
 * Where functions run, behind the control plane (control-plane.ts), which alone keeps the
 * registry, the admission limits, the counters and the lifecycle. Two implementations: the local
 * executor runs everything on this thread (local-executor.ts); the thread executor spreads
 * functions and invocations over scheduler threads, each hosting a local executor
 * (threads/thread-executor.ts).
 *
 * A deploy is prepare (compile; nothing changes), then, once the record is stored, commit (new
 * invocations of the name run it; those in flight finish on the old version); a deploy that fails
 * between the two discards. load is prepare and commit at once, for a function brought back from
 * the data dir.
 */
export interface Executor {
  /** The languages this executor runs, in plugin order, with their memory rules. */
  readonly languages: readonly LanguageInfo[];
  /** How many stored functions load() may compile at once. */
  readonly loadConcurrency: number;
  /** @throws {EngineError} ERR_UNKNOWN_LANGUAGE, ERR_COMPILE (the message says why), ERR_CLOSED. */
  prepare (record: FunctionRecord, signal?: AbortSignal): Promise<void>;
  commit (record: FunctionRecord): Promise<void>;
  discard (record: FunctionRecord): void;
  /** @throws {EngineError} ERR_COMPILE and the like, when a stored function cannot be brought back. */
  load (record: FunctionRecord): Promise<void>;
  /** Takes the function out of service; its invocations in flight finish. */
  remove (name: string): Promise<void>;
  /**
   * Runs one invocation of the committed version of `name`.
   * @throws {EngineError} ERR_UNAVAILABLE, ERR_UNKNOWN_FUNCTION (as rejections) when it cannot start.
   */
  invoke (name: string, input: Uint8Array, options: ExecuteOptions): Promise<InvokeResult>;
  /** The current version of `name` as this executor holds it. */
  status (name: string): VersionStatus;
  /** Where invocations' ctx.invoke and kv calls go (the control plane, which calls this once, before any invocation). */
  serveCalls (calls: EngineCalls): void;
  /** Marks an address the engine listens on: no function may send requests to it. */
  protectAddress (host: string, port: number): void;
  schedulerStats (): SchedulerStats;
  threadStats (): readonly ThreadStats[] | undefined;
  instanceStats (): InstanceStats;
  health (): EngineHealth;
  /** Ends every invocation in flight with ERR_CLOSED and releases everything. Idempotent. */
  close (): Promise<void>;
}
