import { performance } from 'node:perf_hooks';
import { Fifo } from './fifo.ts';
import type { Fiber, InvocationResponse } from './plugin.ts';
import type { ErrorRecord } from './errors.ts';
import { cpuBudgetError } from './budget-errors.ts';
import { preemptRequested, setPreemptMasked } from './preemption.ts';
import { demoteWhile, kHogCpuMs } from './threads/thread-priority.ts';

/**
 * The run queue. Fibers of all functions share the one JavaScript thread; the scheduler decides
 * who runs next and for how long.
 *
 * Fairness is between functions, not invocations: each function has a lane (a FIFO of its runnable
 * invocations) and lanes take turns in a ring, deficit round robin: a visit to a lane runs its
 * invocations one after another until the visit has used its quantum (`sliceMs`), so a function
 * with many tiny invocations gets the same share of time as a function spinning in one long
 * invocation. Time a lane takes past its quantum is its debt: a slice that overran (a plugin's
 * uninterruptible call), or a 'continue' slice (which runs after the turn, on this thread). A lane
 * in debt gets shorter visits, and skips a visit for each whole quantum it owes, so an overrun is
 * paid back to the lanes it delayed. A lane that goes idle pays its debt with the time it is idle.
 *
 * A lane that was idle and gets work goes to a `fresh` queue that is served before the ring: it has
 * used no time lately, while every lane in the ring has just had a visit. So a short function beside
 * CPU hogs waits for the slice in progress, not for one visit per hog; on a scheduler thread, not even
 * for that (preemption.ts: the main thread ends the slice in progress as it sends work). To keep a
 * flood of fresh work from starving the ring, once fresh lanes have run a quantum since the ring's
 * last visit, the ring is owed the next visit, which runs its whole quantum.
 *
 * Between turns (about `sliceMs` of work) the scheduler goes back to the event loop with
 * setImmediate, so sockets are read and answered while fibers are busy.
 */

export type TaskState = 'queued' | 'waiting' | 'settled';

/** How the scheduler ends a task. Budget and fault errors come back as records. */
export type TaskOutcome =
  | { readonly ok: true, readonly output: Uint8Array, readonly response?: InvocationResponse | undefined }
  | { readonly ok: false, readonly error: ErrorRecord };

/** One invocation as the scheduler sees it. The engine's Invocation implements it. */
export interface Task {
  readonly lane: Lane;
  readonly fiber: Fiber;
  /** CPU this invocation may use, in ms; the scheduler ends it with ERR_CPU_BUDGET past that. */
  readonly cpuBudgetMs: number;
  /** CPU charged so far, in ms: the time spent inside fiber.run(). */
  cpuMs: number;
  /** Highest fiber.memoryBytes seen after a slice. */
  peakMemoryBytes: number;
  state: TaskState;
  /** fiber.offThreadCpuMs when the task last returned 'continue': the slice run since then is charged to its lane as debt. */
  offThreadMarkMs?: number | undefined;
  /** Ends the task: sets state 'settled' and reports the outcome. Idempotent: the first caller wins (scheduler, deadline, cancellation). */
  finish (outcome: TaskOutcome): void;
}

/** The run queue of one function. Owned by the engine's function entry; kept across redeploys. */
export class Lane {
  readonly name: string;
  readonly tasks = new Fifo<Task>();
  inRing = false;
  /** Time this lane used past its quanta, in ms, not yet paid back by shorter or skipped visits. */
  debtMs = 0;
  /** When its last visit ended (performance.now()): an idle lane's debt shrinks with its idle time. */
  lastVisitEndedAt = 0;
  constructor (name: string) { this.name = name; }
}

export interface SchedulerOptions {
  /** Length of one slice and of one lane visit, in ms. */
  readonly sliceMs: number;
  /** Called after each lane visit (a worker thread sends the results of the visit before the next lane runs). */
  readonly onVisitEnd?: (() => void) | undefined;
}

