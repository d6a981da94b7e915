import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine } from '../engine/index.ts';
import { smPlugin } from '../plugins/sm/index.ts';
import { runCli, startEngineProcess, temporaryDir } from './support/engine-process.ts';

/** One engine per data dir: a second one refuses to start; a lock left by a killed engine is taken over. */

test('a second engine on the same data dir refuses to start, naming the first', async () => {
  await using dir = await temporaryDir();
  await using first = await startEngineProcess({ dir: dir.path, extraArgs: ['--workers', '0'] });
  const second = await runCli(['serve', '--socket', join(dir.path, 'second.sock'), '--data-dir', first.dataDir, '--workers', '0']);
  assert.equal(second.code, 2, second.stderr);
  assert.match(second.stderr, new RegExp(`in use by another engine \\(pid ${first.child.pid}\\)`));
  // The first engine is unharmed and still serves.
  const list = await runCli(['list', '--socket', first.socketPath]);
  assert.equal(list.code, 0, list.stderr);
});

test('the lock of an engine killed with SIGKILL is stale and taken over; a clean stop releases it', async () => {
  await using dir = await temporaryDir();
  const dataDir = join(dir.path, 'data');
  const killed = await startEngineProcess({ dir: dir.path, dataDir, extraArgs: ['--workers', '0'] });
  const exited = once(killed.child, 'exit');
  killed.child.kill('SIGKILL');
  await exited;
  assert.match(await readFile(join(dataDir, 'engine.lock'), 'utf8'), new RegExp(`^${killed.child.pid} `));
  const next = await startEngineProcess({ dir: dir.path, dataDir, extraArgs: ['--workers', '0'] });
  assert.equal(await next.stop(), 0);
  await assert.rejects(readFile(join(dataDir, 'engine.lock')), { code: 'ENOENT' });
});

test('in one process, a data dir is free again once its engine is closed', async () => {
  await using dir = await temporaryDir();
  const first = await Engine.open({ plugins: [smPlugin()], dataDir: dir.path });
  await assert.rejects(Engine.open({ plugins: [smPlugin()], dataDir: dir.path }), { code: 'ERR_INVALID_ARGUMENT', message: /in use by another engine/ });
  await first.close();
  const again = await Engine.open({ plugins: [smPlugin()], dataDir: dir.path });
  await again.close();
});
