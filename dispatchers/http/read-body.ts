import type { IncomingMessage } from 'node:http';
import { EngineError, type ErrorCode } from '../../engine/errors.ts';

/**
 * Reads a request body whole, refusing it as soon as it is known to be over `limitBytes`: at once
 * from a content-length header, else when the chunks received pass the limit. Nothing beyond the
 * limit is kept.
 * @param tooLargeCode the code of the refusal (ERR_SOURCE_TOO_LARGE for a deploy, ERR_FRAME_TOO_LARGE for an input)
 * @throws {EngineError} `tooLargeCode` past the limit; ERR_CANCELLED when the client goes away first.
 */
export async function readBody (request: IncomingMessage, limitBytes: number, tooLargeCode: ErrorCode, what: string): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    throw new EngineError(tooLargeCode, `${what} of ${declared} bytes is over the limit of ${limitBytes}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of request as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > limitBytes) throw new EngineError(tooLargeCode, `${what} is over the limit of ${limitBytes} bytes`);
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof EngineError) throw error;
    throw new EngineError('ERR_CANCELLED', 'the client went away while sending its request');
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}
