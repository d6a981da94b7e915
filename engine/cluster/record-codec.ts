import type { FunctionRecord } from '../registry.ts';

/**
 * A function record as a value of the cluster's KV bucket: the record as a whole but its source
 * (which goes to the object store under its SHA-256, since a source may be larger than a NATS
 * message), in JSON. Every field is carried without being listed, so fields added to records later
 * replicate too; bytes anywhere in the record travel as {"$bytes": base64}.
 *
 * A removed function leaves a tombstone, {"removed": true, "version": N}, rather than no key: the
 * next deploy of the name must get N + 1, so versions never go back, whichever engine deploys.
 */

const kFormat = 1;

/** A record without its source, as the bucket holds it. */
export type StoredRecord = Omit<FunctionRecord, 'source'>;

export type BucketValue =
  | { readonly removed: false, readonly record: StoredRecord }
  | { readonly removed: true, readonly name: string, readonly version: number };

export function encodeRecord (record: FunctionRecord): string {
  const { source: _source, ...rest } = record;
  return JSON.stringify({ format: kFormat, record: rest }, bytesReplacer);
}

export function encodeTombstone (name: string, version: number): string {
  return JSON.stringify({ format: kFormat, removed: { name, version } });
}

/** @throws {Error} for a value no engine of this format wrote. */
export function decodeBucketValue (text: string): BucketValue {
  const raw = JSON.parse(text, bytesReviver) as { format?: unknown, record?: StoredRecord, removed?: { name?: unknown, version?: unknown } };
  if (raw.format !== kFormat) throw new Error(`unknown record format ${JSON.stringify(raw.format)}`);
  if (raw.removed !== undefined) {
    const { name, version } = raw.removed;
    if (typeof name !== 'string' || typeof version !== 'number') throw new Error('tombstone lacks its name or version');
    return { removed: true, name, version };
  }
  const record = raw.record;
  if (record === undefined || typeof record.name !== 'string' || typeof record.version !== 'number' || typeof record.sourceSha256 !== 'string') throw new Error('record lacks its name, version or source hash');
  return { removed: false, record };
}

/** The version a bucket value holds: of the record, or of the function a tombstone removed. */
export function versionOf (value: BucketValue): number {
  return value.removed ? value.version : value.record.version;
}

function bytesReplacer (this: Record<string, unknown>, key: string, value: unknown): unknown {
  // JSON.stringify hands Buffers over already turned into {type, data}; the holder has the original.
  const original = this[key];
  return original instanceof Uint8Array ? { $bytes: Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64') } : value;
}

function bytesReviver (_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const bytes = (value as { $bytes?: unknown }).$bytes;
    if (typeof bytes === 'string' && Object.keys(value).length === 1) return new Uint8Array(Buffer.from(bytes, 'base64'));
  }
  return value;
}
