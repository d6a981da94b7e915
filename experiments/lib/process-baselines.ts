import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildNativeC } from './native-c.ts';
import type { ProcessCommand } from './process-run.ts';

export const kClang = '/usr/bin/clang';
export const kLua = '/usr/bin/lua5.4';

/** One function's source files in the languages a process baseline runs. */
export interface BaselineSources {
  readonly js: string;
  readonly lua: string;
  readonly c: string;
}

/** A process-per-invocation runtime: the command that runs function `fn` once on `input`. */
export interface ProcessBaseline<F extends string> {
  readonly runtime: 'node' | 'lua5.4' | 'native C';
  readonly command: (fn: F, input: string) => ProcessCommand;
}

/**
 * The same functions as a process per invocation: `node -e` importing the JS module, `lua5.4`
 * running the Lua file, and the C handler compiled natively with clang (once per function, into
 * `dir`). A runtime this machine lacks is left out and reported to `skip` with the reason.
 */
export async function processBaselines<F extends string> (dir: string, files: Readonly<Record<F, BaselineSources>>, skip: (baseline: string, reason: string) => void): Promise<ProcessBaseline<F>[]> {
  const baselines: ProcessBaseline<F>[] = [{
    runtime: 'node',
    command: (fn, input) => ({
      file: process.execPath,
      args: ['--input-type=module', '-e', `import f from ${JSON.stringify(pathToFileURL(files[fn].js).href)}; process.stdout.write(String(await f(process.argv[1])));`, input],
    }),
  }];
  if (existsSync(kLua)) {
    const runner = join(dir, 'run.lua');
    await writeFile(runner, 'local f = dofile(arg[1]); io.write(tostring(f(arg[2])))\n');
    baselines.push({ runtime: 'lua5.4', command: (fn, input) => ({ file: kLua, args: [runner, files[fn].lua, input] }) });
  } else {
    skip('process lua5.4', `${kLua} not found (Debian package lua5.4)`);
  }
  if (!existsSync(kClang)) {
    skip('process native C', `${kClang} not found`);
    return baselines;
  }
  try {
    const binaries = new Map<F, string>();
    for (const fn of Object.keys(files) as F[]) binaries.set(fn, await buildNativeC(kClang, files[fn].c, dir, `${fn}-native`));
    baselines.push({ runtime: 'native C', command: (fn, input) => ({ file: binaries.get(fn)!, args: [input] }) });
  } catch (error) {
    skip('process native C', `clang failed: ${(error as Error).message.split('\n')[0]}`);
  }
  return baselines;
}
