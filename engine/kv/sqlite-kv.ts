import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { EngineError } from '../errors.ts';
import type { KvReply, KvRequest, KvStore } from './kv-types.ts';

type WriteRequest = Extract<KvRequest, { op: 'put' | 'delete' }>;

interface QueuedWrite {
  readonly request: WriteRequest;
  readonly resolve: (reply: KvReply) => void;
  readonly reject: (error: unknown) => void;
}

const kDecoder = new TextDecoder();

/**
 * The embedded kv store: one SQLite database (Node's built-in node:sqlite), `<data-dir>/kv.sqlite`,
 * or in memory for an engine without a data dir. WAL with synchronous=FULL: a write is
 * acknowledged only after its transaction's WAL frames are fsynced, so it survives kill -9 and a
 * power cut. Writes that arrive in the same event-loop turn share one transaction (group commit:
 * one fsync for the lot, experiments/kv.ts); reads run at once.
 *
 * Each namespace's size (key and value bytes) is kept in a table of its own, updated in the
 * write's transaction, so a put over the namespace's limit is refused before anything is written.
 */
export class SqliteKv implements KvStore {
  readonly #db: DatabaseSync;
  readonly #get: StatementSync;
  readonly #size: StatementSync;
  readonly #entrySize: StatementSync;
  readonly #upsert: StatementSync;
  readonly #remove: StatementSync;
  readonly #setSize: StatementSync;
  readonly #listFrom: StatementSync;
  readonly #listRange: StatementSync;
  #queue: QueuedWrite[] = [];
  #flushing: NodeJS.Immediate | undefined;
  #closed = false;

  /** @param path the database file, or undefined for a store in memory. */
  constructor (path: string | undefined) {
    const db = this.#db = new DatabaseSync(path ?? ':memory:');
    if (path !== undefined) {
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = FULL');
    }
    db.exec(`CREATE TABLE IF NOT EXISTS entries (ns TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS namespaces (ns TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;`);
    this.#get = db.prepare('SELECT value FROM entries WHERE ns = ? AND key = ?');
    this.#size = db.prepare('SELECT bytes FROM namespaces WHERE ns = ?');
    this.#entrySize = db.prepare('SELECT length(key) + length(value) AS bytes FROM entries WHERE ns = ? AND key = ?');
    this.#upsert = db.prepare('INSERT OR REPLACE INTO entries (ns, key, value) VALUES (?, ?, ?)');
    this.#remove = db.prepare('DELETE FROM entries WHERE ns = ? AND key = ?');
    this.#setSize = db.prepare('INSERT OR REPLACE INTO namespaces (ns, bytes) VALUES (?, ?)');
    this.#listFrom = db.prepare('SELECT key FROM entries WHERE ns = ? AND key >= ? ORDER BY key LIMIT ?');
    this.#listRange = db.prepare('SELECT key FROM entries WHERE ns = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?');
  }

  apply (request: KvRequest): Promise<KvReply> {
    if (this.#closed) return Promise.reject(new EngineError('ERR_CLOSED', 'the kv store is closed'));
    switch (request.op) {
      case 'get': {
        const row = this.#get.get(request.namespace, request.key) as { value: Uint8Array } | undefined;
        return Promise.resolve({ value: row === undefined ? null : row.value });
      }
      case 'list': {
        const end = prefixEnd(request.prefix);
        const rows = (end === undefined
          ? this.#listFrom.all(request.namespace, request.prefix, request.limit)
          : this.#listRange.all(request.namespace, request.prefix, end, request.limit)) as { key: Uint8Array }[];
        return Promise.resolve({ keys: rows.map((row) => kDecoder.decode(row.key)) });
      }
      default:
        return new Promise((resolve, reject) => {
          this.#queue.push({ request, resolve, reject });
          this.#flushing ??= setImmediate(this.#flush);
        });
    }
  }

  /** The bytes a namespace holds. */
  sizeOf (namespace: string): number {
    const row = this.#size.get(namespace) as { bytes: number } | undefined;
    return row?.bytes ?? 0;
  }

  /** Ends the store; writes still queued are committed first. Idempotent. */
  close (): void {
    if (this.#closed) return;
    if (this.#flushing !== undefined) {
      clearImmediate(this.#flushing);
      this.#flush();
    }
    this.#closed = true;
    this.#db.close();
  }

  /** Commits every queued write in one transaction; each is answered after the commit (or refused alone). */
  readonly #flush = (): void => {
    this.#flushing = undefined;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    const answers: (() => void)[] = [];
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      for (const write of batch) {
        try {
          const reply = this.#write(write.request);
          answers.push(() => write.resolve(reply));
        } catch (error) {
          answers.push(() => write.reject(error));
        }
      }
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      const failure = new EngineError('ERR_INTERNAL', `the kv store could not commit: ${error instanceof Error ? error.message : String(error)}`);
      for (const write of batch) write.reject(failure);
      return;
    }
    for (const answer of answers) answer();
  };

  #write (request: WriteRequest): KvReply {
    const { namespace, key } = request;
    const old = this.#entrySize.get(namespace, key) as { bytes: number } | undefined;
    const size = this.sizeOf(namespace);
    if (request.op === 'delete') {
      if (old === undefined) return { existed: false };
      this.#remove.run(namespace, key);
      this.#setSize.run(namespace, size - old.bytes);
      return { existed: true };
    }
    const after = size - (old?.bytes ?? 0) + key.byteLength + request.value.byteLength;
    if (after > request.limitBytes && after > size) {
      throw new EngineError('ERR_KV_BUDGET', `kv namespace ${namespace} would hold ${after} bytes, over its budget of ${request.limitBytes} (it holds ${size})`);
    }
    this.#upsert.run(namespace, key, request.value);
    this.#setSize.run(namespace, after);
    return {};
  }
}

/** The least byte string greater than every string that starts with `prefix`, or undefined when there is none (empty, or all 0xff). */
function prefixEnd (prefix: Uint8Array): Uint8Array | undefined {
  let end = prefix.byteLength;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const bound = prefix.slice(0, end);
  bound[end - 1]!++;
  return bound;
}
