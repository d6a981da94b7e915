import { EngineError } from '../../engine/errors.ts';
import { kMaxSourceBytes } from './limits.ts';

const kEncoder = new TextEncoder();
const kPrefix = kEncoder.encode('return function (_ENV, ...) ');
const kSuffix = kEncoder.encode('\nend');

/**
 * Checks what can be checked before parsing.
 * @throws {EngineError} ERR_COMPILE for an oversized source or a binary (precompiled) chunk.
 */
export function checkSource (source: Uint8Array): void {
  if (source.byteLength > kMaxSourceBytes) {
    throw new EngineError('ERR_COMPILE', `the source is ${source.byteLength} bytes; Lua functions may be at most ${kMaxSourceBytes}`);
  }
  if (source[0] === 0x1b) throw new EngineError('ERR_COMPILE', 'binary (precompiled) Lua chunks are not accepted: deploy the source text');
}

/**
 * The chunk as the body of `function (_ENV, ...)`, so each invocation runs it with its own
 * environment and nothing it defines outlives it. The prefix adds no line, so line numbers in
 * messages stay the user's. Only a source that parses on its own is wrapped (compile() checks
 * that first): a valid chunk is a valid function body, so the wrapper cannot be escaped.
 * A first line starting with `#` (a shebang) is blanked, as Lua's own loader skips it.
 */
export function wrapSource (source: Uint8Array): Uint8Array {
  const body = new Uint8Array(source);
  if (body[0] === 0x23) {
    for (let i = 0; i < body.length && body[i] !== 0x0a; i++) body[i] = 0x20;
  }
  const wrapped = new Uint8Array(kPrefix.length + body.length + kSuffix.length);
  wrapped.set(kPrefix, 0);
  wrapped.set(body, kPrefix.length);
  wrapped.set(kSuffix, kPrefix.length + body.length);
  return wrapped;
}

/** The source with a shebang line blanked, for the standalone syntax check. */
export function sourceForCheck (source: Uint8Array): Uint8Array {
  if (source[0] !== 0x23) return source;
  const copy = new Uint8Array(source);
  for (let i = 0; i < copy.length && copy[i] !== 0x0a; i++) copy[i] = 0x20;
  return copy;
}
