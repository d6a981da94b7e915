import { createConnection, type Socket } from 'node:net';
import { once } from 'node:events';
import { encodeFrame, MessageType, type MessageTypeCode } from '../../dispatchers/protocol.ts';
import { SpringbokClient } from '../../dispatchers/client.ts';
import { seededRandom } from './seeded-random.ts';

export interface FuzzReport {
  readonly seed: number;
  readonly frames: number;
  readonly connections: number;
  readonly closedByEngine: number;
  readonly goodChecks: number;
  readonly goodFailures: number;
}

/**
 * Sends `frames` fuzzed frames to an engine over many connections: valid requests, random byte
 * flips of valid frames, truncations, oversized and undersized lengths, wrong versions, unknown
 * types, invalid UTF-8 and JSON headers, header lengths past the frame, pure garbage — written in
 * random pieces, several connections interleaved. Between batches a well-behaved client invokes
 * `goodFunction` and must get `goodOutput`.
 */
export async function fuzzProtocol (socketPath: string, options: { seed: number, frames: number, goodFunction: string, goodInput: string, goodOutput: string }): Promise<FuzzReport> {
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const good = await SpringbokClient.connect({ socketPath });
  let frames = 0;
  let connections = 0;
  let closedByEngine = 0;
  let goodChecks = 0;
  let goodFailures = 0;
  const types: MessageTypeCode[] = [MessageType.invoke, MessageType.list, MessageType.ping, MessageType.stats, MessageType.cancel, MessageType.deploy, MessageType.remove];

  const validFrame = (): Buffer => {
    const type = pick(types);
    const id = Math.floor(random() * 2 ** 32);
    switch (type) {
      case MessageType.invoke: return encodeFrame(type, id, { name: pick([options.goodFunction, 'nope', '', '../x']) }, Buffer.from(String(Math.floor(random() * 100))));
      case MessageType.deploy: return encodeFrame(type, id, { name: `fuzz${Math.floor(random() * 4)}`, language: pick(['sm', 'cobol']) }, Buffer.from(pick(['outin\n', 'push 1\nout\n', 'pusj\n', '\xff\xfe'])));
      case MessageType.remove: return encodeFrame(type, id, { name: `fuzz${Math.floor(random() * 4)}` });
      case MessageType.cancel: return encodeFrame(type, id, { target: Math.floor(random() * 10) });
      default: return encodeFrame(type, id, {});
    }
  };
  const mutate = (frame: Buffer): Buffer => {
    const copy = Buffer.from(frame);
    switch (Math.floor(random() * 9)) {
      case 0: for (let i = 0; i < 1 + random() * 4; i++) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256); return copy;
      case 1: return copy.subarray(0, Math.floor(random() * copy.length));
      case 2: copy.writeUInt32BE(Math.floor(random() * 2 ** 32), 0); return copy;
      case 3: copy.writeUInt32BE(Math.floor(random() * 10), 0); return copy;
      case 4: copy.writeUInt8(Math.floor(random() * 256), 4); return copy;
      case 5: copy.writeUInt8(Math.floor(random() * 256), 5); return copy;
      case 6: copy.writeUInt32BE(Math.floor(random() * 2 ** 32), 10); return copy;
      case 7: { // invalid UTF-8 in the header
        const bad = Buffer.concat([copy.subarray(0, 14), Buffer.from([0x7b, 0x22, 0xff, 0xc3, 0x28, 0x22, 0x7d])]);
        bad.writeUInt32BE(bad.length - 4, 0);
        bad.writeUInt32BE(7, 10);
        return bad;
      }
      default: return Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
    }
  };

  const runConnection = async (count: number): Promise<void> => {
    const socket: Socket = createConnection(socketPath);
    connections++;
    socket.on('data', () => {});
    socket.on('error', () => {});
    const closed = once(socket, 'close');
    let engineClosed = false;
    socket.once('end', () => { engineClosed = true; });
    await once(socket, 'connect');
    for (let i = 0; i < count && !socket.destroyed && !engineClosed; i++) {
      const frame = random() < 0.5 ? validFrame() : mutate(validFrame());
      frames++;
      // Interleaved partial writes: the frame goes out in up to four pieces with a turn in between.
      let offset = 0;
      while (offset < frame.length && !socket.destroyed && socket.writable && !engineClosed) {
        const piece = 1 + Math.floor(random() * (frame.length - offset));
        socket.write(frame.subarray(offset, offset + piece), () => {});
        offset += piece;
        if (random() < 0.3) await new Promise((resolve) => setImmediate(resolve));
      }
    }
    if (engineClosed) closedByEngine++;
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
    await closed;
  };

  while (frames < options.frames) {
    await Promise.all(Array.from({ length: 8 }, () => runConnection(1 + Math.floor(random() * 200))));
    const result = await good.invoke(options.goodFunction, options.goodInput).catch(() => undefined);
    goodChecks++;
    if (result === undefined || !result.ok || result.output.toString() !== options.goodOutput) goodFailures++;
  }
  await good.close();
  return { seed: options.seed, frames, connections, closedByEngine, goodChecks, goodFailures };
}
