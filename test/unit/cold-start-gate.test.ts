import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ColdStartGate } from '../../engine/cold-start-gate.ts';

test('one cold start begins per event-loop task, in arrival order; a lone one is not delayed', async () => {
  const gate = new ColdStartGate();
  const began: [number, number][] = [];
  // Counts event-loop rounds: a start seen in a different round ran in a task of its own.
  let immediateRounds = 0;
  const countRounds = (): void => { immediateRounds++; if (immediateRounds < 50) setImmediate(countRounds); };
  setImmediate(countRounds);
  const started = Array.from({ length: 5 }, (_, index) => gate.run(async () => {
    began.push([index, immediateRounds]);
    return index;
  }));
  assert.deepEqual(began.map(([index]) => index), [0], 'the first runs at once, in the caller\'s task');
  assert.equal(gate.waiting, 4);
  assert.deepEqual(await Promise.all(started), [0, 1, 2, 3, 4]);
  assert.deepEqual(began.map(([index]) => index), [0, 1, 2, 3, 4]);
  const rounds = began.map(([, round]) => round);
  assert.equal(new Set(rounds).size, rounds.length, `each start in a task of its own: ${rounds.join(',')}`);
});

test('a failing start, even one that throws before its promise, fails only its own caller', async () => {
  const gate = new ColdStartGate();
  const first = gate.run(async () => 'first');
  const throws = gate.run((): Promise<string> => { throw new Error('sync throw'); });
  const rejects = gate.run(async () => { throw new Error('rejected'); });
  const last = gate.run(async () => 'last');
  assert.equal(await first, 'first');
  await assert.rejects(throws, /sync throw/);
  await assert.rejects(rejects, /rejected/);
  assert.equal(await last, 'last');
});
