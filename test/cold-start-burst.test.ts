import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../engine/index.ts';
import { faultyPlugin } from './support/test-plugins.ts';
import { smPlugin } from '../plugins/sm/index.ts';

/**
 * A burst of first calls to many functions whose cold starts hold the thread (engine/cold-start-gate.ts):
 * the cold starts are spread over event-loop tasks, so a warm call sent with the burst is answered
 * after a few of them instead of after all.
 */
test('a warm call sent with a burst of 30 slow cold starts is answered after a few of them, not all', async () => {
  await using engine = await Engine.open({ plugins: [smPlugin(), faultyPlugin()] });
  await engine.deploy('warm', 'sm', Buffer.from('push 1\nhalt\n'));
  await engine.invoke('warm', new Uint8Array());
  for (let i = 0; i < 30; i++) await engine.deploy(`slow-${i}`, 'faulty', Buffer.from('slow-start'));
  const startedAt = performance.now();
  // All in one task, as a scheduler thread receives a batch of invocations in one message.
  const cold = Array.from({ length: 30 }, (_, i) => engine.invoke(`slow-${i}`, Buffer.from('x')));
  const warm = await engine.invoke('warm', new Uint8Array());
  const warmMs = performance.now() - startedAt;
  assert.equal(warm.ok, true);
  for (const result of await Promise.all(cold)) assert.equal(result.ok, true);
  // Each cold start holds the thread 20 ms: started together, the warm call would wait for all 30 (600 ms).
  assert.ok(warmMs < 300, `the warm call took ${warmMs.toFixed(0)} ms`);
});
