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
  /** The signal that ended the tool's first process, if one did. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs one compiler step as a child process: never a shell, a timeout, bounded output kept, and
 * killed when the deploy is abandoned. Compilers run out of process so that a hostile or broken
 * source can only fail its own deploy. The step is the leader of its own process group and a kill
 * goes to the whole group: killing only the clang driver left its cc1 child running on (10.5 GB
 * from a macro bomb). In the jail, killing bwrap also ends its pid namespace, so nothing survives.
 * @throws {EngineError} ERR_COMPILE when the tool cannot start, times out or is aborted.
 */
export function runTool (command: string, args: readonly string[], limits: ToolLimits, cwd: string, label = command): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    if (limits.signal.aborted) {
      reject(new EngineError('ERR_COMPILE', `compilation stopped before ${label} ran`));
      return;
    }
    const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' } });
    const stdout = boundedCollector(limits.maxOutputBytes);
    const stderr = boundedCollector(limits.maxOutputBytes);
    child.stdout.on('data', stdout.push);
    child.stderr.on('data', stderr.push);
    let failure: EngineError | undefined;
    const kill = (reason: string): void => {
      failure ??= new EngineError('ERR_COMPILE', reason);
      killGroup(child.pid);
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill(`${label} took longer than ${limits.timeoutMs} ms and was stopped`), limits.timeoutMs);
    const onAbort = (): void => kill(`compilation stopped: ${String(limits.signal.reason instanceof Error ? limits.signal.reason.message : limits.signal.reason)}`);
    limits.signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (error) => kill(`cannot run ${label} (${command}): ${error.message}`));
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      limits.signal.removeEventListener('abort', onAbort);
      if (failure !== undefined) reject(failure);
      else resolve({ code, signal, stdout: stdout.text(), stderr: stderr.text() });
    });
  });
}

/**
 * SIGKILL to the process group led by `pid`; a group already gone is fine. Called only before the
 * step's 'close': until then its group holds on to the id, so the signal cannot reach a stranger.
 */
function killGroup (pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group has no process left.
  }
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
