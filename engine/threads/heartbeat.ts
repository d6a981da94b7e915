/**
 * A scheduler thread's sign of life, read by the main thread without a message: the thread bumps a
 * shared counter from a timer, so the count moves only while its event loop comes back. A thread
 * stuck in native code (an isolate lock, a plugin's long C call) or in guest code that ignores its
 * slice stops the count, even though it would still answer nothing; a message-based ping could not
 * tell "slow" from "stuck" as cheaply, and costs a postMessage per thread per beat.
 */

/** How often a thread bumps its counter, in ms. */
export const kBeatEveryMs = 50;
/** A thread whose count has not moved for this long is stalled: dispatch avoids it and /healthz says so. */
export const kThreadStalledMs = 1000;

/** The thread's side: starts beating on `buffer` (from ThreadInit). */
export function startBeating (buffer: SharedArrayBuffer): NodeJS.Timeout {
  const count = new Int32Array(buffer);
  const timer = setInterval(() => Atomics.add(count, 0, 1), kBeatEveryMs);
  timer.unref();
  return timer;
}

/** The main thread's side: how long a thread's counter has stood still. */
export class HeartbeatWatch {
  readonly buffer = new SharedArrayBuffer(4);
  readonly #count = new Int32Array(this.buffer);
  #lastCount = 0;
  #lastMoveAt = performance.now();

  /** Reads the counter; returns how long it has not moved, in ms (0 when it just moved). */
  silentForMs (now = performance.now()): number {
    const count = Atomics.load(this.#count, 0);
    if (count !== this.#lastCount) {
      this.#lastCount = count;
      this.#lastMoveAt = now;
    }
    return now - this.#lastMoveAt;
  }
}
