import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeBucketValue, encodeRecord, encodeTombstone, versionOf } from '../engine/cluster/record-codec.ts';
import { kDefaultBudget } from '../engine/budget.ts';
import { sha256Hex, type FunctionRecord } from '../engine/registry.ts';

test('a record crosses the cluster whole, fields it does not list included, without its source', () => {
  const source = new TextEncoder().encode('return function (input) return input end');
  const record = {
    name: 'echo.v2',
    language: 'lua',
    version: 7,
    budget: kDefaultBudget,
    source,
    sourceSha256: sha256Hex(source),
    deployedAt: '2026-12-06T05:00:00.000Z',
    env: { GREETING: 'hi' },
    // Fields records may gain later: the codec must carry them without knowing them.
    someFutureList: ['a', 'b'],
    someFutureBytes: new Uint8Array([0, 1, 254, 255]),
    someFutureNested: { depth: 2, bytes: new Uint8Array([120, 121, 122]) },
  } as FunctionRecord;
  const text = encodeRecord(record);
  assert.ok(!text.includes(Buffer.from(source).toString('base64')), 'the source goes to the object store, not the record');
  const value = decodeBucketValue(text);
  assert.equal(value.removed, false);
  if (value.removed) return;
  const { source: _source, ...expected } = record as FunctionRecord & Record<string, unknown>;
  assert.deepEqual(value.record, expected);
  assert.equal(versionOf(value), 7);
});

test('a tombstone keeps the removed version; a value of another format is refused', () => {
  const tombstone = decodeBucketValue(encodeTombstone('gone', 4));
  assert.deepEqual(tombstone, { removed: true, name: 'gone', version: 4 });
  assert.equal(versionOf(tombstone), 4);
  assert.throws(() => decodeBucketValue(JSON.stringify({ format: 99, record: {} })), /unknown record format 99/);
  assert.throws(() => decodeBucketValue(JSON.stringify({ format: 1, record: { name: 'x' } })), /lacks its name, version or source hash/);
});
