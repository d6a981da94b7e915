import { test } from 'node:test';
import assert from 'node:assert/strict';
import { soak } from '../experiments/lib/soak.ts';
import { startEngineProcess, temporaryDir } from './support/engine-process.ts';

test('short soak: 6,000 invocations mixed across every loaded language, no failure, no descriptor leak', async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path });
  const report = await soak(engine.socketPath, engine.child.pid!, 6000, new URL('../examples/', import.meta.url));
  assert.ok(report.languages.length >= 2, `languages: ${report.languages.join(', ')}`);
  assert.equal(report.failures, 0);
  assert.equal(report.wrongOutputs, 0);
  assert.ok(report.fdsEnd <= report.fdsAfterWarmup + 2, `descriptors ${report.fdsAfterWarmup} → ${report.fdsEnd}`);
  assert.equal(engine.child.exitCode, null);
});
