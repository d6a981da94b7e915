/**
 * Whether the JSON array in `bytes` has more than `limit` items, found without parsing it: commas
 * at the array's top level are counted (strings skipped, nesting followed) and the scan stops at the
 * one that passes the limit. A map step asks this before it parses what it fans out over, so a
 * fan-out bomb (millions of tiny items, which take the main thread seconds to parse) is refused
 * after reading its first `limit` items. False says nothing of validity: the parse that follows does.
 */
export function hasMoreItemsThan (bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  let commas = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (depth === 0) {
      // Anything but an array at the top: the parse will say what it is.
      if (byte === kOpenBracket) depth = 1;
      else if (byte !== kSpace && byte !== kTab && byte !== kNewline && byte !== kReturn) return false;
    } else if (byte === kQuote) {
      i = closingQuote(bytes, i);
      if (i < 0) return false;
    } else if (byte === kOpenBracket || byte === kOpenBrace) {
      depth++;
    } else if (byte === kCloseBracket || byte === kCloseBrace) {
      if (--depth === 0) return false;
    } else if (byte === kComma && depth === 1 && ++commas >= limit) {
      return true;
    }
  }
  return false;
}

/** Where the string opened at `open` ends, or -1 if it does not; indexOf runs natively, so long strings cost little. */
function closingQuote (bytes: Uint8Array, open: number): number {
  for (let at = bytes.indexOf(kQuote, open + 1); at >= 0; at = bytes.indexOf(kQuote, at + 1)) {
    let backslashes = 0;
    while (bytes[at - 1 - backslashes] === kBackslash) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
  return -1;
}

const kQuote = 0x22;
const kBackslash = 0x5c;
const kComma = 0x2c;
const kOpenBracket = 0x5b;
const kCloseBracket = 0x5d;
const kOpenBrace = 0x7b;
const kCloseBrace = 0x7d;
const kSpace = 0x20;
const kTab = 0x09;
const kNewline = 0x0a;
const kReturn = 0x0d;
