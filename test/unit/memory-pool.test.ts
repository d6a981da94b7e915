import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { MemoryPool } from '../../plugins/wasm/memory-pool.ts';

const kPage = 65536;
const allZero = (memory: WebAssembly.Memory): boolean => new Uint8Array(memory.buffer).every((byte) => byte === 0);

test('a memory that comes back is handed out again, zeroed, to a function of the same shape only', () => {
  const pool = new MemoryPool();
  const a = pool.shape(2, 16);
  const other = pool.shape(2, 32);
  const first = a.acquire();
  new Uint8Array(first.buffer).fill(0xa5);
  a.release(first);
  assert.notEqual(other.acquire(), first, 'a different maximum (budget) is a different shape');
  const again = pool.shape(2, 16).acquire();
  assert.equal(again, first);
  assert.equal(again.buffer.byteLength, 2 * kPage);
  assert.ok(allZero(again), 'no byte of the previous user survives');
});

test('a memory that grew is dropped, and the idle bytes stay under the cap', () => {
  const pool = new MemoryPool({ perShape: 8, maxIdleBytes: 3 * kPage });
  const source = pool.shape(1, 16);
  const grown = source.acquire();
  grown.grow(1);
  source.release(grown);
  assert.notEqual(source.acquire(), grown);
  const memories = [source.acquire(), source.acquire(), source.acquire(), source.acquire()];
  for (const memory of memories) source.release(memory);
  assert.equal(pool.counts.idleBytes, 3 * kPage);
});

test('taking from a shape makes spares after the current task, so the next new function gets a touched memory', async () => {
  const pool = new MemoryPool({ perShape: 4 });
  const source = pool.shape(2, 16);
  source.acquire();
  assert.equal(pool.counts.idleBytes, 0, 'nothing is made on the taker\'s path');
  await nextTurn();
  assert.equal(pool.counts.idleBytes, 2 * 2 * kPage, 'half of perShape made ahead');
  const before = pool.counts;
  const spare = pool.shape(2, 16).acquire();
  assert.equal(pool.counts.reused, before.reused + 1);
  assert.ok(allZero(spare));
  pool.clear();
  assert.equal(pool.counts.idleBytes, 0);
});