export interface SchedulerStats {
  /** Lanes with runnable work. */
  readonly lanesReady: number;
  /** Tasks parked on host work (network, another thread). */
  readonly tasksWaiting: number;
  /** Slices run since start. */
  readonly slices: number;
  /** Turns (returns to the event loop with work still queued) since start. */
  readonly turns: number;
}

export class Scheduler {
  readonly #sliceMs: number;
  readonly #onVisitEnd: (() => void) | undefined;
  readonly #ring = new Fifo<Lane>();
  readonly #fresh = new Fifo<Lane>();
  /**
   * Time fresh lanes have run since the ring's last visit, in ms. Past a quantum, the ring is owed
   * the next visit: fresh lanes come first, but a stream of them cannot starve the ring.
   */
  #freshMsSinceRing = 0;
  #turnPending = false;
  /** A fiber's slice will run as soon as this turn returns (outcome 'continue'): end the turn now. */
  #yieldThread = false;
  #waiting = 0;
  #slices = 0;
  #turns = 0;

  constructor (options: SchedulerOptions) {
    this.#sliceMs = options.sliceMs;
    this.#onVisitEnd = options.onVisitEnd;
  }

  /** Queues a task to run. Its state must be 'queued'. */
  submit (task: Task): void {
    task.lane.tasks.push(task);
    this.#ready(task.lane);
  }

