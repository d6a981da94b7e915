import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { SpringbokClient } from '../dispatchers/client.ts';
import { seededRandom } from '../experiments/lib/seeded-random.ts';
import { startEngineProcess, temporaryDir } from './support/engine-process.ts';

// kv's promise (doc/kv.md): a put the function saw succeed survives kill -9 of the engine. Writers
// put new keys as fast as they can through a real `springbok serve`; the engine is killed at a
// random moment; after a restart on the same data dir every acknowledged key reads back its value.

/** input "put KEY VALUE" stores, "get KEY" answers the value (or "null"). */
const kStore = 'export default async (input, ctx) => { const [op, key, value] = input.split(" "); if (op === "put") { await ctx.kv.put(key, value); return "ok"; } return String(await ctx.kv.get(key)); }';
const kWriters = 4;

test('SIGKILL while functions put: no acknowledged put is lost (3 trials)', { timeout: 120_000 }, async () => {
  await using dir = await temporaryDir();
  const dataDir = join(dir.path, 'data');
  const random = seededRandom(19);
  let acknowledged = 0;
  for (let trial = 0; trial < 3; trial++) {
    const engine = await startEngineProcess({ dir: dir.path, dataDir });
    const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
    if (trial === 0) await client.deploy('store', 'js', Buffer.from(kStore));
    const acked = new Map<string, string>();
    let killed = false;
    const writer = async (index: number): Promise<void> => {
      for (let n = 0; !killed; n++) {
        const key = `t${trial}-w${index}-${n}`;
        const value = `v${Math.floor(random() * 1e9)}`;
        let result;
        try {
          result = await client.invoke('store', `put ${key} ${value}`);
        } catch {
          return; // the engine died mid-request
        }
        // Every answer that arrives was sent before the kill, so every ok one must have been durable.
        if (result.ok) acked.set(key, value);
      }
    };
    const writers = Promise.all(Array.from({ length: kWriters }, (_, index) => writer(index)));
    await new Promise((resolve) => setTimeout(resolve, 300 + random() * 500));
    killed = true;
    engine.child.kill('SIGKILL');
    await once(engine.child, 'exit');
    await writers;
    client.close().catch(() => {});

    await using restarted = await startEngineProcess({ dir: dir.path, dataDir });
    const check = await SpringbokClient.connect({ socketPath: restarted.socketPath });
    const lost: string[] = [];
    await Promise.all([...acked].map(async ([key, value]) => {
      const result = await check.invoke('store', `get ${key}`);
      const found = result.ok ? result.output.toString() : `${result.error.code}`;
      if (found !== value) lost.push(`${key}: ${found}, acknowledged ${value}`);
    }));
    await check.close();
    assert.deepEqual(lost, [], `trial ${trial}`);
    assert.equal(restarted.stderr().trim(), '', `trial ${trial}: the engine started with warnings`);
    acknowledged += acked.size;
  }
  assert.ok(acknowledged > 0, 'puts were acknowledged before the kills');
});
