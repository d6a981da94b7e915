import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

export const kRoot = new URL('../../', import.meta.url).pathname;
export const kCli = join(kRoot, 'bin', 'springbok.ts');

/** A temporary directory removed by dispose. */
export async function temporaryDir (prefix = 'springbok-test-'): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

export interface EngineProcess extends AsyncDisposable {
  readonly child: ChildProcess;
  readonly socketPath: string;
  readonly dataDir: string;
  /** The "springbok ready ..." line, e.g. to find the HTTP address (`http=HOST:PORT`). */
  readonly readyLine: string;
  /** stderr so far, for failure messages. */
  stderr (): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop (): Promise<number | null>;
}

/** Starts `springbok serve` as a real child process and waits for its ready line. */
export async function startEngineProcess (options: { dir: string, dataDir?: string, extraArgs?: string[], env?: NodeJS.ProcessEnv }): Promise<EngineProcess> {
  const socketPath = join(options.dir, `engine-${Math.random().toString(36).slice(2)}.sock`);
  const dataDir = options.dataDir ?? join(options.dir, 'data');
  const child = spawn(process.execPath, [kCli, 'serve', '--socket', socketPath, '--data-dir', dataDir, ...(options.extraArgs ?? [])], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`engine did not start in 20 s; stderr: ${stderr}`)), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('springbok ready')) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`engine exited with ${code} before it was ready; stderr: ${stderr}`)); });
  });
  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited as [number | null];
    return code;
  };
  const readyLine = stdout.split('\n').find((line) => line.startsWith('springbok ready')) ?? '';
  return { child, socketPath, dataDir, readyLine, stderr: () => stderr, stop, [Symbol.asyncDispose]: async () => { await stop(); } };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real CLI as a child process. */
export async function runCli (args: string[], options: { env?: NodeJS.ProcessEnv, input?: string } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [kCli, ...args], { stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  if (options.input !== undefined) child.stdin!.end(options.input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const [code] = await once(child, 'close') as [number | null];
  return { code, stdout, stderr };
}

export function example (path: string): string {
  return join(kRoot, 'examples', path);
}

/** The base URL of an engine started with `--http`, read from its ready line. */
export function httpBase (engine: EngineProcess): string {
  const address = /\bhttp=(\S+)/.exec(engine.readyLine)?.[1];
  if (address === undefined) throw new Error(`the engine's ready line names no HTTP address: ${engine.readyLine}`);
  return `http://${address}`;
}
