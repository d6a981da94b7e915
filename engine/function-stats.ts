import type { ErrorCode } from './errors.ts';
import type { InvokeResult } from './invocation.ts';

/** Counters of one function since it was deployed (or since the engine started, for stored functions). */
export interface FunctionStats {
  invocations: number;
  ok: number;
  failed: number;
  /** Failures by error code. */
  errors: Partial<Record<ErrorCode, number>>;
  /** CPU charged to all its invocations, in ms. */
  cpuMs: number;
  /** Highest memory any invocation reported, in bytes. */
  peakMemoryBytes: number;
}

export function emptyFunctionStats (): FunctionStats {
  return { invocations: 0, ok: 0, failed: 0, errors: {}, cpuMs: 0, peakMemoryBytes: 0 };
}

export function countResult (stats: FunctionStats, result: InvokeResult): void {
  stats.invocations++;
  stats.cpuMs += result.usage.cpuMs;
  if (result.usage.memoryBytes > stats.peakMemoryBytes) stats.peakMemoryBytes = result.usage.memoryBytes;
  if (result.ok) {
    stats.ok++;
  } else {
    stats.failed++;
    stats.errors[result.error.code] = (stats.errors[result.error.code] ?? 0) + 1;
  }
}

export function copyStats (stats: FunctionStats): FunctionStats {
  return { ...stats, errors: { ...stats.errors } };
}

/** Each function's counters (copies) with its invocations in flight, by name: `perFunction` of stats(). */
export function statsByFunction (entries: Iterable<{ readonly name: string, readonly stats: FunctionStats, readonly inFlight: number }>): Record<string, FunctionStats & { inFlight: number }> {
  const byName: Record<string, FunctionStats & { inFlight: number }> = {};
  for (const entry of entries) byName[entry.name] = { ...copyStats(entry.stats), inFlight: entry.inFlight };
  return byName;
}
