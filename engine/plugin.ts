import type { Budget } from './budget.ts';
import type { ErrorRecord } from './errors.ts';
import type { KvOperation, KvReply } from './kv/kv-types.ts';

/**
 * The contract every language implements. The engine knows nothing else about a language:
 * it never imports a plugin; plugins are passed in at construction (see the CLI's plugin list).
 *
 * Life of a function:  compile(source) → Artifact   (once per deploy, and at each engine start)
 *                      instantiate(artifact, budget) → Sandbox   (when first invoked: the cold start)
 *                      sandbox.invoke(input, context) → Fiber    (once per invocation)
 *                      fiber.run(slice) … until 'done' or 'failed'  (the scheduler calls it, slice by slice)
 *
 * See doc/plugins.md for a step-by-step walk through the reference plugin (plugins/sm).
 */
export interface LanguagePlugin {
  /** The name users deploy with: `springbok deploy <language> ...`. Lowercase, no spaces. */
  readonly language: string;
  /** What this plugin's memory budget covers and the least it can run in (doc/budgets.md). Default: per invocation, 64 KiB. */
  readonly memory?: MemoryRule;
  /**
   * Checks and translates a source. Rejections are EngineError ERR_COMPILE with a message a user can act on.
   * May run out of process; must honour `signal` (deploy timeout, engine close).
   */
  compile (source: Uint8Array, options: CompileOptions): Promise<Artifact>;
  /** Makes a runnable instance of an artifact under a budget. The engine keeps it while the function is deployed. */
  instantiate (artifact: Artifact, budget: Budget, options?: InstanceOptions): Promise<Sandbox>;
  /** Releases what the plugin holds beyond its sandboxes (pools, threads). Called once by Engine.close, after every sandbox is closed. */
  close? (): Promise<void>;
}

/** What the module that builds an engine's plugins is told (EngineOptions.pluginModule's export is called with it on each scheduler thread). */
export interface PluginContext {
  /** Scheduler threads that each build their own plugins: bounds meant for the whole process are shared out between them. */
  readonly schedulerThreads: number;
}

/** What a plugin's memory budget means. */
export interface MemoryRule {
  /**
   * 'invocation': each invocation's own memory, checked as it runs. 'instance': the whole sandbox
   * (module state and every invocation in flight on it together).
   */
  readonly scope: 'invocation' | 'instance';
  /** The smallest budget the plugin can honour; a deploy asking for less is refused (never rounded up). */
  readonly minimumBytes: number;
  /**
   * What one live, idle instance of a trivial function holds in the process, in bytes, as measured
   * (the density experiment): what the instance-memory ceiling charges a sandbox before its
   * invocations report more. Default 256 KiB.
   */
  readonly idleInstanceBytes?: number;
}

/** A language as the control plane sees it (a thread executor's plugins live on other threads). */
export interface LanguageInfo {
  readonly language: string;
  readonly memory: MemoryRule;
}

export const kDefaultMemoryRule: MemoryRule = Object.freeze({ scope: 'invocation', minimumBytes: 64 * 1024 });

/** The plugin's language and memory rule, defaults filled. */
export function languageInfo (plugin: LanguagePlugin): LanguageInfo {
  return { language: plugin.language, memory: plugin.memory ?? kDefaultMemoryRule };
}

export interface CompileOptions {
  readonly signal: AbortSignal;
  /**
   * A directory this plugin may use to cache compiled artifacts across restarts, keyed by content
   * hash (`<data-dir>/cache/<language>`; created by the plugin when it first writes). Undefined when
   * the engine has no data dir. Whatever is read back from it must be checked like untrusted input.
   */
  readonly cacheDir?: string;
}

/** What an instance is given beyond its artifact and budget. */
export interface InstanceOptions {
  /**
   * The function's deploy-time variables (`deploy --env KEY=VALUE`), names checked by the engine.
   * A plugin that offers them hands them to the function; none may log them.
   */
  readonly env?: Readonly<Record<string, string>> | undefined;
}

/** Whatever compile() produced; only its own plugin looks inside. */
export type Artifact = unknown;

/** A live instance of one function version. Owned by the engine, closed when the version is replaced or removed and idle. */
export interface Sandbox {
  /**
   * Starts one invocation. Must not run guest code yet: the first run() does. The engine does not
   * change `input` until the invocation ends, so a fiber may read it in place across slices.
   */
  invoke (input: Uint8Array, context: InvocationContext): Fiber;
  /** Releases the instance. Idempotent. Called only when no fiber of it is live. */
  close (): Promise<void>;
}

