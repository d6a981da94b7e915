import { parseNumberLiteral } from './literals.ts';

const kDecoder = new TextDecoder();

/**
 * The input as the `in` instruction reads it: a number literal with optional surrounding
 * whitespace (so `echo 100` works), or 0 for an input that is empty or only whitespace.
 * @returns the number, or undefined when the input is something else (the caller traps).
 */
export function parseInputNumber (input: Uint8Array): number | undefined {
  const text = kDecoder.decode(input).trim();
  return text === '' ? 0 : parseNumberLiteral(text);
}
