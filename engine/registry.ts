import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveBudget, type Budget } from './budget.ts';
import { DataDirLock } from './data-dir-lock.ts';
import { checkEnv } from './function-env.ts';
import { assertFunctionName } from './names.ts';

/**
 * Durable storage of deployed functions: one JSON file per function in `<dataDir>/functions/`.
 *
 * A write goes to a temporary file that is fsynced, renamed over the real name, and then the
 * directory is fsynced, so after a crash a function file is either the old version or the new one,
 * never a mix; temporaries (which never end in `.json`) are swept at load.
 */

const kFormat = 1;

/** A deployed function as stored: everything needed to compile it again after a restart. */
export interface FunctionRecord {
  readonly name: string;
  readonly language: string;
  /** Increases by one at every deploy of this name. */
  readonly version: number;
  readonly budget: Budget;
  readonly source: Uint8Array;
  /** Hex SHA-256 of the source: the key of compiled-artifact caches. */
  readonly sourceSha256: string;
  /** ISO 8601. */
  readonly deployedAt: string;
  /** Deploy-time variables (function-env.ts); absent when there are none. The file is readable by the engine's user only. */
  readonly env?: Readonly<Record<string, string>> | undefined;
}

/** A file that could not be read back; kept on disk for an operator, reported at start. */
export interface UnreadableRecord {
  readonly file: string;
  readonly reason: string;
}

export function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export class Registry {
  readonly #dir: string;
  readonly #lock: DataDirLock;

  private constructor (dir: string, lock: DataDirLock) {
    this.#dir = dir;
    this.#lock = lock;
  }

  /**
   * Opens (creating if needed) the function store under `dataDir`, and locks the data dir for this engine.
   * @throws {EngineError} ERR_INVALID_ARGUMENT when another live engine holds the data dir.
   */
  static async open (dataDir: string): Promise<Registry> {
    const dir = join(dataDir, 'functions');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new Registry(dir, await DataDirLock.acquire(dataDir));
  }

  /** Gives the data dir back (another engine may open it). Idempotent. */
  close (): Promise<void> {
    return this.#lock.release();
  }

  /** Reads every stored function. Leftover temporaries are removed; unreadable files are reported, not deleted. */
  async load (): Promise<{ records: FunctionRecord[], unreadable: UnreadableRecord[] }> {
    const records: FunctionRecord[] = [];
    const unreadable: UnreadableRecord[] = [];
    for (const file of (await readdir(this.#dir)).sort()) {
      const path = join(this.#dir, file);
      if (!file.endsWith('.json')) {
        if (file.includes('.tmp-')) await unlink(path).catch(() => {});
        continue;
      }
      try {
        records.push(decodeRecord(await readFile(path, 'utf8'), file.slice(0, -'.json'.length)));
      } catch (error) {
        unreadable.push({ file: path, reason: error instanceof Error ? error.message : String(error) });
      }
    }
    return { records, unreadable };
  }

  /** Stores a record durably, replacing any earlier version of the same name atomically. */
  async write (record: FunctionRecord): Promise<void> {
    const path = this.#pathOf(record.name);
    const temporary = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const file = await open(temporary, 'wx', 0o600);
    try {
      await file.writeFile(encodeRecord(record));
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(temporary, path);
    } catch (error) {
      await unlink(temporary).catch(() => {});
      throw error;
    }
    await this.#syncDir();
  }

  /** Removes a stored function; a missing file is not an error. */
  async delete (name: string): Promise<void> {
    await unlink(this.#pathOf(name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await this.#syncDir();
  }

  #pathOf (name: string): string {
    assertFunctionName(name);
    return join(this.#dir, `${name}.json`);
  }

  async #syncDir (): Promise<void> {
    // The rename or unlink is durable only once the directory entry itself is on disk.
    const dir = await open(this.#dir, 'r');
    try { await dir.sync(); } finally { await dir.close(); }
  }
}

function encodeRecord (record: FunctionRecord): string {
  return JSON.stringify({
    format: kFormat,
    name: record.name,
    language: record.language,
    version: record.version,
    budget: record.budget,
    sourceSha256: record.sourceSha256,
    deployedAt: record.deployedAt,
    ...(record.env !== undefined ? { env: record.env } : {}),
    source: Buffer.from(record.source.buffer, record.source.byteOffset, record.source.byteLength).toString('base64'),
  });
}

function decodeRecord (text: string, expectedName: string): FunctionRecord {
  const raw = JSON.parse(text) as Record<string, unknown>;
  if (raw.format !== kFormat) throw new Error(`unknown record format ${JSON.stringify(raw.format)}`);
  if (raw.name !== expectedName) throw new Error(`record names ${JSON.stringify(raw.name)}, file names ${JSON.stringify(expectedName)}`);
  assertFunctionName(raw.name);
  if (typeof raw.language !== 'string' || typeof raw.source !== 'string' || typeof raw.deployedAt !== 'string') throw new Error('record lacks language, source or deployedAt');
  if (typeof raw.version !== 'number' || !Number.isInteger(raw.version) || raw.version < 1) throw new Error('record has no valid version');
  const source = new Uint8Array(Buffer.from(raw.source, 'base64'));
  const sourceSha256 = sha256Hex(source);
  if (raw.sourceSha256 !== sourceSha256) throw new Error('source does not match its recorded SHA-256');
  const env = checkEnv(raw.env);
  return {
    name: raw.name,
    language: raw.language,
    version: raw.version,
    budget: resolveBudget(raw.budget as Partial<Budget>),
    source,
    sourceSha256,
    deployedAt: raw.deployedAt,
    ...(env !== undefined ? { env } : {}),
  };
}
