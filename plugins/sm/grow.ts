type GrowableArray = Float64Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Uint8Array<ArrayBuffer>;

/**
 * A larger copy of `array` holding at least `needed` elements: double the length (so growth is
 * amortized), but never more than `limit` (what the memory budget allows), and the first `used`
 * elements copied over.
 * @returns the new array, or undefined when the host could not allocate it.
 */
export function grow<T extends GrowableArray> (array: T, used: number, needed: number, limit: number): T | undefined {
  const length = Math.max(needed, Math.min(array.length * 2, limit));
  let next: T;
  try {
    next = new (array.constructor as new (length: number) => T)(length);
  } catch (error) {
    if (error instanceof RangeError) return undefined;
    throw error;
  }
  next.set(array.subarray(0, used));
  return next;
}
