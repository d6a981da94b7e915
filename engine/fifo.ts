/**
 * A first-in first-out queue on a growable ring buffer: O(1) push and shift without the
 * O(n) `Array.prototype.shift` that bites run queues holding thousands of entries.
 */
export class Fifo<T> {
  #items: (T | undefined)[] = new Array<T | undefined>(16);
  #head = 0;
  #size = 0;

  get size (): number { return this.#size; }

  push (item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) & (this.#items.length - 1)] = item;
    this.#size++;
  }

  shift (): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#size--;
    return item;
  }

  #grow (): void {
    // Capacity stays a power of two so the index wraps with a mask.
    const grown: (T | undefined)[] = new Array<T | undefined>(this.#items.length * 2);
    for (let i = 0; i < this.#size; i++) grown[i] = this.#items[(this.#head + i) & (this.#items.length - 1)];
    this.#items = grown;
    this.#head = 0;
  }
}
