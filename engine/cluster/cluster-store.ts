import type { NatsConnection, QueuedIterator } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry, type KvWatchEntry } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { EngineError } from '../errors.ts';
import type { FunctionStore, StoreChange } from '../options.ts';
import { sha256Hex, type FunctionRecord, type UnreadableRecord } from '../registry.ts';
import { retryWhileStarting } from './connection.ts';
import { kRecordBucket, kSourceBucket } from './names.ts';
import { decodeBucketValue, encodeRecord, encodeTombstone, versionOf, type BucketValue } from './record-codec.ts';

/** How long an engine waits for JetStream to come up (a cluster starting with it) before it gives up, in ms. */
const kStartDeadlineMs = 30_000;
/**
 * How long a write keeps trying while the cluster cannot take it, in ms: a NATS server lost takes
 * JetStream a few seconds to elect new leaders, and a deploy then should wait, not fail.
 */
const kWriteDeadlineMs = 15_000;
/** Sources fetched at once when an engine loads every function. */
const kLoadConcurrency = 8;
/**
 * How often an engine checks that its watch of the bucket still delivers, in ms. A watch is a
 * consumer on one NATS server: when that server goes away the watch may fall silent without the
 * engine's own connection noticing, and an engine that missed deploys would serve old versions.
 */
const kWatchCheckMs = 2_000;

/** The stream under the KV bucket, and the subject of a key in it (how JetStream lays a bucket out). */
const kRecordStream = `KV_${kRecordBucket}`;
function keySubject (name: string): string {
  return `$KV.${kRecordBucket}.${name}`;
}

/**
 * The registry of a cluster (FunctionStore): one record per function name in a JetStream KV
 * bucket, its source in an object store, both replicated by JetStream's RAFT. A write returns once
 * the cluster acknowledged it (a quorum of the replicas has it), so an acknowledged deploy survives
 * any one NATS server lost.
 *
 * Versions are compare-and-set: a deploy gets the version after the latest one stored under the
 * name, and is stored only if nothing was written to the bucket since that was read, so two
 * engines never hand out the same version. The condition is on the bucket's last sequence, not
 * the key's: nats-server before 2.9.21 checks a key's expected revision before the RAFT proposal
 * only, and lets two racing writes with the same expected revision both through (nats-server issue
 * 4320; Debian's 2.9.10 took 53 of 100 such races here), while the bucket-wide condition counts
 * the writes in flight and took none. A write that fails only because another key was written
 * meanwhile is tried again; one that finds its own name changed is refused.
 */
export class ClusterStore implements FunctionStore {
  readonly #kv: KV;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #sources: ObjectStore;
  readonly #onWarning: (message: string) => void;
  /** What latestVersion() saw, by name: the write that follows expects the name still at that version. */
  readonly #seen = new Map<string, { readonly version: number, readonly bucketSequence: number }>();
  #watch: QueuedIterator<KvWatchEntry> | undefined;
  /** The bucket's sequence of the last change handed on (or, before any, the last at load). */
  #followedTo = 0;
  #watchCheck: NodeJS.Timeout | undefined;
  /** #followedTo at the previous check of the watch. */
  #lastCheckedAt = 0;
  /** Keys whose change could not be read when it came (a source during a leader election): read again at each check. */
  readonly #unread = new Set<string>();
  #onChange: ((change: StoreChange) => void) | undefined;
  /** Changes seen between load() and follow(). */
  #early: StoreChange[] = [];

  private constructor (kv: KV, js: JetStreamClient, jsm: JetStreamManager, sources: ObjectStore, onWarning: (message: string) => void) {
    this.#kv = kv;
    this.#js = js;
    this.#jsm = jsm;
    this.#sources = sources;
    this.#onWarning = onWarning;
  }

