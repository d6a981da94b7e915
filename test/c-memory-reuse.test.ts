import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../engine/index.ts';
import { cPlugin } from '../plugins/wasm/index.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { kFiller, kScanner } from './support/c-markers.ts';
import { output } from './support/results.ts';

/**
 * C functions share one pool of linear memories per thread (plugins/wasm/memory-pool.ts): a memory
 * one function used is zeroed and handed to the next. Nothing of the first may reach the second.
 */
const found = findToolchain();
const skip = 'missing' in found ? found.missing : false;

test('a memory filled by one C function reaches the next function, and the next invocation, all zero', { skip }, async () => {
  await using engine = await Engine.open({ plugins: [cPlugin()] });
  await engine.deploy('filler', 'c', Buffer.from(kFiller));
  await engine.deploy('scanner', 'c', Buffer.from(kScanner));
  for (let round = 0; round < 20; round++) {
    // Several fillers at once, so several marked memories go back to the pool before the scans.
    const fills = await Promise.all([1, 2, 3].map(() => engine.invoke('filler', Buffer.from('x'))));
    for (const fill of fills) assert.equal(output(fill), 'filled');
    const scans = await Promise.all([1, 2, 3].map(() => engine.invoke('scanner', Buffer.from('x'))));
    for (const scan of scans) assert.match(output(scan), /^0 of [1-9]\d+$/);
  }
  // The filler's own next invocations start from zero too (its previous memory came back zeroed).
  await engine.deploy('filler-scan', 'c', Buffer.from(kScanner));
  assert.match(output(await engine.invoke('filler', Buffer.from('x'))), /filled/);
  assert.match(output(await engine.invoke('filler-scan', Buffer.from('x'))), /^0 of /);
});
