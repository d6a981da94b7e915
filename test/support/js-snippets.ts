import assert from 'node:assert/strict';
import type { InvokeResult } from '../../engine/index.ts';
import type { LanguagePlugin } from '../../engine/plugin.ts';
import { jsPlugin } from '../../plugins/js/index.ts';
import { quickjsPlugin } from '../../plugins/quickjs/index.ts';

/** Both JavaScript engines, by language name: the web-global tests run every case on each. */
export const kJsEngines: [string, () => LanguagePlugin][] = [['js', () => jsPlugin()], ['quickjs', () => quickjsPlugin()]];

export const bytes = (text: string): Uint8Array => Buffer.from(text);

/** The output of a successful invocation as text; fails the test with the error code otherwise. */
export const output = (result: InvokeResult): string => {
  assert.equal(result.ok, true, result.ok ? '' : `${result.error.code}: ${result.error.message}`);
  return result.ok ? Buffer.from(result.output).toString('utf8') : '';
};

/** A snippet run inside the guest. */
export interface SnippetCase {
  readonly name: string;
  /** A function body; its result (awaited) must be JSON-encodable. */
  readonly code: string;
  /** The expected result, where Node's own globals differ from the standard or cannot run the snippet. */
  readonly expected?: unknown;
}
