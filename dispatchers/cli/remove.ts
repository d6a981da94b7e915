import { ExitCode, kAddressHelp, kAddressOption, parse, requestFailed, resolveAddress, resolveToken, usageError, withClient, type CliIo, type Command } from './common.ts';

const help = `Usage: springbok remove <name> [options]

Removes a function from the engine and its data dir. Invocations in flight finish.
Exits 1 when no function has that name.

Options:
${kAddressHelp}
`;

export const removeCommand: Command = {
  summary: 'remove a function: remove <name>',
  help,
  async run (args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(args, kAddressOption, help);
    const [name, ...extra] = positionals;
    if (name === undefined || extra.length > 0) throw usageError('remove needs exactly <name>', help);
    const removed = await withClient(resolveAddress(values.socket, io.env, help), (client) => client.remove(name), resolveToken(values.token, io.env)).catch((error: unknown) => { throw requestFailed(error); });
    if (!removed) {
      io.stderr.write(`ERR_UNKNOWN_FUNCTION: no function named ${JSON.stringify(name)} is deployed\n`);
      return ExitCode.functionFailed;
    }
    io.stdout.write(`removed ${name}\n`);
    return ExitCode.ok;
  },
};
