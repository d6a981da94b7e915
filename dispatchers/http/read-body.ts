import type { IncomingMessage } from 'node:http';
import { EngineError, type ErrorCode } from '../../engine/errors.ts';

/**
 * Reads a request body whole, refusing it as soon as it is known to be over `limitBytes`: at once
 * from a content-length header, else when the chunks received pass the limit. Nothing beyond the
 * limit is kept. Listeners rather than `for await`: an async iterator costs a promise per chunk
 * and per end, on every invocation.
 * @param tooLargeCode the code of the refusal (ERR_SOURCE_TOO_LARGE for a deploy, ERR_FRAME_TOO_LARGE for an input)
 * @throws {EngineError} `tooLargeCode` past the limit; ERR_CANCELLED when the client goes away first.
 */
export function readBody (request: IncomingMessage, limitBytes: number, tooLargeCode: ErrorCode, what: string): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    return Promise.reject(new EngineError(tooLargeCode, `${what} of ${declared} bytes is over the limit of ${limitBytes}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const stop = (): void => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onGone);
      request.off('close', onGone);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.byteLength;
      if (total > limitBytes) {
        stop();
        reject(new EngineError(tooLargeCode, `${what} is over the limit of ${limitBytes} bytes`));
        // The rest is not read: the connection is dropped, once the refusal (a few promise reactions
        // from here) has been written to it.
        setImmediate(() => request.destroy());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    };
    const onGone = (): void => {
      stop();
      reject(new EngineError('ERR_CANCELLED', 'the client went away while sending its request'));
    };
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', onGone);
    request.once('close', onGone);
  });
}
