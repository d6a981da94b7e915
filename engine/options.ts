import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { kDefaultBudget, resolveBudget, type Budget } from './budget.ts';
import { EngineError } from './errors.ts';
import type { LanguagePlugin } from './plugin.ts';
import type { FunctionRecord, UnreadableRecord } from './registry.ts';
import { parseAddressRange } from './network/address-policy.ts';

/** How an engine is built. Every field but `plugins` has a default (kDefaultOptions). */
export interface EngineOptions {
  /** The languages this engine runs, on the calling thread; the engine itself knows none. Needed unless `workers` ≥ 1. */
  readonly plugins?: readonly LanguagePlugin[];
  /**
   * Scheduler threads (worker_threads) that run invocations, so the engine uses that many cores;
   * 0 (the default) runs everything on the calling thread with `plugins`.
   */
  readonly workers?: number;
  /** With workers ≥ 1: the module every scheduler thread imports, and its export it calls with a PluginContext (a function returning the plugins). */
  readonly pluginModule?: { readonly url: string, readonly export: string };
  /** Where deployed functions are stored; without it nothing survives a restart. */
  readonly dataDir?: string;
  /**
   * Where deployed functions are stored instead of the data dir (which then only holds the cache):
   * a store several engines share (engine/cluster/cluster-store.ts).
   */
  readonly store?: FunctionStore;
  /** Where compiled artifacts are cached (a directory per language); default `<dataDir>/cache`, none without a data dir. */
  readonly cacheDir?: string;
  /** Length of a scheduler slice (and of a lane's turn), in ms. */
  readonly sliceMs?: number;
  /** Invocations accepted and not yet finished, across all functions; past it ERR_QUEUE_FULL. */
  readonly maxInFlight?: number;
  /** The same, for one function, so one tenant cannot take the whole queue. */
  readonly maxInFlightPerFunction?: number;
  /** Largest source a deploy accepts, in bytes. */
  readonly maxSourceBytes?: number;
  /** Largest output an invocation may return, in bytes; past it ERR_OUTPUT_TOO_LARGE. */
  readonly maxOutputBytes?: number;
  /** Log bytes kept per invocation; later lines are dropped and the log says so. */
  readonly maxLogBytes?: number;
  /** Time a plugin may take to compile one source, in ms. */
  readonly compileTimeoutMs?: number;
  /** Time one outbound request may take, in ms (the invocation's wall clock applies too). */
  readonly netRequestTimeoutMs?: number;
  /** Largest outbound response body the engine holds for a function, whatever its byte budget, in bytes. */
  readonly maxResponseBytes?: number;
  /**
   * Non-public address ranges functions may reach, as CIDR (`10.0.0.0/8`) or single addresses
   * (`127.0.0.1`). By default none: loopback, private, link-local (cloud metadata), CGNAT and every
   * other special-purpose range are refused whatever a function's allow-list names. The engine's
   * own listening addresses stay unreachable even inside an opened range.
   */
  readonly netAllowPrivate?: readonly string[];
  /**
   * With workers ≥ 1: a scheduler thread whose event loop has not come back for this long (stuck in
   * native code or in guest code that ignores its slice) is given up: its invocations fail and a new
   * thread takes its place, in ms. New invocations avoid a thread from kThreadStalledMs on.
   */
  readonly threadStuckMs?: number;
  /**
   * Ceiling on the memory charged to live sandboxes, in bytes (instance-ledger.ts: a sandbox is
   * charged what an idle instance of its language holds, plus what its state grew to). Past it,
   * idle sandboxes are evicted least recently used first and instantiated again on their next
   * call. With workers ≥ 1 each scheduler thread gets an equal share. Default: half the memory of
   * the machine, or of the engine's cgroup when it has a limit.
   */
  readonly maxInstanceMemoryBytes?: number;
  /** Budget fields a deploy leaves unset. */
  readonly defaultBudget?: Partial<Budget>;
  /** Where the engine reports problems that fail no request (a stored function that no longer loads). */
  readonly onWarning?: (message: string) => void;
}

export interface FilledEngineOptions extends Required<Omit<EngineOptions, 'dataDir' | 'cacheDir' | 'defaultBudget' | 'pluginModule' | 'store'>> {
  readonly pluginModule: { readonly url: string, readonly export: string } | undefined;
  readonly store: FunctionStore | undefined;
  readonly dataDir: string | undefined;
  readonly cacheDir: string | undefined;
  readonly defaultBudget: Budget;
}

/**
 * Durable storage of deployed functions. The data dir's Registry is one; a store shared by several
 * engines also says which version is the latest anywhere and reports the changes other engines make.
 */
export interface FunctionStore {
  load (): Promise<{ records: FunctionRecord[], unreadable: UnreadableRecord[] }>;
  /** Stores a record durably; a shared store refuses it when another engine stored a later version since latestVersion() answered. */
  write (record: FunctionRecord): Promise<void>;
  delete (name: string): Promise<void>;
  close (): Promise<void>;
  /** The highest version of `name` ever stored, removed or not (0 for none), so a deploy's version is never reused. */
  latestVersion? (name: string): Promise<number>;
  /** Calls `onChange` for every change stored after load() (other engines' and this one's own), until close(). */
  follow? (onChange: (change: StoreChange) => void): void;
}

