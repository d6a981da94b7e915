import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';

/** How far an open-loop run kept to its schedule. */
export interface OpenLoopResult {
  /** Calls started (all of those due in the run's duration, unless stopped). */
  readonly started: number;
  /** Largest delay between a call's scheduled start and its real start, in ms. */
  readonly maxSendLagMs: number;
  /** Calls started more than `lateMs` after their scheduled time: the client fell behind. */
  readonly lateCalls: number;
  readonly lateMs: number;
  /** Calls still unanswered at the moment the last one was started, at most. */
  readonly maxInFlight: number;
}

/**
 * Starts `call(seq)` at a fixed rate for `durationMs` whatever the answers do (open loop: a slow
 * engine gets more calls in flight, not fewer calls, as real traffic would give it), then waits for
 * every answer. The schedule is absolute (call k is due at k / rate): when the client itself is
 * late (its event loop busy), the calls due are started at once on the next tick and the delay is
 * recorded, so a client that fell behind shows in the result instead of silently lowering the rate.
 * Aborting `signal` stops starting calls (e.g. a memory guard); `started` then tells how far it got.
 */
export async function runOpenLoop (ratePerSecond: number, durationMs: number, call: (seq: number) => Promise<void>, options: { lateMs?: number, signal?: AbortSignal } = {}): Promise<OpenLoopResult> {
  const { lateMs = 50, signal } = options;
  const total = Math.floor(ratePerSecond * durationMs / 1000);
  const startedAt = performance.now();
  const pending = new Set<Promise<void>>();
  let started = 0;
  let maxSendLagMs = 0;
  let lateCalls = 0;
  let maxInFlight = 0;
  while (started < total && signal?.aborted !== true) {
    const now = performance.now();
    const due = Math.min(total, Math.floor((now - startedAt) * ratePerSecond / 1000) + 1);
    for (; started < due; started++) {
      const lag = now - (startedAt + started * 1000 / ratePerSecond);
      if (lag > maxSendLagMs) maxSendLagMs = lag;
      if (lag > lateMs) lateCalls++;
      const promise = call(started).finally(() => pending.delete(promise));
      pending.add(promise);
    }
    if (pending.size > maxInFlight) maxInFlight = pending.size;
    // A few ms between ticks: calls go out in small bursts, the rate holds over any second.
    await sleep(Math.max(1, Math.min(5, (startedAt + started * 1000 / ratePerSecond) - performance.now())));
  }
  await Promise.allSettled([...pending]);
  return { started, maxSendLagMs: Math.round(maxSendLagMs * 10) / 10, lateCalls, lateMs, maxInFlight };
}
