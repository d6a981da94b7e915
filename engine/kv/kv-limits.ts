import { EngineError } from '../errors.ts';
import { kNameSource } from '../names.ts';

/**
 * What a function may do with kv: its own namespace (named after it) read and write, and the
 * shared namespaces its deploy grants (`--kv NAMESPACE:ro|rw`). Keys and values have size limits
 * whatever the namespace's storage budget.
 */

/** A kv grant: a namespace (function-name characters) and its mode. */
export const kKvGrantPattern = new RegExp(`^${kNameSource}:(?:ro|rw)$`);
/** Longest key, in UTF-8 bytes. */
export const kMaxKeyBytes = 512;
/** Largest value, in bytes. */
export const kMaxValueBytes = 1024 * 1024;
/** Most keys one list returns (the first ones, in byte order). */
export const kMaxListKeys = 1000;

const kEncoder = new TextEncoder();

/** The namespace an operation names (undefined: the function's own) after checking the function may use it so. */
export function namespaceFor (functionName: string, grants: readonly string[], namespace: string | undefined, write: boolean): string {
  if (namespace === undefined || namespace === functionName) return functionName;
  const mode = grants.includes(`${namespace}:rw`) ? 'rw' : grants.includes(`${namespace}:ro`) ? 'ro' : undefined;
  if (mode === undefined) throw new EngineError('ERR_KV_DENIED', `${functionName} has no grant for kv namespace ${JSON.stringify(String(namespace).slice(0, 140))} (--kv NAMESPACE:ro|rw)`);
  if (write && mode === 'ro') throw new EngineError('ERR_KV_DENIED', `${functionName} may only read kv namespace ${namespace} (granted ro)`);
  return namespace;
}

/** A key as the store keeps it (UTF-8 bytes). @throws {EngineError} ERR_FUNCTION for an empty or non-string key, ERR_KV_BUDGET for a long one. */
export function keyBytes (key: unknown, what = 'key'): Uint8Array {
  if (typeof key !== 'string') throw new EngineError('ERR_FUNCTION', `kv: the ${what} must be a string: got ${typeof key}`);
  const bytes = kEncoder.encode(key);
  if (bytes.byteLength > kMaxKeyBytes) throw new EngineError('ERR_KV_BUDGET', `kv: a ${what} of ${bytes.byteLength} bytes is over the limit of ${kMaxKeyBytes}`);
  if (what === 'key' && bytes.byteLength === 0) throw new EngineError('ERR_FUNCTION', 'kv: the key must not be empty');
  return bytes;
}

/** @throws {EngineError} ERR_KV_BUDGET for a value over kMaxValueBytes. */
export function checkValue (value: Uint8Array): void {
  if (value.byteLength > kMaxValueBytes) throw new EngineError('ERR_KV_BUDGET', `kv: a value of ${value.byteLength} bytes is over the limit of ${kMaxValueBytes}`);
}
