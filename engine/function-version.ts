import type { ErrorRecord } from './errors.ts';
import type { Artifact, LanguagePlugin, Sandbox } from './plugin.ts';
import type { FunctionRecord } from './registry.ts';
import { TokenBucket } from './network/token-bucket.ts';
import type { ColdStartGate } from './cold-start-gate.ts';

/**
 * One deployed version of a function: its record, compiled artifact and (once invoked) its sandbox.
 *
 * Lifecycle:  compiled ──first invoke──► starting ──► ready ──redeploy/remove──► retired ──last invocation ends──► closed
 *                                           ▲           │ idle, under memory pressure
 *                                           └─ next ────┴──► evicted (sandbox closed; the artifact stays)
 *                                              invoke (a restore)
 *             (or `unavailable` from the start, when a stored source no longer compiles)
 * Invocations already running on a retired version finish on it; new ones go to the current version.
 */
export type VersionState = 'compiled' | 'starting' | 'ready' | 'evicted' | 'unavailable' | 'retired' | 'closed';

/** Why a version's sandbox went away: closed with its version, or evicted while the version stays in service. */
export type InstanceEnd = 'closed' | 'evicted';

/** What a version may be given beyond its record: why it cannot run, a rate balance to share, a listener. */
export interface VersionExtras {
  readonly unavailable?: ErrorRecord;
  /** The state of the function's TokenBucket on another thread, so the rate holds across threads. */
  readonly rateState?: SharedArrayBuffer;
  /** Told when this version's sandbox comes to life (live) and when it is closed or evicted. */
  readonly onInstance?: (version: FunctionVersion, live: boolean, end?: InstanceEnd) => void;
  /** Spreads the thread's cold starts over event-loop tasks (cold-start-gate.ts). */
  readonly coldStarts?: ColdStartGate;
}

export class FunctionVersion {
  readonly record: FunctionRecord;
  readonly plugin: LanguagePlugin | undefined;
  readonly artifact: Artifact;
  /** Why this version cannot run, when state is 'unavailable'. */
  readonly unavailable: ErrorRecord | undefined;
  state: VersionState;
  /** Invocations that hold this version (accepted and not yet finished). */
  live = 0;
  /** The function's outbound byte rate, shared by all invocations of this version. */
  readonly bucket: TokenBucket | undefined;
  #sandbox: Sandbox | undefined;
  #starting: Promise<Sandbox> | undefined;
  readonly #onInstance: ((version: FunctionVersion, live: boolean, end?: InstanceEnd) => void) | undefined;
  readonly #coldStarts: ColdStartGate | undefined;

  constructor (record: FunctionRecord, plugin: LanguagePlugin | undefined, artifact: Artifact, extras: VersionExtras = {}) {
    this.record = record;
    this.plugin = plugin;
    this.artifact = artifact;
    this.unavailable = extras.unavailable;
    this.state = extras.unavailable === undefined ? 'compiled' : 'unavailable';
    this.bucket = record.budget.netRateBytesPerSec > 0 ? new TokenBucket(record.budget.netRateBytesPerSec, extras.rateState) : undefined;
    this.#onInstance = extras.onInstance;
    this.#coldStarts = extras.coldStarts;
  }

  /** The sandbox when it is ready, so the hot path needs no promise. */
  get sandbox (): Sandbox | undefined { return this.#sandbox; }

  /** Instantiates once (the cold start); concurrent callers share the one instantiation. A failure is not cached. */
  start (): Promise<Sandbox> {
    if (this.#sandbox !== undefined) return Promise.resolve(this.#sandbox);
    if (this.#starting === undefined) {
      if (this.state === 'compiled' || this.state === 'evicted') this.state = 'starting';
      const instantiate = (): Promise<Sandbox> => this.plugin!.instantiate(this.artifact, this.record.budget, { env: this.record.env });
      this.#starting = (this.#coldStarts?.run(instantiate) ?? instantiate()).then((sandbox) => {
        this.#starting = undefined;
        if (this.state === 'closed') {
          void sandbox.close();
          return sandbox;
        }
        this.#sandbox = sandbox;
        if (this.state === 'starting') this.state = 'ready';
        this.#onInstance?.(this, true);
        return sandbox;
      }, (error: unknown) => {
        this.#starting = undefined;
        if (this.state === 'starting') this.state = 'compiled';
        throw error;
      });
    }
    return this.#starting;
  }

  /**
   * Closes an idle sandbox to give its memory back; the version stays in service and its next
   * invocation instantiates it again. False (nothing done) unless it is ready and idle.
   */
  evict (): boolean {
    const sandbox = this.#sandbox;
    if (this.state !== 'ready' || this.live > 0 || sandbox === undefined) return false;
    this.state = 'evicted';
    this.#sandbox = undefined;
    sandbox.close().catch(() => {});
    this.#onInstance?.(this, false, 'evicted');
    return true;
  }

  /** Marks the version replaced or removed; closes it now if idle, else when its last invocation ends. */
  retire (): void {
    if (this.state === 'closed' || this.state === 'retired') return;
    this.state = 'retired';
    if (this.live === 0) this.close();
  }

  /** Called when an invocation on this version ends. */
  release (): void {
    this.live--;
    if (this.live === 0 && this.state === 'retired') this.close();
  }

  close (): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const sandbox = this.#sandbox;
    this.#sandbox = undefined;
    // A sandbox that fails to close has nothing left to tell its caller; the engine goes on.
    if (sandbox !== undefined) {
      sandbox.close().catch(() => {});
      this.#onInstance?.(this, false, 'closed');
    }
  }
}
