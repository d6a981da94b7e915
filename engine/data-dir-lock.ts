import { readFileSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError } from './errors.ts';

/**
 * One engine per data dir: two engines writing the same function files would each believe its own
 * registry, and a redeploy on one would be lost on the other's restart.
 *
 * The lock is `<dataDir>/engine.lock`, created exclusively, holding the owner's pid and that
 * process's start time. A lock whose process is gone (an engine killed with SIGKILL) is stale and
 * taken over; the start time tells a live owner from an unrelated process that got the same pid.
 */
export class DataDirLock {
  readonly #path: string;
  #released = false;

  private constructor (path: string) { this.#path = path; }

  /** @throws {EngineError} ERR_INVALID_ARGUMENT when another live engine holds the data dir. */
  static async acquire (dataDir: string): Promise<DataDirLock> {
    const path = join(dataDir, 'engine.lock');
    const owner = `${process.pid} ${startTimeOf(process.pid)}\n`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const file = await open(path, 'wx', 0o600);
        try {
          await file.writeFile(owner);
          await file.sync();
        } finally {
          await file.close();
        }
        kHeldHere.add(path);
        return new DataDirLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = await readFile(path, 'utf8').catch(() => '');
      const [pidText, startTime] = holder.trim().split(' ');
      const pid = Number(pidText);
      if (isLive(path, pid, startTime)) {
        throw new EngineError('ERR_INVALID_ARGUMENT', `the data dir ${dataDir} is in use by another engine (pid ${pid}); stop it or choose another --data-dir`);
      }
      await unlink(path).catch(() => {}); // stale: its engine is gone
    }
    throw new EngineError('ERR_INVALID_ARGUMENT', `cannot lock the data dir ${dataDir}: another engine keeps taking ${path}`);
  }

  /** Idempotent. */
  async release (): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    kHeldHere.delete(this.#path);
    await unlink(this.#path).catch(() => {});
  }
}

/** Locks held by engines of this process: a lock file naming our own pid is live only if it is one of these. */
const kHeldHere = new Set<string>();

function isLive (path: string, pid: number, startTime: string | undefined): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return kHeldHere.has(path);
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = startTimeOf(pid);
  return startTime === undefined || startTime === '-' || now === '-' || now === startTime;
}

/** A process's start time in clock ticks since boot (Linux /proc), or '-' where it cannot be read. */
function startTimeOf (pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '-';
  } catch {
    return '-';
  }
}