/** What the engine offers a running invocation. */
export interface InvocationContext {
  readonly budget: Budget;
  /** Appends a line to the invocation's bounded log (never the engine's stdout). */
  log (line: string): void;
  /**
   * Performs an outbound HTTP request for the function, charged to its network budget. A plugin
   * calls it from run(), returns `{state: 'wait', until}` on the promise, and hands the settled
   * value to the guest on the next run(). Rejects with EngineError (ERR_NETWORK_BUDGET for a denied
   * or over-budget request), which the guest should see as a catchable error.
   */
  fetch (request: FetchRequest): Promise<FetchResponse>;
  /**
   * Runs another function as its own invocation, under its own budget (ctx.invoke), and resolves
   * with its output. A plugin waits for it as for fetch (`{state: 'wait'}`: the wait uses no CPU).
   * Rejects with EngineError: the callee's own code when it failed, ERR_INVOKE_DENIED (the deploy
   * does not allow that callee), ERR_INVOKE_BUDGET (invokeCalls used up), ERR_INVOKE_DEPTH (the
   * chain of calls is too deep), or a refusal (ERR_UNKNOWN_FUNCTION, ERR_QUEUE_FULL...). The guest
   * should see each as a catchable error with that code.
   */
  invoke (name: string, input: Uint8Array): Promise<Uint8Array>;
  /**
   * A kv operation on the function's own namespace or a granted one (engine/kv/kv-types.ts),
   * waited for like fetch. Rejects with EngineError ERR_KV_DENIED, ERR_KV_BUDGET, or ERR_FUNCTION
   * for a malformed key.
   */
  kv (operation: KvOperation): Promise<KvReply>;
  /**
   * The HTTP request the invocation answers, when a dispatcher that speaks HTTP has one (the HTTP
   * front); undefined otherwise (the socket protocol, in-process callers). Plugins that offer an
   * HTTP-shaped entry (the JavaScript Workers format) read it; others ignore it.
   */
  readonly request?: InvocationRequest | undefined;
}

/** Header name/value pairs in order; a name may repeat. */
export type HeaderList = readonly (readonly [string, string])[];

/** An invocation's HTTP request, as the dispatcher received it (its body is the invocation's input). */
export interface InvocationRequest {
  readonly method: string;
  /** Absolute URL, e.g. `http://host/path?query`. */
  readonly url: string;
  readonly headers: HeaderList;
}

/** The HTTP answer a function chose for its output (its body is the output), from plugins that offer one. */
export interface InvocationResponse {
  /** 200 to 599. */
  readonly status: number;
  readonly headers: HeaderList;
}

/** An outbound request as a function makes it (the calling convention is final; see doc/plugins.md). */
export interface FetchRequest {
  readonly url: string;
  /** Default GET. */
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
}

export interface FetchResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/**
 * One invocation, run in slices. run() is synchronous: it runs guest code until the guest finishes,
 * fails, or `slice.endsAt` (a performance.now() timestamp) passes, whichever is first, then returns.
 * The scheduler charges the time spent inside run() to the invocation's CPU budget and bounds each
 * slice by what is left of it, so a plugin only has to check the clock often enough (every few
 * microseconds of guest work) to keep a slice close to its length.
 */
export interface Fiber {
  run (slice: Slice): SliceOutcome;
  /**
   * The invocation's memory high-water mark so far, in bytes (what counts is the plugin's to define
   * and document). The engine reads it after each slice and reports the largest value as usage.
   */
  readonly memoryBytes: number;
  /**
   * CPU time the invocation used outside run(), in ms: work a plugin runs on another thread (V8
   * isolates) while the fiber waits. The engine adds it to the time it measures around run() and
   * holds it to the same CPU budget. Plugins that run only inside run() leave it undefined.
   */
  readonly offThreadCpuMs?: number;
  /** Ends the fiber early (timeout, cancellation, budget). No run() follows. Idempotent. */
  cancel (reason: ErrorRecord): void;
}

export interface Slice {
  /** performance.now() value at which run() must return. */
  readonly endsAt: number;
}

/**
 * How a slice ended.
 * - done: the output bytes (and, from a function that chose one, the HTTP status and headers to answer them with); the fiber is finished.
 * - failed: a guest error or budget breach detected by the plugin (e.g. ERR_MEMORY_BUDGET, ERR_TRAP).
 * - yield: the slice ran out; call run() again later.
 * - wait: the fiber is parked on host work (a network request, another thread); it uses no CPU slice
 *   until `until` settles, then run() is called again. Its wall-clock deadline still applies.
 * - continue: the fiber's slice runs on this thread right after the scheduler gives the thread back
 *   (a JSPI stack resumed by a promise reaction cannot run inside run()). The scheduler ends its turn
 *   at once, so that slice is the next thing the thread does, and parks the fiber until `until`
 *   settles (the guest suspended again or finished). The plugin bounds the slice to the time run()
 *   was given and reports it through offThreadCpuMs.
 */
export type SliceOutcome =
  | { readonly state: 'done', readonly output: Uint8Array, readonly response?: InvocationResponse | undefined }
  | { readonly state: 'failed', readonly error: ErrorRecord }
  | { readonly state: 'yield' }
  | { readonly state: 'wait', readonly until: Promise<unknown> }
  | { readonly state: 'continue', readonly until: Promise<unknown> };

/** Shared singletons so the hot path does not allocate an object per slice. */
export const kYield: SliceOutcome = Object.freeze({ state: 'yield' });