  /** Opens the cluster's buckets, creating them with `replicas` copies when no engine has yet. */
  static async open (connection: NatsConnection, replicas: number, onWarning: (message: string) => void): Promise<ClusterStore> {
    // No direct gets: with them any replica answers a read, and one that is still catching up after
    // a restart answers with what it had (a likely cause of an acknowledged deploy missing from a load in CI). Reads
    // through the stream's leader see every acknowledged write.
    const kvOptions = { replicas, history: 1, allow_direct: false };
    const kv = await retryWhileStarting(`cannot open the KV bucket ${kRecordBucket}`, kStartDeadlineMs, () => new Kvm(connection).create(kRecordBucket, kvOptions));
    const sources = await retryWhileStarting(`cannot open the object store ${kSourceBucket}`, kStartDeadlineMs, () => new Objm(connection).create(kSourceBucket, { replicas }));
    return new ClusterStore(kv, jetstream(connection), await jetstreamManager(connection), sources, onWarning);
  }

  async load (): Promise<{ records: FunctionRecord[], unreadable: UnreadableRecord[] }> {
    // Watch first, list second: a change made in between shows in both, and the control plane keeps the newer version.
    // A cluster that has just started (or restarted) may still be electing the buckets' leaders: every read waits for that.
    this.#followedTo = await retryWhileStarting(`cannot read the KV bucket ${kRecordBucket}`, kStartDeadlineMs, async () => (await this.#jsm.streams.info(kRecordStream)).state.last_seq);
    await this.#startWatch();
    this.#watchCheck = setInterval(() => { void this.#checkWatch(); }, kWatchCheckMs).unref();
    const keys = await retryWhileStarting(`cannot list the KV bucket ${kRecordBucket}`, kStartDeadlineMs, async () => {
      const listed: string[] = [];
      for await (const key of await this.#kv.keys()) listed.push(key);
      return listed;
    });
    const records: FunctionRecord[] = [];
    const unreadable: UnreadableRecord[] = [];
    const loadNext = async (): Promise<void> => {
      for (let key = keys.shift(); key !== undefined; key = keys.shift()) {
        try {
          const entry = await retryWhileStarting(`cannot read ${key}`, kStartDeadlineMs, () => this.#kv.get(key));
          const value = entry === null ? undefined : this.#valueOf(entry);
          if (value !== undefined && !value.removed) records.push(await retryWhileStarting(`cannot read the source of ${key}`, kStartDeadlineMs, () => this.#withSource(value.record)));
        } catch (error) {
          unreadable.push({ file: `${kRecordBucket}/${key}`, reason: (error as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: kLoadConcurrency }, loadNext));
    return { records, unreadable };
  }

  async latestVersion (name: string): Promise<number> {
    const seen = await retryWhileStarting(`the cluster did not answer which version of ${name} is the latest`, kWriteDeadlineMs, () => this.#readLatest(name));
    this.#seen.set(name, seen);
    return seen.version;
  }

  /** Stores the source, then the record; resolves once the cluster acknowledged the record. */
  async write (record: FunctionRecord): Promise<void> {
    await retryWhileStarting(`the cluster did not store the source of ${record.name}`, kWriteDeadlineMs, async () => {
      if (await this.#sources.info(record.sourceSha256) === null) await this.#sources.putBlob({ name: record.sourceSha256 }, record.source);
    });
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
    clearInterval(this.#watchCheck);
    this.#watch?.stop();
    this.#onChange = undefined;
  }

  /**
   * The version stored under `name` (0 for none) and the bucket's last sequence, read in that
   * order from the streams' leader (a replica may lag), so a write conditioned on the sequence
   * finds the name as read.
   */
  async #readLatest (name: string): Promise<{ version: number, bucketSequence: number }> {
    const bucketSequence = (await this.#jsm.streams.info(kRecordStream)).state.last_seq;
    const stored = await this.#jsm.streams.getMessage(kRecordStream, { last_by_subj: keySubject(name) }).catch((error: Error) => {
      if (/no message found/i.test(error.message)) return null;
      throw error;
    });
    if (stored === null || stored.header?.get('KV-Operation')) return { version: 0, bucketSequence };
    return { version: versionOf(decodeBucketValue(stored.string())), bucketSequence };
  }

  /** Stores `value` under `name` if the name is still at the version latestVersion() saw (the class comment says how). */
  async #compareAndSet (name: string, value: string, what: string): Promise<void> {
    let seen = this.#seen.get(name) ?? await this.#readLatest(name);
    this.#seen.delete(name);
    const giveUpAt = performance.now() + kWriteDeadlineMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#js.publish(keySubject(name), value, { expect: { lastSequence: seen.bucketSequence } });
        return;
      } catch (error) {
        const message = (error as Error).message;
        if (performance.now() > giveUpAt) throw new EngineError('ERR_UNAVAILABLE', `the cluster did not acknowledge that ${name} was ${what} within ${kWriteDeadlineMs} ms: ${message}`);
        if (/wrong last sequence/i.test(message)) {
          const now = await this.#readLatest(name).catch(() => undefined);
          if (now !== undefined && now.version !== seen.version) {
            // A retry whose first attempt was stored, but whose acknowledgement was lost, finds its own value.
            if (attempt > 1 && (await this.#kv.get(name).catch(() => null))?.string() === value) return;
            throw new EngineError('ERR_UNAVAILABLE', `${name} was ${what} by another engine at the same moment, so this request was not applied; list shows the version now in service, and you may send it again`);
          }
          // Another name was written meanwhile: this one is as it was, so the write may go again.
          if (now !== undefined) seen = now;
          continue;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
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

  /** Watches the bucket from the change after the last one handed on. */
  async #startWatch (): Promise<void> {
    this.#watch?.stop();
    const watch = await this.#kv.watch({ resumeFromRevision: this.#followedTo + 1 });
    this.#watch = watch;
    void this.#followWatch(watch);
  }

  /**
   * Starts the watch again when the bucket has changes it has not delivered since the last check,
   * and reads again the changes that could not be read when they came.
   */
  async #checkWatch (): Promise<void> {
    for (const key of this.#unread) {
      try {
        const entry = await this.#kv.get(key);
        const change = entry === null ? undefined : await this.#changeOf(entry);
        this.#unread.delete(key);
        if (change !== undefined) this.#handOn(change);
      } catch {
        // Still unreadable: the next check tries again.
      }
    }
    try {
      const last = (await this.#jsm.streams.info(kRecordStream)).state.last_seq;
      const stalled = last > this.#followedTo && this.#followedTo === this.#lastCheckedAt;
      this.#lastCheckedAt = this.#followedTo;
      if (!stalled) return;
      this.#onWarning(`cluster registry: the watch of ${kRecordBucket} stopped at change ${this.#followedTo} of ${last}; watching again from there`);
      await this.#startWatch();
    } catch {
      // The cluster cannot answer now (a leader election): the next check tries again.
    }
  }

  /** Turns each update of the bucket into a change, in the bucket's order. */
  async #followWatch (watch: QueuedIterator<KvWatchEntry>): Promise<void> {
    for await (const entry of watch) {
      // A watch started again may deliver changes the one before it had handed on.
      if (entry.revision <= this.#followedTo) continue;
      this.#followedTo = entry.revision;
      try {
        const change = await this.#changeOf(entry);
        this.#unread.delete(entry.key);
        if (change !== undefined) this.#handOn(change);
      } catch (error) {
        this.#unread.add(entry.key);
        this.#onWarning(`cluster registry: cannot read the change of ${entry.key} (revision ${entry.revision}) yet, reading it again every ${kWatchCheckMs} ms: ${(error as Error).message}`);
      }
    }
  }

  #handOn (change: StoreChange): void {
    if (this.#onChange === undefined) this.#early.push(change);
    else this.#onChange(change);
  }

  async #changeOf (entry: KvEntry): Promise<StoreChange | undefined> {
    // A key deleted or purged outside springbok removes the function, whatever version it had.
    if (entry.operation !== 'PUT') return { kind: 'delete', name: entry.key, version: Number.MAX_SAFE_INTEGER };
    const value = decodeBucketValue(entry.string());
    if (value.removed) return { kind: 'delete', name: value.name, version: value.version };
    return { kind: 'put', record: await this.#withSource(value.record) };
  }
}
