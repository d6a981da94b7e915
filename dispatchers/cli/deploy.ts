import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { EngineError } from '../../engine/errors.ts';
import { budgetFromFlags, CliExit, ExitCode, kAddressHelp, kAddressOption, kBudgetHelp, kBudgetOptions, parse, requestFailed, resolveAddress, resolveToken, usageError, withClient, type CliIo, type Command } from './common.ts';

const help = `Usage: springbok deploy <language> <name> <file> [options]

Compiles, validates and durably stores a function; exits 0 only once it is stored. Deploying an
existing name replaces it atomically (invocations in flight finish on the old version).
<file> may be - for standard input.

A flow (doc/flows.md) is deployed the same way, language flow and a JSON file of steps:
  springbok deploy flow word-scores word-scores.json --wall-ms 5000
Its functions must be deployed first; --wall-ms is the whole flow's wall-clock budget (each step
runs under its own function's budget).

Options:
${kAddressHelp}
  --json                 print the deployed function's record as JSON
  --env KEY=VALUE        a deploy-time variable the function reads (js, quickjs: the Workers
                         format's env); repeatable. Stored with the function, never logged;
                         list shows the names only. At most 64, names [A-Za-z_][A-Za-z0-9_]*,
                         values of at most 4 KiB.

${kBudgetHelp}
  --invoke-calls N       calls one invocation may make with ctx.invoke (default 16)
  --allow-invoke LIST    functions it may call: names and prefixes ending in *, comma-separated;
                         repeatable; none by default (doc/invoke.md)
  --kv NS:ro|NS:rw       a shared kv namespace it may read (ro) or read and write (rw), beyond
                         its own; repeatable (doc/kv.md)
  --kv-bytes N           bytes a kv namespace may hold when this function writes to it
                         (default 4194304)
`;

/** `--env KEY=VALUE` flags as an object (the engine checks names and sizes); undefined when none. */
function envFromFlags (flags: readonly string[] | undefined, help: string): Record<string, string> | undefined {
  if (flags === undefined || flags.length === 0) return undefined;
  const env: Record<string, string> = {};
  for (const flag of flags) {
    const equals = flag.indexOf('=');
    // Only the name is echoed: the value may be a secret.
    if (equals <= 0) throw usageError(`--env needs KEY=VALUE: got ${JSON.stringify(equals < 0 ? flag : '=…')}`, help);
    const key = flag.slice(0, equals);
    if (Object.hasOwn(env, key)) throw usageError(`--env ${key} is given twice`, help);
    Object.defineProperty(env, key, { value: flag.slice(equals + 1), enumerable: true, writable: true, configurable: true });
  }
  return env;
}

export const deployCommand: Command = {
  summary: 'compile and store a function: deploy <language> <name> <file>',
  help,
  async run (args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(args, { ...kAddressOption, ...kBudgetOptions, json: { type: 'boolean' }, env: { type: 'string', multiple: true } }, help);
    const [language, name, file, ...extra] = positionals;
    if (language === undefined || name === undefined || file === undefined || extra.length > 0) throw usageError('deploy needs exactly <language> <name> <file>', help);
    const budget = budgetFromFlags(values, help);
    const env = envFromFlags(values.env as string[] | undefined, help);
    let source: Uint8Array;
    try {
      source = file === '-' ? Buffer.from(await text(process.stdin)) : await readFile(file);
    } catch (error) {
      throw usageError(`cannot read ${file}: ${(error as Error).message}`, help);
    }
    const address = resolveAddress(values.socket, io.env, help);
    const info = await withClient(address, (client) => client.deploy(name, language, source, budget, env), resolveToken(values.token, io.env)).catch((error: unknown) => {
      if (error instanceof EngineError && error.code === 'ERR_FRAME_TOO_LARGE') {
        throw new CliExit(ExitCode.functionFailed, `ERR_SOURCE_TOO_LARGE: the source (${source.byteLength} bytes) is larger than this engine accepts (${error.message})`);
      }
      throw requestFailed(error);
    });
    if (values.json === true) io.stdout.write(`${JSON.stringify(info)}\n`);
    else io.stdout.write(`deployed ${info.name} (${info.language}, version ${info.version}, ${info.sourceBytes} bytes, sha256 ${info.sourceSha256.slice(0, 12)})\n`);
    return ExitCode.ok;
  },
};