  stats (): SchedulerStats {
    return { lanesReady: this.#ring.size + this.#fresh.size, tasksWaiting: this.#waiting, slices: this.#slices, turns: this.#turns };
  }

  #ready (lane: Lane): void {
    if (!lane.inRing) {
      lane.inRing = true;
      if (lane.debtMs > 0) lane.debtMs = Math.max(0, lane.debtMs - (performance.now() - lane.lastVisitEndedAt));
      this.#fresh.push(lane);
    }
    if (!this.#turnPending) {
      this.#turnPending = true;
      setImmediate(this.#turn);
    }
  }

  readonly #turn = (): void => {
    this.#turnPending = false;
    this.#turns++;
    const turnEndsAt = performance.now() + this.#sliceMs;
    let now: number;
    do {
      let lane: Lane | undefined;
      const ringOwed = this.#freshMsSinceRing >= this.#sliceMs;
      if (ringOwed || this.#fresh.size === 0) lane = this.#ring.shift();
      const fromRing = lane !== undefined;
      lane ??= this.#fresh.shift();
      if (lane === undefined) break;
      // A visit the ring is owed runs its quantum whatever arrives meanwhile, so a flood of new work
      // cannot take all the time by preempting every ring visit.
      if (fromRing && ringOwed) setPreemptMasked(true);
      const startedAt = performance.now();
      now = this.#visit(lane, startedAt);
      setPreemptMasked(false);
      if (fromRing) this.#freshMsSinceRing = 0;
      else this.#freshMsSinceRing += now - startedAt;
      this.#onVisitEnd?.();
      if (lane.tasks.size > 0) this.#ring.push(lane);
      else lane.inRing = false;
      // New work for this thread is waiting in its messages: back to the event loop to read it.
    } while (now < turnEndsAt && !this.#yieldThread && !preemptRequested());
    demoteWhile(false);
    this.#yieldThread = false;
    if ((this.#ring.size > 0 || this.#fresh.size > 0) && !this.#turnPending) {
      this.#turnPending = true;
      setImmediate(this.#turn);
    }
  };

  /**
   * Runs tasks of one lane until the visit has used its quantum (less what the lane owes) or the
   * lane is empty; returns the clock. A lane owing a whole quantum or more skips the visit instead.
   * `startedAt`: the clock as the visit starts (the turn has just read it).
   */
  #visit (lane: Lane, startedAt: number): number {
    if (lane.debtMs >= this.#sliceMs) {
      lane.debtMs -= this.#sliceMs;
      return startedAt;
    }
    const visitEndsAt = startedAt + this.#sliceMs - lane.debtMs;
    lane.debtMs = 0;
    let now: number;
    do {
      const task = lane.tasks.shift();
      if (task === undefined) break;
      if (task.state !== 'queued') { now = performance.now(); continue; } // settled while queued (deadline, cancel)
      now = this.#runSlice(task);
    } while (now < visitEndsAt && !this.#yieldThread && !preemptRequested());
    now = performance.now();
    if (now > visitEndsAt) lane.debtMs += now - visitEndsAt;
    lane.lastVisitEndedAt = now;
    return now;
  }

  #runSlice (task: Task): number {
    const startedAt = performance.now();
    if (task.offThreadMarkMs !== undefined) {
      // The 'continue' slice it ran on this thread after the last turn: the lane's, past its quantum.
      task.lane.debtMs += (task.fiber.offThreadCpuMs ?? 0) - task.offThreadMarkMs;
      task.offThreadMarkMs = undefined;
    }
    const cpuLeftMs = task.cpuBudgetMs - task.cpuMs - (task.fiber.offThreadCpuMs ?? 0);
    if (cpuLeftMs <= 0) {
      // Used up off this thread (or in a detached slice): the fiber gets no further slice.
      this.#overBudget(task);
      return startedAt;
    }
    const endsAt = startedAt + (cpuLeftMs < this.#sliceMs ? cpuLeftMs : this.#sliceMs);
    let outcome;
    demoteWhile(task.cpuMs >= kHogCpuMs);
    try {
      outcome = task.fiber.run({ endsAt });
    } catch (error) {
      // A plugin bug must not take the engine down: it fails this invocation alone.
      const now = performance.now();
      task.cpuMs += now - startedAt;
      this.#end(task, { ok: false, error: { code: 'ERR_INTERNAL', message: `plugin fault: ${error instanceof Error ? error.message : String(error)}` } });
      return now;
    }
    const now = performance.now();
    this.#slices++;
    task.cpuMs += now - startedAt;
    const memoryBytes = task.fiber.memoryBytes;
    if (memoryBytes > task.peakMemoryBytes) task.peakMemoryBytes = memoryBytes;
    if (task.state === 'settled') return now; // the deadline fired during a long slice; finish() already ran
    switch (outcome.state) {
      case 'done':
        this.#end(task, outcome.response === undefined ? { ok: true, output: outcome.output } : { ok: true, output: outcome.output, response: outcome.response });
        break;
      case 'failed':
        this.#end(task, { ok: false, error: outcome.error });
        break;
      case 'yield':
        if (task.cpuMs + (task.fiber.offThreadCpuMs ?? 0) >= task.cpuBudgetMs) this.#overBudget(task);
        else task.lane.tasks.push(task);
        break;
      case 'wait':
        this.#park(task, outcome.until);
        break;
      case 'continue':
        this.#yieldThread = true;
        task.offThreadMarkMs = task.fiber.offThreadCpuMs ?? 0;
        this.#park(task, outcome.until);
        break;
    }
    return now;
  }

  #overBudget (task: Task): void {
    const cpuMs = task.cpuMs + (task.fiber.offThreadCpuMs ?? 0);
    const error = cpuBudgetError(task.cpuBudgetMs, cpuMs);
    task.fiber.cancel(error);
    this.#end(task, { ok: false, error });
  }

  #park (task: Task, until: Promise<unknown>): void {
    task.state = 'waiting';
    this.#waiting++;
    const resume = (): void => {
      this.#waiting--;
      if (task.state !== 'waiting') return; // ended while parked (deadline, cancel)
      task.state = 'queued';
      this.submit(task);
    };
    // A rejected wait is the plugin's business to report on the next run(); here it only wakes the fiber.
    until.then(resume, resume);
  }

  #end (task: Task, outcome: TaskOutcome): void {
    task.finish(outcome);
  }
}
