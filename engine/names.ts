import { EngineError } from './errors.ts';

/**
 * Function names become file names in the data dir and appear in logs and metrics, so they are
 * kept to a conservative alphabet: no path separators, no dot-dot, no leading dot or dash.
 */
/** A function name's characters as a regular-expression source, for patterns that contain one ("no .." is checked apart). */
export const kNameSource = '[A-Za-z0-9][A-Za-z0-9_.-]{0,127}';
const kNamePattern = new RegExp(`^${kNameSource}$`);

/** @throws {EngineError} ERR_INVALID_ARGUMENT when `name` is not a valid function name. */
export function assertFunctionName (name: unknown): asserts name is string {
  if (typeof name !== 'string' || !kNamePattern.test(name) || name.includes('..')) {
    throw new EngineError('ERR_INVALID_ARGUMENT', `function name must be 1-128 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit, without "..": got ${JSON.stringify(name)}`);
  }
}

/** Sort order of anything listed by function name. */
export function byName (a: { readonly name: string }, b: { readonly name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
