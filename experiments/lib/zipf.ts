/** A random permutation of 0..n-1 (Fisher–Yates). */
export function shuffledIndices (n: number, random: () => number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  return order;
}

/**
 * Zipf(s) over ranks 0..n-1: rank r is drawn with probability proportional to 1/(r+1)^s. The CDF is
 * computed once (n doubles), so each draw is a binary search: cheap enough to pick every call of a
 * load of thousands per second over 100,000 ranks.
 */
export class ZipfSampler {
  readonly #cdf: Float64Array;
  readonly #random: () => number;

  constructor (n: number, s: number, random: () => number) {
    if (n < 1) throw new RangeError('a Zipf distribution needs at least one rank');
    this.#cdf = new Float64Array(n);
    let sum = 0;
    for (let r = 0; r < n; r++) {
      sum += 1 / (r + 1) ** s;
      this.#cdf[r] = sum;
    }
    for (let r = 0; r < n; r++) this.#cdf[r]! /= sum;
    this.#random = random;
  }

  /** Probability of rank `r`. */
  probability (r: number): number {
    return this.#cdf[r]! - (r === 0 ? 0 : this.#cdf[r - 1]!);
  }

  /** One rank. */
  next (): number {
    const u = this.#random();
    let lo = 0;
    let hi = this.#cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#cdf[mid]! > u) hi = mid; else lo = mid + 1;
    }
    return lo;
  }
}
