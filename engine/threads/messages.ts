import type { SchedulerStats } from '../scheduler.ts';
import type { ErrorRecord } from '../errors.ts';
import type { RecordsMessage } from './outbox.ts';
import type { FunctionRecord } from '../registry.ts';
import type { Budget } from '../budget.ts';
import type { LanguageInfo } from '../plugin.ts';
import type { InstanceStats } from '../executor.ts';
import type { InstanceEnd } from '../function-version.ts';
import type { CallMessage, RemoteAnswer } from '../invoke/remote-calls.ts';

/**
 * What the main thread and a scheduler thread of a multi-core engine say to each other. Messages
 * travel in arrays (one postMessage per batch), because a postMessage costs about as much as a
 * trivial invocation.
 */

/** What a scheduler thread is built from (its workerData). */
export interface ThreadInit {
  readonly index: number;
  /** How many scheduler threads the engine runs (its plugins are built once per thread). */
  readonly threads: number;
  /** The thread's heartbeat counter (heartbeat.ts), bumped while its event loop runs. */
  readonly heartbeat: SharedArrayBuffer;
  /** The thread's preemption flag (preemption.ts), raised by the main thread as it sends work. */
  readonly preempt: SharedArrayBuffer;
  /** The module whose export builds this thread's plugins, and that export's name. */
  readonly pluginModule: { readonly url: string, readonly export: string };
  readonly options: {
    readonly cacheDir: string;
    readonly sliceMs: number;
    readonly maxSourceBytes: number;
    readonly maxOutputBytes: number;
    readonly maxLogBytes: number;
    readonly compileTimeoutMs: number;
    readonly netRequestTimeoutMs: number;
    readonly netAllowPrivate: readonly string[];
    readonly maxResponseBytes: number;
    readonly defaultBudget: Budget;
    /** This thread's share of the engine's instance-memory ceiling. */
    readonly maxInstanceMemoryBytes: number;
  };
}

/** Invocations (main → thread, records.ts writeInvoke) and results (thread → main, writeResult) travel as records. */
export type ToThread =
  | RecordsMessage
  | { readonly t: 'cancel', readonly id: number, readonly message: string }
  /** Compile a new version and hold it until its commit (or discard). */
  | { readonly t: 'prepare', readonly request: number, readonly record: FunctionRecord, readonly rateState: SharedArrayBuffer | undefined }
  /** Put a version in service: the prepared one, or compiled now (a thread that did not prepare it). */
  | { readonly t: 'commit', readonly request: number, readonly record: FunctionRecord, readonly rateState: SharedArrayBuffer | undefined }
  | { readonly t: 'discard', readonly name: string, readonly version: number }
  | { readonly t: 'remove', readonly request: number, readonly name: string }
  | { readonly t: 'protect', readonly host: string, readonly port: number }
  /** The answer to a ctx.invoke or kv call the thread sent (remote-calls.ts). */
  | { readonly t: 'answer', readonly id: number, readonly answer: RemoteAnswer }
  | { readonly t: 'close' };

/** What a thread reports of its scheduler and heap, a few times a second while it works. */
export interface ThreadSnapshot {
  readonly scheduler: SchedulerStats;
  readonly instances: InstanceStats;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
}

export type FromThread =
  | RecordsMessage
  /** A running invocation's ctx.invoke or kv call, or the cancel of one (remote-calls.ts). */
  | CallMessage
  | { readonly t: 'ready', readonly languages: readonly LanguageInfo[] }
  /** invoke refused the request (unknown function, closed): the caller's promise rejects. */
  | { readonly t: 'refused', readonly id: number, readonly error: ErrorRecord }
  | { readonly t: 'done', readonly request: number, readonly error?: ErrorRecord }
  | { readonly t: 'instance', readonly name: string, readonly version: number, readonly live: boolean, readonly end?: InstanceEnd | undefined }
  | { readonly t: 'snapshot', readonly snapshot: ThreadSnapshot }
  | { readonly t: 'warning', readonly message: string }
  | { readonly t: 'closed' };
