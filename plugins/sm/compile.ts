import { setImmediate as nextTurn } from 'node:timers/promises';
import { EngineError } from '../../engine/errors.ts';
import { Assembler } from './assemble.ts';
import { kCompileSliceMs, kMaxSourceBytes } from './limits.ts';
import type { Program } from './program.ts';

const kStrictDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Checks the size and encoding of a source and assembles it line by line. A large source takes
 * tens of milliseconds, so this returns to the event loop every {@link kCompileSliceMs} (other
 * tenants' invocations keep running) and stops there if `signal` has aborted.
 * @throws {EngineError} ERR_COMPILE when the source is over {@link kMaxSourceBytes}, not UTF-8, or not a valid program.
 * @throws the signal's reason when it aborts.
 */
export async function compileSource (source: Uint8Array, signal: AbortSignal): Promise<Program> {
  signal.throwIfAborted();
  if (source.byteLength > kMaxSourceBytes) {
    throw new EngineError('ERR_COMPILE', `the source is ${source.byteLength} bytes; sm accepts at most ${kMaxSourceBytes}`);
  }
  let text: string;
  try {
    text = kStrictDecoder.decode(source);
  } catch (error) {
    throw new EngineError('ERR_COMPILE', 'the source is not valid UTF-8', { cause: error });
  }

  const assembler = new Assembler();
  let lineNumber = 0;
  let sliceStartedAt = performance.now();
  for (let start = 0; start <= text.length; lineNumber++) {
    if ((lineNumber & 255) === 255 && performance.now() - sliceStartedAt > kCompileSliceMs) {
      await nextTurn();
      signal.throwIfAborted();
      sliceStartedAt = performance.now();
    }
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    // A \r before the \n is whitespace to the tokenizer, so CRLF sources need nothing special.
    assembler.addLine(text.slice(start, end), lineNumber + 1);
    start = end + 1;
  }
  return assembler.finish(lineNumber);
}
