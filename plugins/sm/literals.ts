import { compileError } from './compile-error.ts';

const kDecimal = /^[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const kHex = /^([+-]?)0[xX]([0-9a-fA-F]+)$/;
const kEncoder = new TextEncoder();

/**
 * Reads a number literal: decimal (`42`, `-7`, `2.5`, `1e6`) or hexadecimal (`0xff`).
 * Also the syntax of the `in` instruction's input.
 * @returns the value, or undefined when `text` is not a literal or its value is not finite.
 */
export function parseNumberLiteral (text: string): number | undefined {
  let value: number;
  if (kDecimal.test(text)) {
    value = Number(text);
  } else {
    const hex = kHex.exec(text);
    if (hex === null) return undefined;
    value = Number.parseInt(hex[2] ?? '', 16) * (hex[1] === '-' ? -1 : 1);
  }
  return Number.isFinite(value) ? value : undefined;
}

/** What a string literal reads as, and where it ended. */
export interface StringLiteral {
  readonly bytes: Uint8Array;
  /** Index in the line just past the closing quote. */
  readonly end: number;
}

const kSimpleEscapes: ReadonlyMap<string, number> = new Map([
  ['n', 0x0a], ['t', 0x09], ['r', 0x0d], ['0', 0x00], ['\\', 0x5c], ['"', 0x22],
]);

/**
 * Reads the string literal whose opening quote is at `line[start]`. Text is UTF-8 encoded;
 * escapes are \n \t \r \0 \\ \" and \xNN (one raw byte, two hex digits).
 * @throws {EngineError} ERR_COMPILE on an unknown escape or a missing closing quote.
 */
export function readStringLiteral (line: string, start: number, lineNumber: number): StringLiteral {
  const bytes: number[] = [];
  let i = start + 1;
  while (i < line.length) {
    const char = line[i] ?? '';
    if (char === '"') return { bytes: Uint8Array.from(bytes), end: i + 1 };
    if (char !== '\\') {
      const code = char.charCodeAt(0);
      if (code < 0x80) {
        bytes.push(code);
        i++;
      } else {
        const codePoint = line.codePointAt(i) ?? code;
        const text = String.fromCodePoint(codePoint);
        bytes.push(...kEncoder.encode(text));
        i += text.length;
      }
      continue;
    }
    const escape = line[i + 1] ?? '';
    const simple = kSimpleEscapes.get(escape);
    if (simple !== undefined) {
      bytes.push(simple);
      i += 2;
    } else if (escape === 'x' && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 2, i + 4))) {
      bytes.push(Number.parseInt(line.slice(i + 2, i + 4), 16));
      i += 4;
    } else {
      const shown = escape === 'x' ? line.slice(i, i + 4) : line.slice(i, i + 2);
      throw compileError(lineNumber, `bad escape "${shown}" in string literal (known: \\n \\t \\r \\0 \\\\ \\" \\xNN)`);
    }
  }
  throw compileError(lineNumber, 'unterminated string literal (missing closing ")');
}
