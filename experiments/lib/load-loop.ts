import { performance } from 'node:perf_hooks';

/** What {@link runFor} measured: every call's latency and the completed calls per second. */
export interface LoadResult {
  readonly latenciesMs: number[];
  readonly perSecond: number;
  readonly failures: number;
}

/**
 * Keeps `concurrency` calls of `task` in flight for `durationMs`, each caller starting its next call
 * when the previous one settles (closed loop, like autocannon's connections). A task that returns
 * false or throws counts as a failure; its latency is still recorded, so a failing runtime cannot
 * look fast by failing early without it showing in `failures`.
 */
export async function runFor (durationMs: number, concurrency: number, task: () => Promise<boolean>): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let failures = 0;
  const startedAt = performance.now();
  const endAt = startedAt + durationMs;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < endAt) {
      const t0 = performance.now();
      let ok: boolean;
      try { ok = await task(); } catch { ok = false; }
      latenciesMs.push(performance.now() - t0);
      if (!ok) failures++;
    }
  }));
  const elapsedS = (performance.now() - startedAt) / 1000;
  return { latenciesMs, perSecond: Math.round(latenciesMs.length / elapsedS), failures };
}
