import { ExitCode, kAddressHelp, kAddressOption, parse, requestFailed, resolveAddress, usageError, withClient, type CliIo, type Command } from './common.ts';

const help = `Usage: springbok list [options]

Lists the deployed functions with their language, version, state and budget.

Options:
${kAddressHelp}
  --json                 one JSON object per function
`;

export const listCommand: Command = {
  summary: 'list deployed functions',
  help,
  async run (args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(args, { ...kAddressOption, json: { type: 'boolean' } }, help);
    if (positionals.length > 0) throw usageError('list takes no arguments', help);
    const functions = await withClient(resolveAddress(values.socket, io.env, help), (client) => client.list()).catch((error: unknown) => { throw requestFailed(error); });
    if (values.json === true) {
      for (const info of functions) io.stdout.write(`${JSON.stringify(info)}\n`);
      return ExitCode.ok;
    }
    const rows = [['NAME', 'LANGUAGE', 'VERSION', 'STATE', 'CPU-MS', 'WALL-MS', 'MEMORY-MB', 'IN-FLIGHT', 'DEPLOYED']];
    for (const f of functions) {
      rows.push([f.name, f.language, String(f.version), f.state, String(f.budget.cpuMs), String(f.budget.wallMs), String(+(f.budget.memoryBytes / 2 ** 20).toFixed(2)), String(f.inFlight), f.deployedAt]);
    }
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    for (const row of rows) io.stdout.write(`${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()}\n`);
    for (const f of functions) if (f.error !== undefined) io.stdout.write(`${f.name}: ${f.error.code}: ${f.error.message}\n`);
    return ExitCode.ok;
  },
};
