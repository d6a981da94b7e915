import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { TokenBucket } from '../../engine/network/token-bucket.ts';

/*
 * The bucket reads the real clock (it has no clock parameter), so these tests bound waits from below
 * by what the rate requires, which no scheduling delay can shorten, and from above only loosely.
 */

const kNoAbort = new AbortController().signal;

/** Milliseconds `take` took. */
async function timedTake (bucket: TokenBucket, bytes: number, signal = kNoAbort): Promise<number> {
  const startedAt = performance.now();
  await bucket.take(bytes, signal);
  return performance.now() - startedAt;
}

/** True when `promise` settles before the event loop's next turn, that is without any timer. */
async function settlesAtOnce (promise: Promise<unknown>): Promise<boolean> {
  const nextTurn = new Promise<false>((resolve) => setImmediate(() => resolve(false)));
  return Promise.race([promise.then(() => true), nextTurn]);
}

test('a new bucket lets a tenth of a second\'s bytes through at once, and makes the next bytes wait for the rate', async () => {
  const bucket = new TokenBucket(10_000);
  assert.equal(await settlesAtOnce(bucket.take(1000, kNoAbort)), true, 'the burst is there from the start');
  const waited = await timedTake(bucket, 500);
  // 500 bytes at 10,000 bytes/s: 50 ms.
  assert.ok(waited >= 49 && waited < 2000, `waited ${waited.toFixed(1)} ms for 500 bytes at 10,000 B/s`);
});

test('over a stretch longer than the burst the rate holds', async () => {
  const rate = 2_000_000;
  const bucket = new TokenBucket(rate);
  const startedAt = performance.now();
  for (let chunk = 0; chunk < 10; chunk++) await bucket.take(40_000, kNoAbort);
  const elapsed = performance.now() - startedAt;
  // 400,000 bytes less the 200,000-byte burst, at 2,000,000 B/s: 100 ms at least.
  assert.ok(elapsed >= 99 && elapsed < 3000, `400,000 bytes took ${elapsed.toFixed(1)} ms at ${rate} B/s`);
});

test('an idle bucket fills up to its burst and no further', async () => {
  const bucket = new TokenBucket(10_000);
  await new Promise((resolve) => setTimeout(resolve, 40));
  // 40 ms idle would be 400 bytes more than the 1,000-byte burst; 100 bytes past the burst wait 10 ms.
  const waited = await timedTake(bucket, 1100);
  assert.ok(waited >= 9, `waited ${waited.toFixed(1)} ms: the balance grew past the burst while idle`);
});

test('buckets over one shared state share one balance, as the threads of a multi-core engine do', async () => {
  const first = new TokenBucket(10_000);
  const second = new TokenBucket(10_000, first.state);
  await first.take(1000, kNoAbort);
  const waited = await timedTake(second, 500);
  assert.ok(waited >= 49, `the second bucket waited ${waited.toFixed(1)} ms: it did not see the first one's bytes`);
  const own = new TokenBucket(10_000);
  assert.equal(await settlesAtOnce(own.take(500, kNoAbort)), true, 'a bucket of its own starts full');
});

test('a wait ends with the abort signal; the bytes stay charged', async () => {
  const bucket = new TokenBucket(10_000);
  const controller = new AbortController();
  const takenAt = performance.now();
  const taking = bucket.take(3000, controller.signal);
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(taking, { name: 'AbortError' });
  // 2,000 bytes were owed (200 ms at the rate), less what refilled since: the next byte waits for the rest.
  const owedMs = 200 - (performance.now() - takenAt);
  const waited = await timedTake(bucket, 1);
  assert.ok(owedMs > 0, 'the abort came after the wait would have ended anyway');
  assert.ok(waited >= owedMs - 1, `the next byte waited ${waited.toFixed(1)} ms, ${owedMs.toFixed(1)} ms were still owed`);
});
