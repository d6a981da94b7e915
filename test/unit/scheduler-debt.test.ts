import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lane, Scheduler, type Task, type TaskOutcome } from '../../engine/scheduler.ts';
import { kYield, type Fiber, type SliceOutcome } from '../../engine/plugin.ts';

// Deficit round robin (engine/scheduler.ts): a lane whose slices overrun their end pays the time
// back, so a function whose plugin cannot stop on time does not take a larger share of the thread.

/** A fiber that runs `sliceMs` of busy time per run(), whatever end it was given, and never ends by itself. */
function busyFiber (sliceMs: number): Fiber {
  return {
    memoryBytes: 0,
    cancel () {},
    run (): SliceOutcome {
      const until = performance.now() + sliceMs;
      while (performance.now() < until);
      return kYield;
    },
  };
}

function task (lane: Lane, fiber: Fiber, used: Map<Lane, number>): Task {
  const wrapped: Fiber = {
    memoryBytes: 0,
    cancel: (reason) => fiber.cancel(reason),
    run (slice) {
      const startedAt = performance.now();
      const outcome = fiber.run(slice);
      used.set(lane, (used.get(lane) ?? 0) + performance.now() - startedAt);
      return outcome;
    },
  };
  return { lane, fiber: wrapped, cpuBudgetMs: 60_000, cpuMs: 0, peakMemoryBytes: 0, state: 'queued', finish (outcome: TaskOutcome) { void outcome; this.state = 'settled'; } };
}

test('a lane whose slices overrun 10x gets about the share of one whose slices end on time', async () => {
  const scheduler = new Scheduler({ sliceMs: 2 });
  const overrunning = new Lane('overrunning');
  const punctual = new Lane('punctual');
  const used = new Map<Lane, number>();
  const tasks = [task(overrunning, busyFiber(20), used), task(punctual, busyFiber(1), used)];
  for (const each of tasks) scheduler.submit(each);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  for (const each of tasks) each.finish({ ok: false, error: { code: 'ERR_CANCELLED', message: 'test over' } });
  const overrunMs = used.get(overrunning) ?? 0;
  const punctualMs = used.get(punctual) ?? 0;
  const share = overrunMs / (overrunMs + punctualMs);
  // Without the debt the overrunning lane takes 20 ms per 21 ms (95%); paid back, about half.
  assert.ok(share < 0.7, `the overrunning lane took ${(share * 100).toFixed(0)}% of the time (${overrunMs.toFixed(0)} ms against ${punctualMs.toFixed(0)} ms)`);
  assert.ok(punctualMs > 300, `the punctual lane ran ${punctualMs.toFixed(0)} ms in 1.5 s`);
});
