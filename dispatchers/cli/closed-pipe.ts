import { ExitCode } from './common.ts';

/**
 * Ends the process quietly, with the status of a process killed by SIGPIPE, once the reader of
 * `stream` has gone away (`springbok list | head -1`): having fewer readers than lines is a normal
 * use, not a failure worth a stack trace. Node ignores SIGPIPE, so a write to a closed pipe
 * surfaces as an EPIPE 'error' event, which would otherwise be thrown as unhandled. Any other
 * stream error is thrown as before.
 */
export function exitOnClosedPipe (stream: NodeJS.WritableStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(ExitCode.closedPipe);
  });
}
