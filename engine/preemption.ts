/**
 * Ends the slice in progress on a scheduler thread early when the main thread has sent it new work.
 *
 * A slice runs synchronously: while a CPU hog's 2 ms slice runs, the thread's event loop cannot see
 * that a light invocation arrived, so the light one waited for the rest of the slice, which in a
 * request-after-answer loop is nearly all of it (its answer goes out, the hog's slice starts, the
 * next request arrives). Instead the main thread raises a flag in memory both threads share, and the
 * plugins' clock checks (the same ones that end a slice on time) read it too: the guest stops at its
 * next check, the scheduler ends its turn, the thread reads its messages and serves the new lane
 * first (scheduler.ts, the fresh queue). The thread lowers the flag when it reads its messages.
 *
 * Every slice still makes progress: plugins check the clock only after a batch of work. On the main
 * thread (an engine without scheduler threads) no flag is installed and nothing is ever preempted.
 */

let flag: Int32Array | undefined;
let masked = false;

/** True when the main thread has sent work that the thread has not read yet (and the scheduler lets it preempt). */
export function preemptRequested (): boolean {
  return flag !== undefined && !masked && Atomics.load(flag, 0) !== 0;
}

/** The scheduler's side: a visit that must run its whole quantum (the ring's owed one) masks preemption. */
export function setPreemptMasked (on: boolean): void {
  masked = on;
}

/** The thread's side: reads its flag from `buffer` (from ThreadInit). */
export function installPreemptFlag (buffer: SharedArrayBuffer): void {
  flag = new Int32Array(buffer);
}

/** The thread's side: it is about to read its messages. */
export function clearPreempt (): void {
  if (flag !== undefined) Atomics.store(flag, 0, 0);
}

/** The main thread's side, one per scheduler thread. */
export class PreemptSignal {
  readonly buffer = new SharedArrayBuffer(4);
  readonly #flag = new Int32Array(this.buffer);

  /** Work is on its way to the thread: its slice in progress should end at its next clock check. */
  request (): void {
    Atomics.store(this.#flag, 0, 1);
  }
}
