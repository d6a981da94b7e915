/** Runs the deploys and removes of one function name one after another, in arrival order. */
export class NameLocks {
  /** Tail of the queue of work per name. */
  readonly #tails = new Map<string, Promise<void>>();

  run<T> (name: string, work: () => Promise<T>): Promise<T> {
    const next = (this.#tails.get(name) ?? Promise.resolve()).then(work);
    const settled = next.then(() => {}, () => {});
    this.#tails.set(name, settled);
    void settled.then(() => { if (this.#tails.get(name) === settled) this.#tails.delete(name); });
    return next;
  }

  /** Resolves when all work queued so far has settled. */
  async drain (): Promise<void> {
    await Promise.allSettled([...this.#tails.values()]);
  }
}
