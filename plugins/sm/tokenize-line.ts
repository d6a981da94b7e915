import { compileError } from './compile-error.ts';
import { readStringLiteral } from './literals.ts';

/** One token of a source line: a bare word (label definition, mnemonic, number, label name) or a string literal. */
export type Token =
  | { readonly kind: 'word', readonly text: string }
  | { readonly kind: 'string', readonly bytes: Uint8Array };

const kSemicolon = 0x3b;
const kQuote = 0x22;

/** Unicode white space, with the ASCII cases first: assembling a 1 MiB source calls this once per character. */
function isSpace (code: number): boolean {
  if (code === 0x20 || (code >= 0x09 && code <= 0x0d)) return true;
  return code >= 0x80 && /\s/.test(String.fromCharCode(code));
}

/**
 * Splits one source line into tokens. A `;` outside a string literal starts a comment that runs
 * to the end of the line.
 * @throws {EngineError} ERR_COMPILE on a malformed string literal.
 */
export function tokenizeLine (line: string, lineNumber: number): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const code = line.charCodeAt(i);
    if (isSpace(code)) {
      i++;
    } else if (code === kSemicolon) {
      break;
    } else if (code === kQuote) {
      const literal = readStringLiteral(line, i, lineNumber);
      tokens.push({ kind: 'string', bytes: literal.bytes });
      i = literal.end;
      // `outs "a"b` is more likely a typo than two tokens; say so rather than guess.
      if (i < line.length && line.charCodeAt(i) !== kSemicolon && !isSpace(line.charCodeAt(i))) {
        throw compileError(lineNumber, 'unexpected text right after a string literal');
      }
    } else {
      let end = i + 1;
      for (let next = line.charCodeAt(end); end < line.length && next !== kSemicolon && next !== kQuote && !isSpace(next); next = line.charCodeAt(++end));
      tokens.push({ kind: 'word', text: line.slice(i, end) });
      i = end;
    }
  }
  return tokens;
}
