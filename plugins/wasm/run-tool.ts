import { spawn } from 'node:child_process';
import { EngineError } from '../../engine/errors.ts';

export interface ToolLimits {
  /** The tool is killed (SIGKILL) past this, in ms. */
  readonly timeoutMs: number;
  /** Output kept from stdout and from stderr each; the rest is dropped and the text says so. */
  readonly maxOutputBytes: number;
  readonly signal: AbortSignal;
}

export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs one compiler step as a child process: never a shell, a timeout, bounded output kept, and
 * killed when the deploy is abandoned. Compilers run out of process so that a hostile or broken
 * source can only fail its own deploy.
 * @throws {EngineError} ERR_COMPILE when the tool cannot start, times out or is aborted.
 */
export function runTool (command: string, args: readonly string[], limits: ToolLimits, cwd: string): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    if (limits.signal.aborted) {
      reject(new EngineError('ERR_COMPILE', `compilation stopped before ${command} ran`));
      return;
    }
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' } });
    const stdout = boundedCollector(limits.maxOutputBytes);
    const stderr = boundedCollector(limits.maxOutputBytes);
    child.stdout.on('data', stdout.push);
    child.stderr.on('data', stderr.push);
    let failure: EngineError | undefined;
    const kill = (reason: string): void => {
      failure ??= new EngineError('ERR_COMPILE', reason);
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill(`${command} took longer than ${limits.timeoutMs} ms and was stopped`), limits.timeoutMs);
    const onAbort = (): void => kill(`compilation stopped: ${String(limits.signal.reason instanceof Error ? limits.signal.reason.message : limits.signal.reason)}`);
    limits.signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (error) => kill(`cannot run ${command}: ${error.message}`));
    child.once('close', (code) => {
      clearTimeout(timer);
      limits.signal.removeEventListener('abort', onAbort);
      if (failure !== undefined) reject(failure);
      else resolve({ code, stdout: stdout.text(), stderr: stderr.text() });
    });
  });
}

function boundedCollector (maxBytes: number): { push: (chunk: Buffer) => void, text: () => string } {
  const chunks: Buffer[] = [];
  let kept = 0;
  let dropped = 0;
  return {
    push: (chunk) => {
      const room = maxBytes - kept;
      if (room > 0) chunks.push(chunk.subarray(0, room));
      kept += Math.min(room, chunk.byteLength);
      dropped += Math.max(0, chunk.byteLength - Math.max(room, 0));
    },
    text: () => Buffer.concat(chunks).toString('utf8') + (dropped > 0 ? `\n[${dropped} more bytes of compiler output dropped]` : ''),
  };
}
