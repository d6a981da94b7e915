import assert from 'node:assert/strict';
import type { InvokeResult } from '../../engine/index.ts';

// Reading invocation results in tests, for any language (no plugin is loaded here).

export const bytes = (text: string): Uint8Array => Buffer.from(text);

/** The output of a successful invocation as text; fails the test with the error code otherwise. */
export const output = (result: InvokeResult): string => {
  assert.equal(result.ok, true, result.ok ? '' : `${result.error.code}: ${result.error.message}`);
  return result.ok ? Buffer.from(result.output).toString('utf8') : '';
};

/** The error of a failed invocation; fails the test with the output otherwise. */
export const failure = (result: InvokeResult): { code: string, message: string } => {
  assert.equal(result.ok, false, result.ok ? `expected a failure, got ${Buffer.from(result.output).toString('utf8').slice(0, 80)}` : '');
  return result.ok ? { code: '', message: '' } : result.error;
};
