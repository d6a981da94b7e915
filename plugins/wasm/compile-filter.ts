import { EngineError } from '../../engine/errors.ts';

/**
 * The first line of defence against a source that reads host files at build time: refuses, before
 * any compiler runs, what asks for a file by path: `#include` (and `#import`) of an absolute or `..`
 * path or of a macro, `#include_next`, `__has_include` of such a path, `#pragma GCC dependency`,
 * and the assembler directives that read files (`.incbin`, `.include`) in C strings (inline asm)
 * and LLVM IR strings (`module asm`, inline asm calls). Line continuations, comments, digraphs,
 * escapes and adjacent string literals are undone first, so `#/​**​/include`, `%:include` and
 * `".inc" "bin"` are seen. It cannot see everything (token pasting, bitcode): the jail (jail.ts)
 * is the guarantee; this keeps most attempts from reaching it and says clearly why.
 * @throws {EngineError} ERR_COMPILE naming what was refused.
 */
export function checkSourceReadsNoHostFile (kind: 'c' | 'llvm', source: Uint8Array): void {
  if (kind === 'llvm' && isBitcode(source)) return; // binary: only the jail answers for bitcode
  const text = Buffer.from(source).toString('latin1');
  const { code, strings } = kind === 'c' ? lexC(text) : lexIr(text);
  const refusal = (kind === 'c' ? refuseDirectives(code) : undefined) ?? refuseAsmReads(code, strings);
  if (refusal !== undefined) throw new EngineError('ERR_COMPILE', `${refusal}: a function may include only the wasi sysroot's headers and springbok.h, by name, and may not read files at build time`);
}

/** A string literal's decoded content, and whether it directly follows the previous one (C concatenates those). */
interface StringLiteral {
  readonly value: string;
  readonly adjacent: boolean;
}

