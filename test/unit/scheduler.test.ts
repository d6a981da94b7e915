import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import type { ErrorRecord } from '../../engine/errors.ts';
import type { Fiber, Slice, SliceOutcome } from '../../engine/plugin.ts';
import { Lane, Scheduler, type Task, type TaskOutcome, type TaskState } from '../../engine/scheduler.ts';

/*
 * The scheduler with scripted fibers in place of a plugin's. What these tests use of it:
 * `new Scheduler({ sliceMs })`, `new Lane(name)`, `submit(task)`, `stats()` and the Task fields.
 * Lane debt (overrunning slices paid back) is scheduler-debt.test.ts's.
 */

const kSliceMs = 5;

/** A fiber whose every slice is `step`, given the slice and how many slices ran before it. */
class ScriptedFiber implements Fiber {
  memoryBytes = 0;
  offThreadCpuMs: number | undefined = undefined;
  runs = 0;
  readonly cancels: ErrorRecord[] = [];
  readonly #step: (slice: Slice, run: number) => SliceOutcome;
  constructor (step: (slice: Slice, run: number) => SliceOutcome) { this.#step = step; }
  run (slice: Slice): SliceOutcome { return this.#step(slice, this.runs++); }
  cancel (reason: ErrorRecord): void { this.cancels.push(reason); }
}

class TestTask implements Task {
  readonly lane: Lane;
  readonly fiber: ScriptedFiber;
  readonly cpuBudgetMs: number;
  cpuMs = 0;
  peakMemoryBytes = 0;
  state: TaskState = 'queued';
  readonly outcome: Promise<TaskOutcome>;
  finishes = 0;
  #resolve!: (outcome: TaskOutcome) => void;
  constructor (lane: Lane, fiber: ScriptedFiber, cpuBudgetMs = 1000) {
    this.lane = lane;
    this.fiber = fiber;
    this.cpuBudgetMs = cpuBudgetMs;
    this.outcome = new Promise((resolve) => { this.#resolve = resolve; });
  }

  finish (outcome: TaskOutcome): void {
    this.finishes++;
    if (this.state === 'settled') return;
    this.state = 'settled';
    this.#resolve(outcome);
  }
}

const kYieldOutcome: SliceOutcome = { state: 'yield' };
const done = (text: string): SliceOutcome => ({ state: 'done', output: new TextEncoder().encode(text) });

/** Busy until the slice's end, as a plugin running guest code does. */
function spinUntil (endsAt: number): void {
  while (performance.now() < endsAt);
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('a fiber that yields runs again until done; the output, CPU and peak memory are the task\'s', async () => {
  const scheduler = new Scheduler({ sliceMs: kSliceMs });
  const memory = [100, 300, 200, 250];
  const fiber = new ScriptedFiber((_, run) => {
    fiber.memoryBytes = memory[run]!;
    return run < 3 ? kYieldOutcome : done('out');
  });
  const task = new TestTask(new Lane('f'), fiber);
  scheduler.submit(task);
  const outcome = await task.outcome;
  assert.deepEqual(outcome, { ok: true, output: new TextEncoder().encode('out') });
  assert.equal(fiber.runs, 4);
  assert.equal(task.peakMemoryBytes, 300);
  assert.ok(task.cpuMs >= 0 && task.cpuMs < 1000);
  assert.equal(scheduler.stats().slices, 4);
  assert.deepEqual(fiber.cancels, []);
});

test('a failed slice ends the task with the plugin\'s record', async () => {
  const scheduler = new Scheduler({ sliceMs: kSliceMs });
  const error = { code: 'ERR_MEMORY_BUDGET', message: 'too much' } as const;
  const task = new TestTask(new Lane('f'), new ScriptedFiber(() => ({ state: 'failed', error })));
  scheduler.submit(task);
  assert.deepEqual(await task.outcome, { ok: false, error });
});

test('past its CPU budget a task ends with ERR_CPU_BUDGET and its fiber is cancelled; no slice is longer than the CPU left', async () => {
  const scheduler = new Scheduler({ sliceMs: kSliceMs });
  const budgetMs = 12;
  const windows: number[] = [];
  const usedAtStart: number[] = [];
  const fiber = new ScriptedFiber((slice) => {
    usedAtStart.push(task.cpuMs);
    // The slice may not run past the CPU the task has left (budget less what it used), nor past a slice.
    const window = slice.endsAt - performance.now();
    windows.push(Math.max(window - (budgetMs - task.cpuMs), window - kSliceMs));
    spinUntil(slice.endsAt);
    return kYieldOutcome;
  });
  const task = new TestTask(new Lane('hog'), fiber, budgetMs);
  scheduler.submit(task);
  const outcome = await task.outcome;
  assert.equal(outcome.ok, false);
  assert.equal(outcome.ok ? '' : outcome.error.code, 'ERR_CPU_BUDGET');
  assert.match(outcome.ok ? '' : outcome.error.message, /CPU budget of 12 ms used up/);
  assert.deepEqual(fiber.cancels, [outcome.ok ? undefined : outcome.error], 'cancelled once, with the error reported');
  assert.ok(task.cpuMs >= budgetMs, `${task.cpuMs} ms charged`);
  assert.ok(usedAtStart.every((used) => used < budgetMs), `a slice began with the budget used up: ${usedAtStart.join(', ')} ms`);
  assert.ok(windows.every((excess) => excess <= 0), `slices past the CPU left: ${windows.join(', ')}`);
});

test('CPU a fiber used off the thread counts against the same budget', async () => {
  const scheduler = new Scheduler({ sliceMs: kSliceMs });
  const fiber = new ScriptedFiber(() => {
    fiber.offThreadCpuMs = 50;
    return kYieldOutcome;
  });
  const task = new TestTask(new Lane('isolate'), fiber, 50);
  scheduler.submit(task);
  const outcome = await task.outcome;
  assert.equal(outcome.ok ? '' : outcome.error.code, 'ERR_CPU_BUDGET');
  assert.equal(fiber.runs, 1, 'no slice after the budget is used up elsewhere');

  const spent = new ScriptedFiber(() => done('never'));
  spent.offThreadCpuMs = 50;
  const late = new TestTask(new Lane('isolate'), spent, 50);
  scheduler.submit(late);
  assert.equal(((await late.outcome) as { error?: ErrorRecord }).error?.code, 'ERR_CPU_BUDGET');
  assert.equal(spent.runs, 0, 'a task that arrives with its budget used up is not run');
});

test('a fiber that throws fails its task with ERR_INTERNAL, and the scheduler goes on', async () => {
  const scheduler = new Scheduler({ sliceMs: kSliceMs });
  const lane = new Lane('f');
  const broken = new TestTask(lane, new ScriptedFiber(() => { throw new Error('plugin bug'); }));
  const next = new TestTask(lane, new ScriptedFiber(() => done('fine')));
  scheduler.submit(broken);
  scheduler.submit(next);
  assert.deepEqual(await broken.outcome, { ok: false, error: { code: 'ERR_INTERNAL', message: 'plugin fault: plugin bug' } });
  assert.equal((await next.outcome).ok, true);
});

test('a waiting fiber is parked, counted as waiting, and run again only once its promise settles, either way', async () => {
  const scheduler = new Scheduler({ sliceMs: kSliceMs });
  for (const settle of ['resolve', 'reject'] as const) {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const fiber = new ScriptedFiber((_, run) => (run === 0 ? { state: 'wait', until: promise } : done(settle)));
    const task = new TestTask(new Lane('net'), fiber);
    scheduler.submit(task);
    for (let turn = 0; turn < 5; turn++) await nextTurn();
    assert.equal(fiber.runs, 1);
    assert.equal(task.state, 'waiting');
    assert.equal(scheduler.stats().tasksWaiting, 1);
    assert.equal(scheduler.stats().lanesReady, 0, 'a parked task holds no lane in the run queue');
    if (settle === 'resolve') resolve();
    else reject(new Error('request failed'));
    assert.deepEqual(await task.outcome, { ok: true, output: new TextEncoder().encode(settle) });
    assert.equal(fiber.runs, 2);
    assert.equal(scheduler.stats().tasksWaiting, 0);
  }
});

test('a task ended from outside (deadline, cancel) is not run again, whether parked or queued', async () => {
  const scheduler = new Scheduler({ sliceMs: kSliceMs });
  const { promise, resolve } = Promise.withResolvers<void>();
  const parkedFiber = new ScriptedFiber(() => ({ state: 'wait', until: promise }));
  const parked = new TestTask(new Lane('a'), parkedFiber);
  scheduler.submit(parked);
  for (let turn = 0; turn < 3; turn++) await nextTurn();
  parked.finish({ ok: false, error: { code: 'ERR_WALL_TIMEOUT', message: 'deadline' } });
  resolve();
  for (let turn = 0; turn < 3; turn++) await nextTurn();
  assert.equal(parkedFiber.runs, 1);
  assert.equal(scheduler.stats().tasksWaiting, 0);

  const lane = new Lane('b');
  const queuedFiber = new ScriptedFiber(() => done('never'));
  const queued = new TestTask(lane, queuedFiber);
  const first = new TestTask(lane, new ScriptedFiber(() => {
    queued.finish({ ok: false, error: { code: 'ERR_CANCELLED', message: 'caller went away' } });
    return done('first');
  }));
  scheduler.submit(first);
  scheduler.submit(queued);
  await first.outcome;
  for (let turn = 0; turn < 3; turn++) await nextTurn();
  assert.equal(queuedFiber.runs, 0);
  assert.equal(queued.finishes, 1, 'the scheduler does not finish it a second time');
});

test('\'continue\' gives the thread back at once: work the fiber queued runs before any other lane\'s slice', async () => {
  const scheduler = new Scheduler({ sliceMs: kSliceMs });
  let resumed = false;
  const { promise, resolve } = Promise.withResolvers<void>();
  const jspi = new ScriptedFiber((_, run) => {
    if (run > 0) return done('jspi');
    setImmediate(() => { resumed = true; resolve(); });
    return { state: 'continue', until: promise };
  });
  let sawResumed: boolean | undefined;
  const other = new ScriptedFiber(() => {
    sawResumed ??= resumed;
    return done('other');
  });
  const first = new TestTask(new Lane('jspi'), jspi);
  const second = new TestTask(new Lane('other'), other);
  scheduler.submit(first);
  scheduler.submit(second);
  await Promise.all([first.outcome, second.outcome]);
  assert.equal(sawResumed, true, 'the other lane ran before the continued slice');
});

test('lanes share time: a function of many short invocations gets about the time of one spinning invocation', async () => {
  const scheduler = new Scheduler({ sliceMs: kSliceMs });
  const hog = new TestTask(new Lane('hog'), new ScriptedFiber((slice) => { spinUntil(slice.endsAt); return kYieldOutcome; }), 150);
  const manyLane = new Lane('many');
  let manyCpuMs = 0;
  let stop = false;
  const submitShort = (): void => {
    const task = new TestTask(manyLane, new ScriptedFiber(() => { spinUntil(performance.now() + 0.2); return done('x'); }));
    task.outcome.then(() => {
      manyCpuMs += task.cpuMs;
      if (!stop) submitShort();
    }, () => {});
    scheduler.submit(task);
  };
  // A queue of short invocations kept longer than a visit: each one done is replaced.
  for (let i = 0; i < 40; i++) submitShort();
  scheduler.submit(hog);
  await hog.outcome;
  stop = true;
  const ratio = manyCpuMs / hog.cpuMs;
  assert.ok(ratio > 1 / 3 && ratio < 3, `many short invocations used ${manyCpuMs.toFixed(1)} ms while the hog used ${hog.cpuMs.toFixed(1)} ms`);
});

test('a lane that was idle is served before the ring: a short function waits for the slice in progress, not for every hog', async () => {
  const scheduler = new Scheduler({ sliceMs: kSliceMs });
  let hogSlices = 0;
  let hogSlicesBeforeShort: number | undefined;
  let submittedAt: number | undefined;
  const short = new TestTask(new Lane('short'), new ScriptedFiber(() => {
    hogSlicesBeforeShort = hogSlices - submittedAt!;
    return done('short');
  }));
  const hogs = Array.from({ length: 4 }, (_, index) => new TestTask(new Lane(`hog${index}`), new ScriptedFiber((slice) => {
    hogSlices++;
    // Submitted from inside a hog's slice, once every hog has left the fresh queue for the ring.
    if (hogSlices === 12) {
      submittedAt = hogSlices;
      scheduler.submit(short);
    }
    spinUntil(slice.endsAt);
    return kYieldOutcome;
  }), 1000));
  for (const hog of hogs) scheduler.submit(hog);
  await short.outcome;
  for (const hog of hogs) hog.finish({ ok: false, error: { code: 'ERR_CANCELLED', message: 'test over' } });
  assert.equal(hogSlicesBeforeShort, 0, 'hog slices run between the short function\'s arrival and its slice');
});

test('a flood of newly busy lanes does not starve a lane in the ring', async () => {
  const scheduler = new Scheduler({ sliceMs: kSliceMs });
  let ringSlices = 0;
  let freshServed = 0;
  const ring = new TestTask(new Lane('ring'), new ScriptedFiber((slice) => { ringSlices++; spinUntil(slice.endsAt); return kYieldOutcome; }), 1000);
  const { promise: flooded, resolve: floodOver } = Promise.withResolvers<void>();
  const submitFresh = (index: number): void => {
    // Each newcomer brings the next one, on a lane of its own: there is always a fresh lane waiting.
    scheduler.submit(new TestTask(new Lane(`fresh${index}`), new ScriptedFiber((slice) => {
      freshServed++;
      if (index < 10) submitFresh(index + 1);
      else floodOver();
      spinUntil(slice.endsAt);
      return done('x');
    })));
  };
  scheduler.submit(ring);
  await nextTurn();
  submitFresh(1);
  await flooded;
  ring.finish({ ok: false, error: { code: 'ERR_CANCELLED', message: 'test over' } });
  assert.equal(freshServed, 10);
  assert.ok(ringSlices >= 5, `the ring lane had ${ringSlices} slices while 10 fresh lanes were served`);
});
