import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { SpringbokClient } from '../dispatchers/client.ts';
import { kBigAnswer, overload } from '../experiments/lib/overload.ts';
import { example, startEngineProcess, temporaryDir } from './support/engine-process.ts';

test('overload: a flood gets ERR_QUEUE_FULL and service recovers; 300 connections; a client that never reads stays bounded', async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path, extraArgs: ['--max-in-flight-per-function', '100'] });
  await using client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  await client.deploy('work', 'sm', await readFile(example('sm/sum.sm')));
  await client.deploy('big', 'sm', Buffer.from(kBigAnswer));
  const big = await client.invoke('big', '');
  assert.equal(big.ok && big.output.byteLength, 1_000_000);
  const report = await overload(engine.socketPath, { floodRequests: 3000, connections: 300, slowRequests: 300, work: 'work', workInput: '1000', big: 'big', bigInput: '' });
  assert.equal(report.flood.otherErrors, 0);
  assert.ok(report.flood.queueFull > 0 && report.flood.ok > 0, JSON.stringify(report.flood));
  assert.ok(report.recoveredPerSecond > report.baselinePerSecond * 0.3, `throughput ${report.baselinePerSecond}/s before, ${report.recoveredPerSecond}/s after`);
  assert.equal(report.connections.answered, 300);
  // Bounded, not free: besides the main thread, each scheduler thread's V8 isolate may hold up to
  // ~64 MiB of dead output buffers before it collects them (its GC runs on external memory growth).
  const threads = (await client.stats()).threads?.length ?? 0;
  const boundBytes = (120 + 64 * threads) * 2 ** 20;
  assert.ok(report.slowReader.rssGrowthBytes < boundBytes, `a client that never reads grew the engine by ${report.slowReader.rssGrowthBytes} bytes for 300 MB of answers (bound ${boundBytes})`);
  assert.equal(engine.child.exitCode, null);
  assert.equal((await client.stats()).inFlight, 0);
});
