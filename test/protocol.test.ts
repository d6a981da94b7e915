import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../engine/errors.ts';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { decodeHeader, encodeFrame, FrameDecoder, kMaxHeaderBytes, MessageType } from '../dispatchers/protocol.ts';
import { SpringbokClient } from '../dispatchers/client.ts';
import { temporaryDir } from './support/engine-process.ts';

test('a frame round-trips header and binary payload', () => {
  const payload = Buffer.from([0, 255, 10, 13, 0xc3, 0x28]);
  const [frame] = new FrameDecoder().push(encodeFrame(MessageType.invoke, 0xfffffffe, { name: 'f' }, payload));
  assert.ok(frame);
  assert.equal(frame.version, 1);
  assert.equal(frame.type, MessageType.invoke);
  assert.equal(frame.id, 0xfffffffe);
  assert.deepEqual(decodeHeader(frame), { name: 'f' });
  assert.deepEqual(Buffer.from(frame.payload), payload);
});

test('frames split at every byte boundary and frames glued together decode the same', () => {
  const frames = [
    encodeFrame(MessageType.ping, 1, undefined),
    encodeFrame(MessageType.invoke, 2, { name: 'a' }, Buffer.from('input')),
    encodeFrame(MessageType.deploy, 3, { name: 'b', language: 'sm' }, Buffer.alloc(3000, 7)),
  ];
  const stream = Buffer.concat(frames);
  for (const step of [1, 2, 3, 5, 13, 1000, stream.length]) {
    const decoder = new FrameDecoder();
    const got = [];
    for (let at = 0; at < stream.length; at += step) got.push(...decoder.push(stream.subarray(at, at + step)));
    assert.deepEqual(got.map((f) => f.id), [1, 2, 3], `step ${step}`);
    assert.equal(got[2]!.payload.length, 3000);
    assert.equal(decoder.bufferedBytes, 0);
  }
});

test('a declared length over the maximum is refused as soon as the prefix arrives', () => {
  const decoder = new FrameDecoder(1024);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(2 ** 30);
  assert.throws(() => decoder.push(prefix), (error: unknown) => error instanceof EngineError && error.code === 'ERR_FRAME_TOO_LARGE');
});

test('a declared length shorter than the fixed part is a protocol error', () => {
  assert.throws(() => new FrameDecoder().push(Buffer.from([0, 0, 0, 3, 1, 2, 3])), (error: unknown) => error instanceof EngineError && error.code === 'ERR_PROTOCOL');
});

test('bad headers are reported per request: past the end, invalid UTF-8, invalid JSON, not an object', () => {
  const pastEnd = encodeFrame(MessageType.list, 9, { a: 1 });
  pastEnd.writeUInt32BE(10_000, 10);
  const invalidUtf8 = encodeFrame(MessageType.list, 9, undefined);
  const withBytes = Buffer.concat([invalidUtf8.subarray(0, 14), Buffer.from([0xff, 0xfe])]);
  withBytes.writeUInt32BE(12, 0);
  withBytes.writeUInt32BE(2, 10);
  const notJson = Buffer.concat([invalidUtf8.subarray(0, 14), Buffer.from('{x')]);
  notJson.writeUInt32BE(12, 0);
  notJson.writeUInt32BE(2, 10);
  const array = encodeFrame(MessageType.list, 9, [1, 2]);
  for (const bytes of [pastEnd, withBytes, notJson, array]) {
    const [frame] = new FrameDecoder().push(bytes);
    assert.ok(frame);
    assert.throws(() => decodeHeader(frame), (error: unknown) => error instanceof EngineError && error.code === 'ERR_PROTOCOL');
  }
});

test('the client reads answers whose header is over the request limit (list and stats of thousands of functions)', async () => {
  const functions = Array.from({ length: 6000 }, (_, i) => ({ name: `function-${i}-${'x'.repeat(200)}` }));
  // An engine's answer as it is sent; the real engine's list of 6,000 functions is as large.
  const server = createServer((socket) => {
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) socket.write(encodeFrame(MessageType.ok, frame.id, { functions }));
    });
  });
  await using dir = await temporaryDir();
  const socketPath = `${dir.path}/engine.sock`;
  server.listen(socketPath);
  await once(server, 'listening');
  const client = await SpringbokClient.connect({ socketPath });
  try {
    const listed = await client.list();
    assert.equal(listed.length, 6000);
    assert.ok(JSON.stringify({ functions }).length > kMaxHeaderBytes);
  } finally {
    await client.close();
    server.close();
  }
  const big = new FrameDecoder().push(encodeFrame(MessageType.invoke, 1, { name: 'x'.repeat(kMaxHeaderBytes) }))[0]!;
  assert.throws(() => decodeHeader(big), { code: 'ERR_PROTOCOL' }, 'a request header over 1 MiB is still refused');
});
