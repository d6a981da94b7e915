import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { SpringbokClient } from '../dispatchers/client.ts';
import { fuzzProtocol } from '../experiments/lib/protocol-fuzzer.ts';
import { example, startEngineProcess, temporaryDir } from './support/engine-process.ts';

test('5,000 fuzzed frames (fixed seed): the engine keeps serving a good client and stays up', async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path });
  await using client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  await client.deploy('sum', 'sm', await readFile(example('sm/sum.sm')));
  const report = await fuzzProtocol(engine.socketPath, { seed: 7, frames: 5000, goodFunction: 'sum', goodInput: '100', goodOutput: '5050' });
  assert.ok(report.frames >= 5000);
  assert.ok(report.closedByEngine > 0, 'fatal frames do close connections');
  assert.equal(report.goodFailures, 0, `good client failed ${report.goodFailures} of ${report.goodChecks} times`);
  assert.equal(engine.child.exitCode, null);
  assert.doesNotMatch(engine.stderr(), /Error|Uncaught|at /, 'nothing thrown or logged by the engine');
  const after = await client.invoke('sum', '10');
  assert.equal(after.ok && after.output.toString(), '55');
});
