import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import { budgetFromStrings, kBudgetFields, kBudgetLists } from '../budget-fields.ts';
import type { ClusterClient } from '../../engine/cluster/cluster-client.ts';
import { connectCluster, SpringbokClient, type EngineAddress } from '../client.ts';
import { parseAddress } from './config.ts';

/**
 * Exit statuses of every client command, as the README's "Use it" lists them. `closedPipe` is
 * 128 + SIGPIPE, what a shell reports for a writer whose reader closed the pipe early.
 */
export const ExitCode = { ok: 0, functionFailed: 1, usage: 2, closedPipe: 141 } as const;

/** Ends a command with an exit status and a message for stderr. */
export class CliExit extends Error {
  readonly exitCode: number;
  constructor (exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

export function usageError (message: string, help: string): CliExit {
  return new CliExit(ExitCode.usage, `${message}\n\n${help}`);
}

/** What a command writes to and reads its environment from: bin/springbok.ts passes the process's own. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

export interface Command {
  readonly summary: string;
  readonly help: string;
  run (args: string[], io: CliIo): Promise<number>;
}

/** parseArgs with our usage-error convention; `--help` is handled by the caller. */
export function parse<T extends ParseArgsConfig['options']> (args: string[], options: T, help: string): { values: Record<string, unknown>, positionals: string[] } {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError((error as Error).message, help);
  }
}

export const kAddressOption = { socket: { type: 'string' }, token: { type: 'string' } } as const;

export const kAddressHelp = `  --socket PATH          the engine's unix socket, or tcp://HOST:PORT (default: $SPRINGBOK_SOCKET, else ${defaultSocketPath({})})
  --token TOKEN          the engine's deploy token, for deploy and remove (default: $SPRINGBOK_TOKEN)`;

/** The default unix socket: per user, so two users on one machine do not meet. */
export function defaultSocketPath (env: NodeJS.ProcessEnv): string {
  return env.SPRINGBOK_SOCKET ?? join(tmpdir(), `springbok-${userInfo().uid}.sock`);
}

export function defaultDataDir (env: NodeJS.ProcessEnv): string {
  return env.SPRINGBOK_DATA_DIR ?? join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'springbok');
}

/** `--socket` value (or environment, or default) as an address; tcp://HOST:PORT selects TCP. */
export function resolveAddress (value: unknown, env: NodeJS.ProcessEnv, help: string): EngineAddress {
  const text = typeof value === 'string' ? value : defaultSocketPath(env);
  if (text.startsWith('tcp://')) return parseHostPort(text.slice('tcp://'.length), '--socket', help);
  return { socketPath: text };
}

/** HOST:PORT, [IPv6]:PORT or PORT alone (loopback). */
export function parseHostPort (text: string, flag: string, help: string): { host: string, port: number } {
  const address = parseAddress(text);
  if (address === undefined) throw usageError(`${flag} must be HOST:PORT: got ${JSON.stringify(text)}`, help);
  return address;
}

/** deploy's budget flags, from the names every front shares (budget-fields.ts). */
export const kBudgetOptions: NonNullable<ParseArgsConfig['options']> = Object.fromEntries([
  ...kBudgetFields.map((field) => [field.name, { type: 'string' }] as const),
  ...kBudgetLists.map((list) => [list.name, { type: 'string', multiple: true }] as const),
]);

export const kBudgetHelp = `Budget (per invocation unless said; defaults in doc/budgets.md):
  --cpu-ms N             CPU time in ms
  --wall-ms N            wall-clock time in ms, queueing and waits included
  --memory-mb N          memory in MiB
  --net-requests N       outbound requests
  --net-bytes N          outbound bytes, both directions
  --net-rate N           bytes per second across all invocations of the function (0 = unlimited)
  --allow-host HOST      a host (or host:port) the function may reach; repeatable; none by default`;

/** Budget flags to a partial budget; the engine validates ranges and fills defaults. */
export function budgetFromFlags (values: Record<string, unknown>, help: string): Partial<Budget> {
  return budgetFromStrings((name) => values[name], (name) => values[name] as string[] | undefined, (name, text) => usageError(`--${name} must be a number: got ${JSON.stringify(text)}`, help));
}

/** A positive integer flag, or the fallback when absent. */
export function integerFlag (values: Record<string, unknown>, flag: string, fallback: number, min: number, help: string): number {
  const text = values[flag];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (typeof text !== 'string' || !Number.isInteger(value) || value < min) throw usageError(`--${flag} must be an integer of at least ${min}: got ${JSON.stringify(text)}`, help);
  return value;
}

/** Connects, runs `work`, closes; an unreachable engine is a usage-class failure (exit 2). */
export async function withClient<T> (address: EngineAddress, work: (client: SpringbokClient) => Promise<T>, token?: string): Promise<T> {
  let client: SpringbokClient;
  try {
    client = await SpringbokClient.connect(address, token === undefined ? {} : { token });
  } catch (error) {
    throw new CliExit(ExitCode.usage, `${(error as Error).message}\n(is the engine running? start it with: springbok serve)`);
  }
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/** withClient for a cluster: connects to its NATS servers (loading the NATS client only now), runs `work`, closes. */
export async function withClusterClient<T> (servers: string, timeoutMs: number, work: (client: ClusterClient) => Promise<T>): Promise<T> {
  let client: ClusterClient;
  try {
    client = await connectCluster(servers, { timeoutMs });
  } catch (error) {
    throw new CliExit(ExitCode.usage, `${(error as Error).message}\n(is the cluster running? see doc/cluster.md)`);
  }
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/** `--token`, else SPRINGBOK_TOKEN. */
export function resolveToken (value: unknown, env: NodeJS.ProcessEnv): string | undefined {
  return typeof value === 'string' ? value : env.SPRINGBOK_TOKEN;
}

/** A request error from the engine (unknown function, bad argument, ...) as a command failure. */
export function requestFailed (error: unknown): CliExit {
  if (error instanceof EngineError) {
    const exitCode = error.code === 'ERR_CONNECTION' || error.code === 'ERR_INVALID_ARGUMENT' || error.code === 'ERR_UNKNOWN_LANGUAGE' || error.code === 'ERR_UNAUTHORIZED' ? ExitCode.usage : ExitCode.functionFailed;
    return new CliExit(exitCode, `${error.code}: ${error.message}`);
  }
  return error instanceof CliExit ? error : new CliExit(ExitCode.functionFailed, String(error));
}
