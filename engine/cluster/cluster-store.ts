import type { NatsConnection, QueuedIterator } from '@nats-io/nats-core';
import { KvWatchInclude, Kvm, type KV, type KvEntry, type KvWatchEntry } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { EngineError } from '../errors.ts';
import type { FunctionStore, StoreChange } from '../options.ts';
import { sha256Hex, type FunctionRecord, type UnreadableRecord } from '../registry.ts';
import { retryWhileStarting } from './connection.ts';
import { kRecordBucket, kSourceBucket } from './names.ts';
import { decodeBucketValue, encodeRecord, encodeTombstone, versionOf, type BucketValue } from './record-codec.ts';

/** How long an engine waits for JetStream to come up (a cluster starting with it) before it gives up, in ms. */
const kStartDeadlineMs = 30_000;
/** Sources fetched at once when an engine loads every function. */
const kLoadConcurrency = 8;

/**
 * The registry of a cluster (FunctionStore): one record per function name in a JetStream KV
 * bucket, its source in an object store, both replicated by JetStream's RAFT. A write returns once
 * the cluster acknowledged it (a quorum of the replicas has it), so an acknowledged deploy survives
 * any one NATS server lost. Versions are compare-and-set on the key's revision: a deploy gets the
 * version after the latest one stored under the name, and fails if another engine stored one in
 * between, so two engines never hand out the same version.
 */
export class ClusterStore implements FunctionStore {
  readonly #kv: KV;
  readonly #sources: ObjectStore;
  readonly #onWarning: (message: string) => void;
  /** The key's revision latestVersion() saw, by name: the write that follows expects it (0: no key). */
  readonly #seenRevisions = new Map<string, number>();
  #watch: QueuedIterator<KvWatchEntry> | undefined;
  #onChange: ((change: StoreChange) => void) | undefined;
  /** Changes seen between load() and follow(). */
  #early: StoreChange[] = [];

  private constructor (kv: KV, sources: ObjectStore, onWarning: (message: string) => void) {
    this.#kv = kv;
    this.#sources = sources;
    this.#onWarning = onWarning;
  }

  /** Opens the cluster's buckets, creating them with `replicas` copies when no engine has yet. */
  static async open (connection: NatsConnection, replicas: number, onWarning: (message: string) => void): Promise<ClusterStore> {
    const kv = await retryWhileStarting(`cannot open the KV bucket ${kRecordBucket}`, kStartDeadlineMs, () => new Kvm(connection).create(kRecordBucket, { replicas, history: 1 }));
    const sources = await retryWhileStarting(`cannot open the object store ${kSourceBucket}`, kStartDeadlineMs, () => new Objm(connection).create(kSourceBucket, { replicas }));
    return new ClusterStore(kv, sources, onWarning);
  }

  async load (): Promise<{ records: FunctionRecord[], unreadable: UnreadableRecord[] }> {
    // Watch first, list second: a change made in between shows in both, and the control plane keeps the newer version.
    this.#watch = await this.#kv.watch({ include: KvWatchInclude.UpdatesOnly });
    void this.#followWatch(this.#watch);
    const keys: string[] = [];
    for await (const key of await this.#kv.keys()) keys.push(key);
    const records: FunctionRecord[] = [];
    const unreadable: UnreadableRecord[] = [];
    const loadNext = async (): Promise<void> => {
      for (let key = keys.shift(); key !== undefined; key = keys.shift()) {
        try {
          const entry = await this.#kv.get(key);
          const value = entry === null ? undefined : this.#valueOf(entry);
          if (value !== undefined && !value.removed) records.push(await this.#withSource(value.record));
        } catch (error) {
          unreadable.push({ file: `${kRecordBucket}/${key}`, reason: (error as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: kLoadConcurrency }, loadNext));
    return { records, unreadable };
  }

  async latestVersion (name: string): Promise<number> {
    const entry = await this.#kv.get(name);
    const value = entry === null ? undefined : this.#valueOf(entry);
    this.#seenRevisions.set(name, value === undefined ? 0 : entry!.revision);
    return value === undefined ? 0 : versionOf(value);
  }

  /** Stores the source, then the record; resolves once the cluster acknowledged the record. */
  async write (record: FunctionRecord): Promise<void> {
    if (await this.#sources.info(record.sourceSha256) === null) await this.#sources.putBlob({ name: record.sourceSha256 }, record.source);
    await this.#compareAndSet(record.name, encodeRecord(record), 'deployed');
  }

  /** Leaves a tombstone holding the removed version (record-codec.ts says why). */
  async delete (name: string): Promise<void> {
    const version = await this.latestVersion(name);
    if (version === 0) return;
    await this.#compareAndSet(name, encodeTombstone(name, version), 'removed');
  }

  follow (onChange: (change: StoreChange) => void): void {
    this.#onChange = onChange;
    for (const change of this.#early.splice(0)) onChange(change);
  }

  async close (): Promise<void> {
    this.#watch?.stop();
    this.#onChange = undefined;
  }

  async #compareAndSet (name: string, value: string, what: string): Promise<void> {
    const expected = this.#seenRevisions.get(name) ?? (await this.latestVersion(name), this.#seenRevisions.get(name)!);
    this.#seenRevisions.delete(name);
    try {
      if (expected === 0) await this.#kv.create(name, value);
      else await this.#kv.update(name, value, expected);
    } catch (error) {
      const message = (error as Error).message;
      if (/wrong last sequence|key exists/i.test(message)) {
        throw new EngineError('ERR_UNAVAILABLE', `${name} was ${what} by another engine at the same moment, so this request was not applied; list shows the version now in service, and you may send it again`);
      }
      throw new EngineError('ERR_UNAVAILABLE', `the cluster did not acknowledge that ${name} was ${what}: ${message}`);
    }
  }

  /** The bucket's value, or undefined for a key deleted outside springbok. @throws {Error} for a value it cannot read. */
  #valueOf (entry: KvEntry): BucketValue | undefined {
    if (entry.operation !== 'PUT') return undefined;
    return decodeBucketValue(entry.string());
  }

  async #withSource (stored: Omit<FunctionRecord, 'source'>): Promise<FunctionRecord> {
    const source = await this.#sources.getBlob(stored.sourceSha256);
    if (source === null) throw new Error(`source ${stored.sourceSha256} of ${stored.name} version ${stored.version} is missing from the object store`);
    if (sha256Hex(source) !== stored.sourceSha256) throw new Error(`source of ${stored.name} version ${stored.version} does not match its SHA-256`);
    return { ...stored, source };
  }

  /** Turns each update of the bucket into a change, in the bucket's order. */
  async #followWatch (watch: QueuedIterator<KvWatchEntry>): Promise<void> {
    for await (const entry of watch) {
      try {
        const change = await this.#changeOf(entry);
        if (change === undefined) continue;
        if (this.#onChange === undefined) this.#early.push(change);
        else this.#onChange(change);
      } catch (error) {
        this.#onWarning(`cluster registry: cannot apply the change of ${entry.key} (revision ${entry.revision}): ${(error as Error).message}`);
      }
    }
  }

  async #changeOf (entry: KvWatchEntry): Promise<StoreChange | undefined> {
    // A key deleted or purged outside springbok removes the function, whatever version it had.
    if (entry.operation !== 'PUT') return { kind: 'delete', name: entry.key, version: Number.MAX_SAFE_INTEGER };
    const value = decodeBucketValue(entry.string());
    if (value.removed) return { kind: 'delete', name: value.name, version: value.version };
    return { kind: 'put', record: await this.#withSource(value.record) };
  }
}
