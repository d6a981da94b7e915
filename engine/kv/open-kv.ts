import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SqliteKv } from './sqlite-kv.ts';

/** The engine's kv store: `<dataDir>/kv.sqlite`, or in memory (lost at close) for an engine without a data dir. */
export async function openKv (dataDir: string | undefined): Promise<SqliteKv> {
  if (dataDir === undefined) return new SqliteKv(undefined);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  return new SqliteKv(join(dataDir, 'kv.sqlite'));
}
