import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

const cli = new URL('../../bin/springbok.ts', import.meta.url).pathname;

/** A real `springbok serve` process on a temporary socket and data dir, for benchmarks. */
export async function startEngine (extraArgs: string[] = []): Promise<{ socketPath: string, child: ChildProcess, stop: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'springbok-bench-'));
  const socketPath = join(dir, 'engine.sock');
  const child = spawn(process.execPath, [cli, 'serve', '--socket', socketPath, '--data-dir', join(dir, 'data'), ...extraArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  // An engine must not outlive its benchmark (it would also hold the benchmark's stderr open).
  const killOnExit = (): void => { child.kill('SIGKILL'); };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => { seen += chunk.toString(); if (seen.includes('springbok ready')) resolve(); });
    child.once('exit', (code) => reject(new Error(`engine exited with ${code}`)));
  });
  return {
    socketPath,
    child,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
