import { EngineError } from './errors.ts';
import { kAllowEntryPattern } from './network/allow-list.ts';
import { kInvokeEntryPattern } from './invoke/invoke-policy.ts';
import { kKvGrantPattern } from './kv/kv-limits.ts';

/**
 * What one invocation of a function may consume. Set per function at deploy; every invocation
 * of that function gets the same budget. Units live in the names.
 */
export interface Budget {
  /** CPU time one invocation may use, in milliseconds (time its fiber spends running). */
  readonly cpuMs: number;
  /** Wall-clock time from acceptance to result, in milliseconds, including queueing and waits. */
  readonly wallMs: number;
  /** Memory one invocation (or one instance, where the plugin shares an instance) may hold, in bytes. */
  readonly memoryBytes: number;
  /** Outbound requests per invocation. */
  readonly netRequests: number;
  /** Outbound bytes (requests and responses, headers and bodies) per invocation. */
  readonly netBytes: number;
  /** Outbound bytes per second across all invocations of the function; 0 means no rate limit. */
  readonly netRateBytesPerSec: number;
  /** Hosts the function may reach (`[http://|https://]host[:port]`, see network/allow-list.ts); empty means no network at all. */
  readonly allowHosts: readonly string[];
  /** Calls one invocation may make with ctx.invoke. */
  readonly invokeCalls: number;
  /** Functions the function may call with ctx.invoke: names, or prefixes ending in `*`; empty means none. */
  readonly allowInvoke: readonly string[];
  /** Bytes (keys and values) a kv namespace may hold when this function writes to it. */
  readonly kvBytes: number;
  /** Shared kv namespaces the function may use beyond its own, as `NAMESPACE:ro` or `NAMESPACE:rw`. */
  readonly kv: readonly string[];
}

/** What one invocation consumed; carried by every result, failed or not. */
export interface Usage {
  cpuMs: number;
  memoryBytes: number;
  netRequests: number;
  netBytes: number;
  /** kv reads (get, list), writes (put, delete) and the bytes of keys and values they moved; present once the invocation used kv. */
  kvReads?: number;
  kvWrites?: number;
  kvBytes?: number;
  /** Each ctx.invoke the invocation made, in order, with the callee's own usage (itemised, never summed in); present once it made one. */
  calls?: CallUsage[];
  /** Calls made under this invocation (its own or nested) that `calls` leaves out, past the most a usage itemises (engine/invoke/call-list.ts); present only then. */
  callsOmitted?: number;
}

/** One ctx.invoke as the caller's usage lists it. */
export interface CallUsage {
  /** The callee's name. */
  readonly function: string;
  readonly ok: boolean;
  /** The callee's error code, when it failed or was refused. */
  readonly error?: string;
  /** Wall-clock time of the call as the caller waited for it, in ms. */
  readonly wallMs: number;
  readonly usage: Usage;
}

export const kDefaultBudget: Budget = Object.freeze({
  cpuMs: 1000,
  wallMs: 10_000,
  memoryBytes: 64 * 2 ** 20,
  netRequests: 16,
  netBytes: 4 * 2 ** 20,
  netRateBytesPerSec: 0,
  allowHosts: Object.freeze<string[]>([]),
  invokeCalls: 16,
  allowInvoke: Object.freeze<string[]>([]),
  kvBytes: 4 * 2 ** 20,
  kv: Object.freeze<string[]>([]),
});

/** Upper bounds: a budget is a promise to other tenants, so none may be unbounded. */
const kMaxBudget = {
  cpuMs: 3_600_000,
  wallMs: 3_600_000,
  memoryBytes: 16 * 2 ** 30,
  netRequests: 1_000_000,
  netBytes: 2 ** 40,
  netRateBytesPerSec: 2 ** 40,
  invokeCalls: 10_000,
  kvBytes: 2 ** 40,
} as const;

const kMinBudget = { cpuMs: 1, wallMs: 1, memoryBytes: 64 * 1024, netRequests: 0, netBytes: 0, netRateBytesPerSec: 0, invokeCalls: 0, kvBytes: 0 } as const;

type NumericBudgetField = keyof typeof kMaxBudget;
const kNumericFields = Object.keys(kMaxBudget) as NumericBudgetField[];

/**
 * Fills a partial budget from the defaults and validates every field.
 * @throws {EngineError} ERR_INVALID_ARGUMENT naming the field and its rule.
 */
export function resolveBudget (partial: Partial<Budget> | undefined, defaults: Budget = kDefaultBudget): Budget {
  const input: Record<string, unknown> = partial ?? {};
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(kDefaultBudget, key)) throw new EngineError('ERR_INVALID_ARGUMENT', `budget.${key} is not a budget field (known: ${Object.keys(kDefaultBudget).join(', ')})`);
  }
  const filled: Record<string, unknown> = { ...defaults };
  for (const field of kNumericFields) {
    const value = input[field];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < kMinBudget[field] || value > kMaxBudget[field]) {
      throw new EngineError('ERR_INVALID_ARGUMENT', `budget.${field} must be an integer from ${kMinBudget[field]} to ${kMaxBudget[field]}: got ${JSON.stringify(value)}`);
    }
    filled[field] = value;
  }
  const hosts = checkList(input.allowHosts, 'allowHosts', kAllowEntryPattern, '"[http://|https://]host[:port]" (a name or an IP address, no path)');
  if (hosts !== undefined) filled.allowHosts = Object.freeze(hosts.map((h) => h.toLowerCase()));
  const callees = checkList(input.allowInvoke, 'allowInvoke', kInvokeEntryPattern, '"name" or "prefix*" (function-name characters)');
  if (callees !== undefined) filled.allowInvoke = callees;
  const grants = checkList(input.kv, 'kv', kKvGrantPattern, '"NAMESPACE:ro" or "NAMESPACE:rw" (function-name characters)');
  if (grants !== undefined) filled.kv = grants;
  return Object.freeze(filled) as unknown as Budget;
}

/** A list field of strings of at most 256 entries, each matching `pattern` and without "..": undefined when absent. */
function checkList (value: unknown, field: string, pattern: RegExp, rule: string): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > 256) {
    throw new EngineError('ERR_INVALID_ARGUMENT', `budget.${field} must be a list of at most 256 entries: got ${Array.isArray(value) ? `${value.length} entries` : JSON.stringify(value)}`);
  }
  // Name the entry at fault, so a typo in one of many is found at once.
  const bad: unknown = (value as unknown[]).find((entry) => typeof entry !== 'string' || !pattern.test(entry) || entry.includes('..'));
  if (bad !== undefined) throw new EngineError('ERR_INVALID_ARGUMENT', `budget.${field} entry ${JSON.stringify(bad)} is not ${rule}`);
  return Object.freeze([...value as string[]]);
}

/** A zeroed usage record. */
export function emptyUsage (): Usage {
  return { cpuMs: 0, memoryBytes: 0, netRequests: 0, netBytes: 0 };
}
