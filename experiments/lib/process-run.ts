import { spawn } from 'node:child_process';

/** A command that prints one invocation's output on stdout and exits: one process per invocation. */
export interface ProcessCommand {
  readonly file: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Runs `command` once and resolves whether its stdout equals `expected` and it exited 0. The time
 * a caller measures around this is spawn → all output read → exit, what a process-per-invocation
 * platform pays for every request.
 */
export function runProcess (command: ProcessCommand, expected: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'ignore'], env: command.env ?? process.env });
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => { output += chunk; });
    child.once('error', () => resolve(false));
    child.once('close', (code) => resolve(code === 0 && output === expected));
  });
}
