import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { crashTrial } from '../experiments/lib/crash-trial.ts';
import { temporaryDir } from './support/engine-process.ts';

test('SIGKILL during deploys, redeploys and removes loses no acknowledged deploy (3 trials)', async () => {
  await using dir = await temporaryDir();
  let acknowledged = 0;
  for (let trial = 0; trial < 3; trial++) {
    const result = await crashTrial(dir.path, join(dir.path, 'data'), 42 + trial);
    acknowledged += result.acknowledged;
    assert.deepEqual(result.lost, [], `trial ${trial}`);
    assert.equal(result.warnings.trim(), '', `trial ${trial}: the engine started with warnings`);
  }
  assert.ok(acknowledged > 0, 'operations were acknowledged before the kills');
});
