import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Linked modules on disk, by content hash, so an engine restart does not run the compilers again.
 * What is cached is the module before instrumentation: reading it back runs the whole check and
 * instrumentation pass again, so a tampered file is refused like any other module.
 */
export class ArtifactCache {
  readonly #dir: string | undefined;

  constructor (dir: string | undefined) { this.#dir = dir; }

  async read (key: string): Promise<Uint8Array | undefined> {
    if (this.#dir === undefined) return undefined;
    try {
      return new Uint8Array(await readFile(join(this.#dir, `${key}.wasm`)));
    } catch {
      return undefined;
    }
  }

  /** Best effort: a full disk costs a recompile later, never a deploy. */
  async write (key: string, bytes: Uint8Array): Promise<void> {
    if (this.#dir === undefined) return;
    try {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      const temporary = join(this.#dir, `${key}.wasm.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
      await writeFile(temporary, bytes, { mode: 0o600 });
      await rename(temporary, join(this.#dir, `${key}.wasm`));
    } catch {
      // The cache is an optimisation.
    }
  }
}