function refuseDirectives (code: string): string | undefined {
  for (const line of code.split('\n')) {
    const directive = /^\s*(?:#|%:)\s*([A-Za-z_]\w*)(.*)$/.exec(line);
    if (directive === null) continue;
    const [, name, rest] = directive as unknown as [string, string, string];
    if (name === 'include_next') return `#include_next is refused (${shorten(line)})`;
    if (name === 'include' || name === 'import') {
      const operand = /^\s*(?:"([^"]*)"|<([^>]*)>)/.exec(rest);
      if (operand === null) return `a computed #${name} (a macro, not "name" or <name>) is refused (${shorten(line)})`;
      const path = operand[1] ?? operand[2] ?? '';
      if (isHostPath(path)) return `#${name} of ${JSON.stringify(path)} is refused (an absolute or ".." path)`;
    }
    if (name === 'pragma' && /^\s*(?:GCC|clang)\s+dependency\b/.test(rest)) return `#pragma ${rest.trim().split(/\s+/).slice(0, 2).join(' ')} is refused`;
  }
  if (/\b__has_include_next\s*\(/.test(code)) return '__has_include_next is refused';
  for (const match of code.matchAll(/\b__has_include\s*\(\s*(?:"([^"]*)"|<([^>]*)>)/g)) {
    const path = match[1] ?? match[2] ?? '';
    if (isHostPath(path)) return `__has_include of ${JSON.stringify(path)} is refused (an absolute or ".." path)`;
  }
  return undefined;
}

function refuseAsmReads (code: string, strings: readonly StringLiteral[]): string | undefined {
  if (/incbin/i.test(code)) return 'the word "incbin" outside a string is refused (it can only be meant to build an assembler .incbin)';
  const joined: string[] = [];
  for (const literal of strings) {
    if (literal.adjacent && joined.length > 0) joined[joined.length - 1] += literal.value;
    else joined.push(literal.value);
  }
  for (const value of joined) {
    // Assembler statements start a line, follow a ';' or a label's ':', and directives are case-insensitive.
    const directive = /(?:^|[\n;:\s])\.(incbin|include)\b/i.exec(value)?.[1];
    if (directive !== undefined) return `the assembler directive .${directive.toLowerCase()} is refused`;
    if (/^\s*(?:GCC|clang)\s+dependency\b/.test(value)) return '_Pragma("GCC dependency") is refused';
  }
  return undefined;
}

function isHostPath (path: string): boolean {
  return path.startsWith('/') || path.startsWith('\\') || path.startsWith('~') || /(?:^|[/\\])\.\.(?:[/\\]|$)/.test(path);
}

function shorten (line: string): string {
  const trimmed = line.trim();
  return trimmed.length > 80 ? `${trimmed.slice(0, 77)}...` : trimmed;
}

function isBitcode (source: Uint8Array): boolean {
  return source[0] === 0x42 && source[1] === 0x43 && source[2] === 0xc0 && source[3] === 0xde;
}

/**
 * C after translation phases 2-3, roughly: line continuations joined, comments replaced by a space,
 * string literals replaced by "" (their decoded contents returned apart), character literals by ''.
 */
function lexC (text: string): { code: string, strings: StringLiteral[] } {
  const joined = text.replace(/\\\r?\n/g, '');
  let code = '';
  const strings: StringLiteral[] = [];
  let sinceString = Number.POSITIVE_INFINITY; // non-blank characters since the last string literal
  let i = 0;
  while (i < joined.length) {
    const char = joined[i]!;
    const next = joined[i + 1];
    if (char === '/' && next === '/') {
      const end = joined.indexOf('\n', i);
      i = end < 0 ? joined.length : end;
      code += ' ';
      continue; // a comment is blank: "a" /* */ "b" still concatenates
    } else if (char === '/' && next === '*') {
      const end = joined.indexOf('*/', i + 2);
      const comment = joined.slice(i, end < 0 ? joined.length : end + 2);
      code += comment.includes('\n') ? '\n'.repeat(comment.split('\n').length - 1) : ' ';
      i += comment.length;
      continue;
    } else if (char === '"' || char === '\'') {
      let j = i + 1;
      while (j < joined.length && joined[j] !== char && joined[j] !== '\n') j += joined[j] === '\\' ? 2 : 1;
      const raw = joined.slice(i + 1, j);
      i = j + 1;
      if (char === '"') {
        // A header name in #include "..." or __has_include("...") lexes as a string here; it stays in `code` to be checked as a path.
        const header = /(?:(?:#|%:)\s*(?:include|include_next|import)\s*|\b__has_include(?:_next)?\s*\(\s*)$/.test(code.slice(code.lastIndexOf('\n') + 1));
        strings.push({ value: decodeCEscapes(raw), adjacent: sinceString === 0 });
        code += header ? `"${raw}"` : '""';
        sinceString = 0;
        continue;
      }
      code += '\'\'';
    } else {
      code += char;
      i += 1;
    }
    if (!/\s/.test(char)) sinceString += 1;
  }
  return { code, strings };
}

function decodeCEscapes (raw: string): string {
  return raw.replace(/\\(?:x([0-9A-Fa-f]+)|([0-7]{1,3})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))/gs, (_all, hex: string | undefined, octal: string | undefined, u4: string | undefined, u8: string | undefined, other: string | undefined) => {
    if (hex !== undefined) return String.fromCodePoint(Number.parseInt(hex, 16) & 0x10ffff);
    if (octal !== undefined) return String.fromCharCode(Number.parseInt(octal, 8));
    if (u4 !== undefined || u8 !== undefined) return String.fromCodePoint(Math.min(Number.parseInt((u4 ?? u8)!, 16), 0x10ffff));
    return ({ n: '\n', t: '\t', r: '\r', v: '\v', f: '\f', a: '\x07', b: '\b', e: '\x1b' } as Record<string, string>)[other!] ?? other!;
  });
}

/** LLVM IR: `;` comments dropped, string literals ("..." with \XX escapes) decoded and returned apart. */
function lexIr (text: string): { code: string, strings: StringLiteral[] } {
  let code = '';
  const strings: StringLiteral[] = [];
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    if (char === ';') {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
    } else if (char === '"') {
      const end = text.indexOf('"', i + 1);
      const raw = text.slice(i + 1, end < 0 ? text.length : end);
      strings.push({ value: raw.replace(/\\([0-9A-Fa-f]{2}|\\)/g, (_all, escaped: string) => escaped === '\\' ? '\\' : String.fromCharCode(Number.parseInt(escaped, 16))), adjacent: false });
      code += '""';
      i = end < 0 ? text.length : end + 1;
    } else {
      code += char;
      i += 1;
    }
  }
  return { code, strings };
}
