import { deployCommand } from './deploy.ts';
import { executeCommand } from './execute.ts';
import { listCommand } from './list.ts';
import { removeCommand } from './remove.ts';
import { serveCommand } from './serve.ts';
import { statsCommand } from './stats.ts';
import { exitOnClosedPipe } from './closed-pipe.ts';
import { CliExit, ExitCode, type CliIo, type Command } from './common.ts';

const kCommands: Record<string, Command> = {
  serve: serveCommand,
  deploy: deployCommand,
  execute: executeCommand,
  list: listCommand,
  remove: removeCommand,
  stats: statsCommand,
};

function topHelp (): string {
  const width = Math.max(...Object.keys(kCommands).map((name) => name.length));
  const lines = Object.entries(kCommands).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`);
  return `springbok — many small untrusted functions in one engine process, each under its own budget

Usage: springbok <command> [options]   (springbok <command> --help for its options)

Commands:
${lines.join('\n')}

Exit status: 0 ok; 1 the function or request failed (its error code on stderr); 2 usage error or no engine reachable;
141 the output's reader closed it early (as for any program cut short by SIGPIPE, e.g. | head).
`;
}

/**
 * Runs one CLI command; returns its exit status. Never throws. A client command whose output
 * pipe is closed early ends the process with {@link ExitCode.closedPipe} instead.
 */
export async function main (argv: string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  const command = name !== undefined && Object.hasOwn(kCommands, name) ? kCommands[name] : undefined;
  const wantsHelp = args.includes('--help') || args.includes('-h');
  // Not a running engine: it outlives whoever reads its log lines, so serve decides for itself.
  if (command !== serveCommand || wantsHelp) {
    exitOnClosedPipe(io.stdout);
    exitOnClosedPipe(io.stderr);
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(topHelp());
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (command === undefined) {
    io.stderr.write(`unknown command ${JSON.stringify(name)}\n\n${topHelp()}`);
    return ExitCode.usage;
  }
  if (wantsHelp) {
    io.stdout.write(command.help);
    return ExitCode.ok;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof CliExit) {
      io.stderr.write(`${error.message}\n`);
      return error.exitCode;
    }
    io.stderr.write(`springbok ${name}: ${error instanceof Error ? error.stack : String(error)}\n`);
    return ExitCode.functionFailed;
  }
}
