import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { once } from 'node:events';
import { SpringbokClient } from '../dispatchers/client.ts';
import { decodeHeader, encodeFrame, FrameDecoder, MessageType, type Frame } from '../dispatchers/protocol.ts';
import { example, startEngineProcess, temporaryDir } from './support/engine-process.ts';

/** A raw connection that records every frame the engine sends back and whether it closed. */
async function rawConnection (socketPath: string): Promise<{ socket: Socket, frames: Frame[], closed: Promise<unknown> }> {
  const socket = createConnection(socketPath);
  await once(socket, 'connect');
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  socket.on('data', (chunk: Buffer) => frames.push(...decoder.push(chunk)));
  socket.on('error', () => {});
  return { socket, frames, closed: once(socket, 'close') };
}

async function until (condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const errorCode = (frame: Frame | undefined): unknown => frame && frame.type === MessageType.error ? decodeHeader(frame).code : undefined;

test('garbage, truncated frames, huge lengths, bad versions and unknown types leave the engine serving others', async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path });
  await using good = await SpringbokClient.connect({ socketPath: engine.socketPath });
  await good.deploy('sum', 'sm', await readFile(example('sm/sum.sm')));
  const check = async (): Promise<void> => {
    const result = await good.invoke('sum', '100');
    assert.equal(result.ok && result.output.toString(), '5050');
  };

  // A 1 GiB declared length: refused at once with an error frame, connection closed, nothing buffered.
  const huge = await rawConnection(engine.socketPath);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(2 ** 30);
  huge.socket.write(prefix);
  await huge.closed;
  assert.equal(errorCode(huge.frames[0]), 'ERR_FRAME_TOO_LARGE');
  await check();

  // Random garbage: whatever its first four bytes declare, the engine answers or closes, and lives.
  let seed = 42;
  const random = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let round = 0; round < 20; round++) {
    const garbage = await rawConnection(engine.socketPath);
    garbage.socket.end(Buffer.from(Array.from({ length: 1 + (random() % 4096) }, () => random() & 0xff)));
    await garbage.closed;
  }
  await check();

  // A truncated frame followed by a hang-up.
  const truncated = await rawConnection(engine.socketPath);
  truncated.socket.end(encodeFrame(MessageType.invoke, 5, { name: 'sum' }, Buffer.from('100')).subarray(0, 12));
  await truncated.closed;
  await check();

  // Well-cut but bad requests get an error with their own id; the connection stays usable.
  const bad = await rawConnection(engine.socketPath);
  const unknownType = encodeFrame(MessageType.ping, 11, undefined);
  unknownType.writeUInt8(0x42, 5);
  const badUtf8 = Buffer.concat([encodeFrame(MessageType.invoke, 12, undefined).subarray(0, 14), Buffer.from([0xff, 0xfe])]);
  badUtf8.writeUInt32BE(12, 0);
  badUtf8.writeUInt32BE(2, 10);
  bad.socket.write(Buffer.concat([
    unknownType,
    badUtf8,
    encodeFrame(MessageType.invoke, 13, { name: 42 }),
    encodeFrame(MessageType.invoke, 14, { name: 'no-such-function' }),
    encodeFrame(MessageType.invoke, 15, { name: 'sum' }, Buffer.from('10')),
  ]));
  await until(() => bad.frames.length >= 5, 'five answers');
  const byId = new Map(bad.frames.map((frame) => [frame.id, frame]));
  assert.equal(errorCode(byId.get(11)), 'ERR_PROTOCOL');
  assert.equal(errorCode(byId.get(12)), 'ERR_PROTOCOL');
  assert.equal(errorCode(byId.get(13)), 'ERR_PROTOCOL');
  assert.equal(errorCode(byId.get(14)), 'ERR_UNKNOWN_FUNCTION');
  assert.equal(byId.get(15)?.type, MessageType.result);
  assert.equal(byId.get(15)?.payload.toString(), '55');

  // A wrong protocol version ends that connection with a clear error.
  const version = encodeFrame(MessageType.ping, 16, undefined);
  version.writeUInt8(9, 4);
  bad.socket.write(version);
  await bad.closed;
  assert.match(String(decodeHeader(bad.frames.at(-1)!).message), /version 9/);
  await check();
  assert.equal(engine.child.exitCode, null, 'the engine is still running');
});

test('a client that disconnects cancels its invocations; sm spin with --cpu-ms 50 fails while a neighbour answers', async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path });
  await using client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  await client.deploy('spin', 'sm', await readFile(example('sm/spin.sm')), { cpuMs: 50 });
  await client.deploy('forever', 'sm', await readFile(example('sm/spin.sm')), { cpuMs: 600_000, wallMs: 600_000 });
  await client.deploy('sum', 'sm', await readFile(example('sm/sum.sm')));

  const spinning = client.invoke('spin');
  const neighbour = await client.invoke('sum', '1000');
  const spun = await spinning;
  assert.equal(neighbour.ok && neighbour.output.toString(), '500500');
  assert.equal(!spun.ok && spun.error.code, 'ERR_CPU_BUDGET');
  assert.ok(spun.usage.cpuMs >= 50);

  const leaving = await SpringbokClient.connect({ socketPath: engine.socketPath });
  const abandoned = leaving.invoke('forever').catch((error: unknown) => error);
  await until(() => leaving.inFlight === 1, 'the invocation to be sent');
  await new Promise((resolve) => setTimeout(resolve, 50));
  await leaving.close();
  assert.equal(((await abandoned) as { code?: string }).code, 'ERR_CONNECTION');
  let stats = await client.stats();
  const deadline = Date.now() + 10_000;
  while (stats.perFunction.forever?.errors.ERR_CANCELLED !== 1 && Date.now() < deadline) stats = await client.stats();
  assert.equal(stats.perFunction.forever?.errors.ERR_CANCELLED, 1);
  assert.equal(stats.inFlight, 0);

  // An explicit cancel by request id works the same way.
  const controller = new AbortController();
  const cancelled = client.invoke('forever', '', { signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  const result = await cancelled;
  assert.equal(!result.ok && result.error.code, 'ERR_CANCELLED');
});
