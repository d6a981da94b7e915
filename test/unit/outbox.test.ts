import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { Outbox, type RecordsMessage } from '../../engine/threads/outbox.ts';
import { RecordReader } from '../../engine/threads/records.ts';

type Control = { readonly t: 'hello' | 'bye', readonly n?: number };
type Item = Control | RecordsMessage;

/** Stands in for a MessagePort: keeps each postMessage. */
class RecordingPort {
  readonly posts: { items: Item[], transfer: readonly ArrayBuffer[] }[] = [];
  postMessage (value: unknown, transfer: readonly ArrayBuffer[] = []): void {
    this.posts.push({ items: value as Item[], transfer });
  }
}

/** The u32 values of a records message. */
function u32s (message: Item | undefined): number[] {
  assert.equal(message?.t, 'records');
  const { buffer, length } = message;
  const reader = new RecordReader(buffer, length);
  const values: number[] = [];
  while (!reader.done) values.push(reader.u32());
  return values;
}

test('everything sent in one task goes out as one message at its end, records and control messages in the order they were sent', async () => {
  const port = new RecordingPort();
  const outbox = new Outbox<Control>(port, Infinity);
  outbox.send({ t: 'hello', n: 1 });
  outbox.records.u32(10);
  outbox.wrote();
  outbox.records.u32(11);
  outbox.wrote();
  outbox.send({ t: 'hello', n: 2 });
  outbox.records.u32(12);
  outbox.wrote();
  assert.equal(port.posts.length, 0, 'nothing goes out before the task ends');
  await Promise.resolve();
  assert.equal(port.posts.length, 1);
  const [{ items, transfer }] = port.posts as [{ items: Item[], transfer: readonly ArrayBuffer[] }];
  assert.deepEqual(items.map((item) => item.t), ['hello', 'records', 'hello', 'records']);
  assert.deepEqual(items[0], { t: 'hello', n: 1 });
  assert.deepEqual(u32s(items[1]), [10, 11], 'records written between two control messages form one run');
  assert.deepEqual(items[2], { t: 'hello', n: 2 });
  assert.deepEqual(u32s(items[3]), [12]);
  assert.deepEqual(transfer, [(items[1] as RecordsMessage).buffer, (items[3] as RecordsMessage).buffer], 'each run\'s buffer is transferred, not copied');
  await Promise.resolve();
  assert.equal(port.posts.length, 1, 'one message for the whole task');
});

test('the next task\'s sends make a new message', async () => {
  const port = new RecordingPort();
  const outbox = new Outbox<Control>(port, Infinity);
  outbox.send({ t: 'hello' });
  await Promise.resolve();
  outbox.send({ t: 'bye' });
  await Promise.resolve();
  assert.deepEqual(port.posts.map((post) => post.items), [[{ t: 'hello' }], [{ t: 'bye' }]]);
});

test('flush sends at once, and sends nothing when there is nothing', async () => {
  const port = new RecordingPort();
  const outbox = new Outbox<Control>(port, Infinity);
  outbox.flush();
  assert.equal(port.posts.length, 0);
  outbox.records.u32(7);
  outbox.wrote();
  outbox.flush();
  assert.equal(port.posts.length, 1);
  assert.deepEqual(u32s(port.posts[0]!.items[0]), [7]);
  assert.equal(outbox.records.length, 0, 'the writer starts a new batch');
  await Promise.resolve();
  assert.equal(port.posts.length, 1, 'the end of the task finds nothing left to send');
});

test('a batch older than maxAgeMs goes out on the next send, without waiting for the busy task to end', () => {
  const port = new RecordingPort();
  const outbox = new Outbox<Control>(port, 5);
  outbox.send({ t: 'hello', n: 1 });
  outbox.send({ t: 'hello', n: 2 });
  assert.equal(port.posts.length, 0, 'a young batch waits');
  const busyUntil = performance.now() + 6;
  while (performance.now() < busyUntil);
  outbox.records.u32(3);
  outbox.wrote();
  assert.equal(port.posts.length, 1, 'sent from inside the busy task');
  assert.deepEqual(port.posts[0]!.items.slice(0, 2), [{ t: 'hello', n: 1 }, { t: 'hello', n: 2 }]);
  assert.deepEqual(u32s(port.posts[0]!.items[2]), [3]);
});
