import { Fifo } from './fifo.ts';

/**
 * Lets at most one cold start (a plugin's instantiate()) begin per event-loop task on this thread.
 *
 * Much of a cold start is synchronous work on the engine's thread (a QuickJS instance or a Lua state
 * prepared when no spare is ready: ~5-15 ms each). A burst of first calls to different functions
 * started them all from one message batch, in one chain of microtasks: 600 QuickJS cold starts kept a
 * scheduler thread from its event loop for ~8 s, so no call was answered before all had started,
 * warm calls waited too, and the thread's heartbeat stopped until the watchdog replaced it, failing
 * everything it held. Through the gate, each further start waits for a task of its own
 * (setImmediate), so between two of them the thread reads its messages, beats and runs a scheduler
 * turn. A lone cold start is not delayed.
 */
export class ColdStartGate {
  readonly #waiting = new Fifo<() => void>();
  /** A start began in the current task. */
  #busy = false;

  run<T> (start: () => Promise<T>): Promise<T> {
    if (!this.#busy) {
      this.#mark();
      return start();
    }
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push(() => {
        try {
          start().then(resolve, reject);
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  /** Cold starts waiting for a task of their own. */
  get waiting (): number {
    return this.#waiting.size;
  }

  #mark (): void {
    this.#busy = true;
    setImmediate(this.#next);
  }

  readonly #next = (): void => {
    this.#busy = false;
    const next = this.#waiting.shift();
    if (next === undefined) return;
    this.#mark();
    next();
  };
}
