import assert from 'node:assert/strict';
import type { Engine } from '../../engine/index.ts';
import type { LanguagePlugin } from '../../engine/plugin.ts';
import { jsPlugin } from '../../plugins/js/index.ts';
import { quickjsPlugin } from '../../plugins/quickjs/index.ts';
import { bytes, output } from './results.ts';

/** Both JavaScript engines, by language name: the web-global tests run every case on each. */
export const kJsEngines: [string, () => LanguagePlugin][] = [['js', () => jsPlugin()], ['quickjs', () => quickjsPlugin()]];

export { bytes, failure, output } from './results.ts';

/** A snippet run inside the guest. */
export interface SnippetCase {
  readonly name: string;
  /** A function body; its result (awaited) must be JSON-encodable. */
  readonly code: string;
  /** The expected result, where Node's own globals differ from the standard or cannot run the snippet. */
  readonly expected?: unknown;
}

/** A function that runs the snippet it is given as an async function body and answers its (awaited) result as JSON. */
export const kSnippetRunner = 'const AsyncFunction = (async () => {}).constructor; export default async function (input) { const result = await new AsyncFunction(input)(); return JSON.stringify(result === undefined ? null : result); }';

/** What Node's own globals answer to a snippet, encoded as the runner does. */
export async function nodeAnswer (code: string): Promise<string> {
  const AsyncFunction = (async () => {}).constructor as new (body: string) => () => Promise<unknown>;
  const result = await new AsyncFunction(code)();
  return JSON.stringify(result === undefined ? null : result);
}

/** Runs every case through `name` (deployed from kSnippetRunner): its answer is the written one, or else Node's. */
export async function assertSnippetAnswers (engine: Engine, name: string, cases: readonly SnippetCase[]): Promise<void> {
  for (const { name: title, code, expected } of cases) {
    const want = expected === undefined ? await nodeAnswer(code) : JSON.stringify(expected);
    assert.equal(output(await engine.invoke(name, bytes(code))), want, title);
  }
}
