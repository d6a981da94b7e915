import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../../engine/index.ts';

/**
 * The Workers compatibility suite: every `<name>.js` in this folder is a Worker whose response body
 * is its output for the input in `<name>.input` (an empty body when there is none), and
 * `<name>.expected` holds the bytes workerd answered (written by
 * `experiments/workers-compat.ts --update-expected`).
 */
export interface CompatCase {
  readonly name: string;
  readonly path: string;
  readonly source: Uint8Array;
  readonly input: Uint8Array;
  readonly expectedPath: string;
}

/** The folder of the suite's Workers. */
export const kCompatDir = new URL('.', import.meta.url).pathname;

/**
 * The Workers whose springbok output differs from workerd's, and why: each isolates one
 * difference, so every other Worker is held to workerd's bytes.
 */
export const kKnownDifferences: Readonly<Record<string, string>> = {
  'abort-message': 'the default AbortError message: springbok "This operation was aborted" (Node\'s wording), workerd "The operation was aborted"',
  'digest-md5': 'workerd digests MD5 (an extension); springbok has only the SHA family (NotSupportedError)',
  'header-names': 'workerd accepts the empty header name and non-ASCII names; springbok throws the TypeError the Fetch standard asks for',
  'event-edges': 'workerd gives a never-dispatched event an undefined target and lets preventDefault on a non-cancelable event make dispatchEvent false; springbok follows the DOM standard (null, true)',
};

/** The JavaScript engines the suite runs on. */
export const kCompatLanguages = ['js', 'quickjs'] as const;

async function readOptional (path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Uint8Array(0);
    throw error;
  }
}

/** Every Worker of the suite, sorted by name. */
export async function compatCases (): Promise<CompatCase[]> {
  const names = (await readdir(kCompatDir)).filter((file) => file.endsWith('.js')).map((file) => file.slice(0, -3)).sort();
  return Promise.all(names.map(async (name) => ({
    name,
    path: join(kCompatDir, `${name}.js`),
    source: await readFile(join(kCompatDir, `${name}.js`)),
    input: await readOptional(join(kCompatDir, `${name}.input`)),
    expectedPath: join(kCompatDir, `${name}.expected`),
  })));
}

/**
 * Deploys the case on `language` as `<language>-<name>` and invokes it as the socket does (a POST
 * of the input to http://function.invalid/): the output, or the engine's error as text.
 */
export async function runOnSpringbok (engine: Engine, language: string, compatCase: CompatCase): Promise<string> {
  const name = `${language}-${compatCase.name}`;
  await engine.deploy(name, language, compatCase.source);
  const result = await engine.invoke(name, compatCase.input);
  return result.ok ? Buffer.from(result.output).toString('utf8') : `error ${result.error.code}: ${result.error.message}`;
}
