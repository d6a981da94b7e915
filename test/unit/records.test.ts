import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InvokeResult } from '../../engine/invocation.ts';
import { readInvoke, readResult, RecordReader, RecordWriter, writeInvoke, writeResult } from '../../engine/threads/records.ts';

/** What a writer wrote, read back as the receiving thread would. */
function readerOf (writer: RecordWriter): RecordReader {
  const { buffer, length } = writer.take();
  return new RecordReader(buffer, length);
}

test('numbers, bytes and strings read back as written, little-endian and length-prefixed', () => {
  const writer = new RecordWriter();
  writer.u8(255);
  writer.u32(0xdeadbeef);
  writer.f64(-1.5e-300);
  writer.bytes(Uint8Array.of(1, 2, 3));
  writer.string('ünï €');
  writer.bytes(new Uint8Array(0));
  writer.string('');
  const { buffer, length } = writer.take();
  const bytes = Buffer.from(buffer, 0, length);
  // The layout, byte by byte, for the first fields: another thread's reader depends on it.
  assert.deepEqual([...bytes.subarray(0, 5)], [255, 0xef, 0xbe, 0xad, 0xde]);
  assert.equal(bytes.readDoubleLE(5), -1.5e-300);
  assert.deepEqual([...bytes.subarray(13, 20)], [3, 0, 0, 0, 1, 2, 3]);
  assert.equal(bytes.readUInt32LE(20), Buffer.byteLength('ünï €'), 'a string\'s length is its UTF-8 bytes');
  assert.equal(length, 5 + 8 + 7 + 4 + Buffer.byteLength('ünï €') + 4 + 4);
  const reader = new RecordReader(buffer, length);
  assert.equal(reader.u8(), 255);
  assert.equal(reader.u32(), 0xdeadbeef);
  assert.equal(reader.f64(), -1.5e-300);
  assert.deepEqual([...reader.bytes()], [1, 2, 3]);
  assert.equal(reader.string(), 'ünï €');
  assert.equal(reader.bytes().length, 0);
  assert.equal(reader.done, false);
  assert.equal(reader.string(), '');
  assert.equal(reader.done, true);
});

test('many records and one large one survive the buffer\'s growth', () => {
  const writer = new RecordWriter();
  const large = Uint8Array.from({ length: 300_000 }, (_, index) => (index * 7) & 0xff);
  for (let i = 0; i < 5000; i++) {
    writer.u32(i);
    writer.string(`name-${i}`);
    if (i === 2500) writer.bytes(large);
  }
  const reader = readerOf(writer);
  for (let i = 0; i < 5000; i++) {
    assert.equal(reader.u32(), i);
    assert.equal(reader.string(), `name-${i}`);
    if (i === 2500) assert.deepEqual(reader.bytes(), Buffer.from(large));
  }
  assert.equal(reader.done, true);
});

test('a taken batch is transferable (never the shared pool) and the writer starts afresh, sized by the last batch within bounds', () => {
  const writer = new RecordWriter();
  writer.bytes(new Uint8Array(100_000));
  const first = writer.take();
  assert.equal(writer.length, 0);
  structuredClone(first.buffer, { transfer: [first.buffer] });
  assert.equal(first.buffer.byteLength, 0, 'transferred away (a pooled buffer cannot be)');

  writer.u8(1);
  const afterLarge = writer.take();
  assert.equal(afterLarge.length, 1);
  assert.equal(afterLarge.buffer.byteLength, 64 * 1024, 'one large batch does not make every later batch large');
  writer.bytes(new Uint8Array(10_000));
  writer.take();
  assert.equal(writer.take().buffer.byteLength, 10_004, 'the last batch\'s size');
  assert.equal(writer.take().buffer.byteLength, 4 * 1024, 'and never below the initial size');
});

test('bytes read are a view into the received batch, not a copy', () => {
  const writer = new RecordWriter();
  writer.bytes(Uint8Array.of(9, 9));
  const { buffer, length } = writer.take();
  const view = new RecordReader(buffer, length).bytes();
  new Uint8Array(buffer)[4] = 42;
  assert.deepEqual([...view], [42, 9]);
});

test('a reader stops at the length it was given, whatever follows in the buffer', () => {
  const writer = new RecordWriter();
  writer.u32(1);
  writer.u32(2);
  const { buffer } = writer.take();
  const reader = new RecordReader(buffer, 4);
  assert.equal(reader.u32(), 1);
  assert.equal(reader.done, true);
  assert.throws(() => reader.u32(), RangeError);
});

test('an invocation crosses as it was sent', () => {
  const writer = new RecordWriter();
  const input = new TextEncoder().encode('{"x":1}');
  writeInvoke(writer, 4_000_000_000, 1_733_400_000_123.456, 'fn.name-1', input);
  writeInvoke(writer, 0, 0, '', new Uint8Array(0));
  writeInvoke(writer, 1, 2, 'callee', new Uint8Array(0), undefined, 7);
  const reader = readerOf(writer);
  assert.deepEqual(readInvoke(reader), { id: 4_000_000_000, acceptedAt: 1_733_400_000_123.456, name: 'fn.name-1', input: Buffer.from(input), depth: 0 });
  assert.deepEqual(readInvoke(reader), { id: 0, acceptedAt: 0, name: '', input: Buffer.alloc(0), depth: 0 });
  assert.deepEqual(readInvoke(reader), { id: 1, acceptedAt: 2, name: 'callee', input: Buffer.alloc(0), depth: 7 });
  assert.equal(reader.done, true);
});

test('results cross as they were sent: success with logs, failure without, usage exact', () => {
  const usage = { cpuMs: 12.345678901234, memoryBytes: 16 * 2 ** 30, netRequests: 3, netBytes: 2 ** 40 };
  const results: readonly InvokeResult[] = [
    { ok: true, output: Uint8Array.of(0, 255), usage, logs: ['first line', 'zweite Zeile ü', ''], version: 0xffffffff },
    { ok: false, error: { code: 'ERR_CPU_BUDGET', message: 'CPU budget of 5 ms used up (5.2 ms)' }, usage: { ...usage, cpuMs: 0 }, logs: [], version: 1 },
    { ok: false, error: { code: 'ERR_FUNCTION', message: 'boom' }, usage, logs: ['why'], version: 2 },
    { ok: true, output: new Uint8Array(0), usage, logs: [], version: 3 },
  ];
  const writer = new RecordWriter();
  results.forEach((result, index) => writeResult(writer, index + 10, result));
  const reader = readerOf(writer);
  for (const [index, result] of results.entries()) {
    const read = readResult(reader);
    assert.equal(read.id, index + 10);
    assert.deepEqual(read.result, result.ok ? { ...result, output: Buffer.from(result.output) } : result);
  }
  assert.equal(reader.done, true);
});