/** A change to a shared store: a version deployed, or a function removed at `version`. */
export type StoreChange =
  | { readonly kind: 'put', readonly record: FunctionRecord }
  | { readonly kind: 'delete', readonly name: string, readonly version: number };

export const kDefaultOptions = Object.freeze({
  workers: 0,
  sliceMs: 2,
  maxInFlight: 10_000,
  maxInFlightPerFunction: 1_000,
  maxSourceBytes: 4 * 2 ** 20,
  maxOutputBytes: 8 * 2 ** 20,
  maxLogBytes: 64 * 1024,
  compileTimeoutMs: 60_000,
  netRequestTimeoutMs: 10_000,
  maxResponseBytes: 16 * 2 ** 20,
  threadStuckMs: 10_000,
  maxInstanceMemoryBytes: defaultInstanceMemoryBytes(),
  netAllowPrivate: Object.freeze<string[]>([]),
});

/** @throws {EngineError} ERR_INVALID_ARGUMENT naming the option and its rule. */
export function fillEngineOptions (options: EngineOptions): FilledEngineOptions {
  const workers = options.workers ?? kDefaultOptions.workers;
  checkNumber('workers', workers, 0, 256, true);
  const plugins = options.plugins ?? [];
  if (workers > 0) {
    if (typeof options.pluginModule?.url !== 'string' || typeof options.pluginModule.export !== 'string') {
      throw new EngineError('ERR_INVALID_ARGUMENT', 'options.pluginModule must name the module and export that build the plugins of each scheduler thread (options.workers is set)');
    }
  } else if (!Array.isArray(plugins) || plugins.length === 0) {
    throw new EngineError('ERR_INVALID_ARGUMENT', 'options.plugins must list at least one language plugin');
  }
  const languages = new Set<string>();
  // Checked one by one: callers from plain JavaScript may pass anything.
  for (const plugin of plugins as readonly (LanguagePlugin | undefined)[]) {
    if (typeof plugin?.language !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(plugin.language)) {
      throw new EngineError('ERR_INVALID_ARGUMENT', `options.plugins: language names must be lowercase words: got ${JSON.stringify(plugin?.language)}`);
    }
    if (languages.has(plugin.language)) throw new EngineError('ERR_INVALID_ARGUMENT', `options.plugins: language ${plugin.language} is listed twice`);
    languages.add(plugin.language);
  }
  const filled = {
    ...kDefaultOptions,
    ...withoutUndefined(options),
    plugins,
    pluginModule: options.pluginModule,
    store: options.store,
    dataDir: options.dataDir,
    cacheDir: options.cacheDir ?? (options.dataDir === undefined ? undefined : join(options.dataDir, 'cache')),
    defaultBudget: resolveBudget(options.defaultBudget, kDefaultBudget),
    onWarning: options.onWarning ?? ((message: string) => process.emitWarning(message, 'SpringbokWarning')),
  };
  checkNumber('sliceMs', filled.sliceMs, 0.05, 1000, false);
  checkNumber('maxInFlight', filled.maxInFlight, 1, 10_000_000, true);
  checkNumber('maxInFlightPerFunction', filled.maxInFlightPerFunction, 1, 10_000_000, true);
  checkNumber('maxSourceBytes', filled.maxSourceBytes, 1, 2 ** 30, true);
  checkNumber('maxOutputBytes', filled.maxOutputBytes, 0, 2 ** 30, true);
  checkNumber('maxLogBytes', filled.maxLogBytes, 0, 2 ** 30, true);
  checkNumber('compileTimeoutMs', filled.compileTimeoutMs, 1, 3_600_000, true);
  checkNumber('netRequestTimeoutMs', filled.netRequestTimeoutMs, 1, 3_600_000, true);
  checkNumber('maxResponseBytes', filled.maxResponseBytes, 0, 2 ** 30, true);
  checkNumber('threadStuckMs', filled.threadStuckMs, 100, 3_600_000, true);
  checkNumber('maxInstanceMemoryBytes', filled.maxInstanceMemoryBytes, 1, 2 ** 50, true);
  const opened: unknown = filled.netAllowPrivate;
  if (!Array.isArray(opened) || opened.length > 1024 || !opened.every((range) => typeof range === 'string' && parseAddressRange(range) !== undefined)) {
    throw new EngineError('ERR_INVALID_ARGUMENT', `options.netAllowPrivate must be at most 1024 address ranges, each an IP address or a CIDR without host bits ("10.0.0.0/8", "127.0.0.1", "fd00::/8"): got ${JSON.stringify(opened)?.slice(0, 300)}`);
  }
  return Object.freeze({ ...filled, netAllowPrivate: Object.freeze([...opened as string[]]) });
}

function checkNumber (name: string, value: unknown, min: number, max: number, integer: boolean): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new EngineError('ERR_INVALID_ARGUMENT', `options.${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}: got ${JSON.stringify(value)}`);
  }
}

function withoutUndefined<T extends object> (object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** Half the memory the engine may use: the machine's, or its cgroup's limit (cgroup v2 memory.max) when lower. */
function defaultInstanceMemoryBytes (): number {
  let available = totalmem();
  try {
    const limit = Number(readFileSync('/sys/fs/cgroup/memory.max', 'utf8').trim());
    if (Number.isSafeInteger(limit) && limit > 0 && limit < available) available = limit;
  } catch {
    // No cgroup v2 limit readable (another OS, cgroup v1, "max"): the machine's memory it is.
  }
  return Math.floor(available / 2);
}
