import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHeader, encodeFrame, errorFromHeader, FrameDecoder, MessageType, stringField } from '../../dispatchers/protocol.ts';
import { EngineError } from '../../engine/errors.ts';

// Round trips, frames split at every byte, length and header errors: test/protocol.test.ts. Here: the layout byte by byte and the edges.

const isCode = (code: string) => (error: unknown): boolean => error instanceof EngineError && error.code === code;

test('a frame is laid out byte for byte as doc/protocol.md says', () => {
  const header = { name: 'café', n: 1 };
  const headerText = '{"name":"café","n":1}';
  const headerBytes = Buffer.from(headerText, 'utf8');
  assert.equal(headerBytes.length, headerText.length + 1, 'the header length counts bytes, not characters');
  const payload = Uint8Array.of(0, 1, 2, 255);
  const expected = Buffer.concat([
    Buffer.from([0, 0, 0, 10 + headerBytes.length + payload.length]), // length of what follows
    Buffer.from([1, 0x02]), // version, type
    Buffer.from([0x12, 0x34, 0x56, 0x78]), // request id
    Buffer.from([0, 0, 0, headerBytes.length]),
    headerBytes,
    payload,
  ]);
  assert.deepEqual(encodeFrame(MessageType.invoke, 0x12345678, header, payload), expected);
});

test('no header is a header length of 0 and reads as {}; ids are unsigned 32-bit', () => {
  const frame = encodeFrame(MessageType.ping, -1, undefined);
  assert.deepEqual(frame, Buffer.from([0, 0, 0, 10, 1, 0x06, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]));
  const [decoded] = new FrameDecoder().push(frame);
  assert.ok(decoded);
  assert.equal(decoded.id, 0xffffffff);
  assert.deepEqual(decodeHeader(decoded), {});
  assert.equal(decoded.payload.length, 0);
});

test('a frame of exactly the maximum is taken, one byte more is refused, even when the prefix comes a byte at a time', () => {
  const max = 64;
  const exact = encodeFrame(MessageType.invoke, 7, undefined, Buffer.alloc(max - 10, 0xab));
  const decoder = new FrameDecoder(max);
  const frames = [...exact].flatMap((byte) => decoder.push(Buffer.from([byte])));
  assert.equal(frames.length, 1);
  assert.deepEqual(Buffer.from(frames[0]!.payload), Buffer.alloc(max - 10, 0xab));

  const over = encodeFrame(MessageType.invoke, 8, undefined, Buffer.alloc(max - 9));
  const refusing = new FrameDecoder(max);
  for (const byte of over.subarray(0, 3)) assert.deepEqual(refusing.push(Buffer.from([byte])), []);
  assert.throws(() => refusing.push(over.subarray(3, 4)), isCode('ERR_FRAME_TOO_LARGE'), 'refused on the fourth byte of the prefix, before any body');
});

test('bufferedBytes counts what is held for an incomplete frame, and a frame and a half leave the half', () => {
  const first = encodeFrame(MessageType.invoke, 1, { name: 'a' }, Buffer.from('xyz'));
  const second = encodeFrame(MessageType.invoke, 2, { name: 'b' }, Buffer.from('uvw'));
  const decoder = new FrameDecoder();
  const half = Math.floor(second.length / 2);
  const frames = decoder.push(Buffer.concat([first, second.subarray(0, half)]));
  assert.deepEqual(frames.map((frame) => frame.id), [1]);
  assert.equal(decoder.bufferedBytes, half);
  const rest = decoder.push(second.subarray(half));
  assert.deepEqual(rest.map((frame) => [frame.id, decodeHeader(frame), Buffer.from(frame.payload).toString()]), [[2, { name: 'b' }, 'uvw']]);
  assert.equal(decoder.bufferedBytes, 0);
});

test('a header at the request limit is read; one byte over is refused for that request alone', () => {
  const limit = 100;
  const atLimit = { pad: 'x'.repeat(limit - '{"pad":""}'.length) };
  assert.equal(Buffer.byteLength(JSON.stringify(atLimit)), limit);
  const decoder = new FrameDecoder();
  const [ok, over] = decoder.push(Buffer.concat([encodeFrame(MessageType.list, 1, atLimit), encodeFrame(MessageType.list, 2, { pad: `${atLimit.pad}x` })]));
  assert.deepEqual(decodeHeader(ok!, limit), atLimit);
  assert.throws(() => decodeHeader(over!, limit), (error: unknown) => isCode('ERR_PROTOCOL')(error) && /header of 101 bytes is over the limit of 100/.test((error as Error).message));
});

test('stringField takes strings only', () => {
  assert.equal(stringField({ name: 'f' }, 'name'), 'f');
  assert.equal(stringField({ name: '' }, 'name'), '');
  for (const header of [{}, { name: 1 }, { name: null }, { name: ['f'] }]) {
    assert.throws(() => stringField(header, 'name'), (error: unknown) => isCode('ERR_PROTOCOL')(error) && /"name" must be a string/.test((error as Error).message));
  }
});

test('errorFromHeader keeps known codes and turns anything else into ERR_PROTOCOL naming what came', () => {
  assert.deepEqual(errorFromHeader({ code: 'ERR_CPU_BUDGET', message: 'used up' }), { code: 'ERR_CPU_BUDGET', message: 'used up' });
  assert.deepEqual(errorFromHeader({ code: 'ERR_UNKNOWN_FUNCTION' }), { code: 'ERR_UNKNOWN_FUNCTION', message: 'no message' });
  assert.deepEqual(errorFromHeader({ code: 'ERR_MADE_UP', message: 'm' }), { code: 'ERR_PROTOCOL', message: 'unknown error code "ERR_MADE_UP": m' });
  assert.deepEqual(errorFromHeader({ code: 7, message: 5 }), { code: 'ERR_PROTOCOL', message: 'unknown error code 7: no message' });
  assert.deepEqual(errorFromHeader({}), { code: 'ERR_PROTOCOL', message: 'unknown error code undefined: no message' });
});
