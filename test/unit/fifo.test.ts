import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Fifo } from '../../engine/fifo.ts';

test('items come out in the order they went in, across growth and wrap-around', () => {
  const fifo = new Fifo<number>();
  const model: number[] = [];
  let next = 0;
  // Pushes outrun shifts, then shifts outrun pushes: the head walks round the ring and the ring grows while wrapped.
  for (const [pushes, shifts] of [[10, 7], [30, 20], [100, 3], [5, 90], [200, 150], [0, 75]] as const) {
    for (let i = 0; i < pushes; i++) {
      fifo.push(next);
      model.push(next++);
    }
    for (let i = 0; i < shifts; i++) assert.equal(fifo.shift(), model.shift());
    assert.equal(fifo.size, model.length);
  }
  assert.equal(fifo.size, 0);
  assert.equal(fifo.shift(), undefined, 'an empty queue gives undefined');
  assert.equal(fifo.size, 0, 'and stays empty');
});

test('a random mix of pushes and shifts matches an array model', () => {
  const fifo = new Fifo<string>();
  const model: string[] = [];
  let state = 7;
  for (let step = 0; step < 20_000; step++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    // Biased to push in the first half and to shift in the second, so size climbs past several growths and back to zero.
    if ((state % 100) < (step < 10_000 ? 60 : 40)) {
      fifo.push(`item ${step}`);
      model.push(`item ${step}`);
    } else {
      assert.equal(fifo.shift(), model.shift(), `step ${step}`);
    }
    assert.equal(fifo.size, model.length);
  }
});

test('falsy items are items, not an empty queue', () => {
  const fifo = new Fifo<unknown>();
  for (const item of [0, '', false, null]) fifo.push(item);
  assert.equal(fifo.size, 4);
  assert.deepEqual([fifo.shift(), fifo.shift(), fifo.shift(), fifo.shift()], [0, '', false, null]);
  assert.equal(fifo.size, 0);
});

test('a shifted item is no longer referenced by the queue', async () => {
  const fifo = new Fifo<object>();
  let collected = false;
  const registry = new FinalizationRegistry(() => { collected = true; });
  (() => {
    const item = {};
    registry.register(item, 'item');
    fifo.push(item);
    fifo.shift();
  })();
  // The flag exposes gc to contexts made after it is set.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let round = 0; round < 10 && !collected; round++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(collected, 'the queue kept a shifted item alive');
});
