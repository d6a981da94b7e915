/**
 * Runs `task(i)` for i in [from, to) with at most `concurrency` calls in flight, in order of i;
 * `onDone` after each. Rejects with the first failure, after the calls in flight have settled.
 */
export async function forEachBounded (from: number, to: number, concurrency: number, task: (i: number) => Promise<void>, onDone?: (completed: number) => void): Promise<void> {
  let next = from;
  let completed = 0;
  let failure: unknown;
  let failed = false;
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, to - from)) }, async () => {
    while (!failed && next < to) {
      const i = next++;
      try {
        await task(i);
      } catch (error) {
        if (!failed) { failed = true; failure = error; }
        return;
      }
      completed++;
      onDone?.(completed);
    }
  }));
  if (failed) throw failure;
}
