import { readFile } from 'node:fs/promises';
import { createHistogram, performance } from 'node:perf_hooks';
import { buffer } from 'node:stream/consumers';
import type { ClientInvokeResult, SpringbokClient } from '../client.ts';
import { clusterServersProblem, kDefaultClusterTimeoutMs } from '../../engine/cluster/servers.ts';
import { ExitCode, integerFlag, kAddressHelp, kAddressOption, parse, requestFailed, resolveAddress, usageError, withClient, withClusterClient, type CliIo, type Command } from './common.ts';

const help = `Usage: springbok execute <name> [input] [options]

Invokes a function and writes its output bytes to stdout, exactly.
On failure the error code and message go to stderr, e.g. "ERR_CPU_BUDGET: ...", and the exit status is 1.

Options:
${kAddressHelp}
  --cluster URLS         call through a cluster's NATS servers (comma-separated nats://HOST:PORT; default:
                         $SPRINGBOK_CLUSTER) instead of an engine's socket: any engine that has room answers
  --timeout-ms MS        with --cluster: how long a call waits for its answer (default ${kDefaultClusterTimeoutMs}); past it the
                         call fails with ERR_CONNECTION
  --input-file FILE      read the input from FILE (- for standard input) instead of the argument
  -n N                   run N invocations and print a summary: outputs, errors, latency p50/p99, throughput
  --concurrency C        with -n: at most C invocations in flight (default: N, at most 256)
  --json                 one JSON object per invocation: {ok, output, error, usage, latencyMs}; with -n a summary object last
  --logs                 also write the function's log lines to stderr
`;

/** What execute needs of a client: an engine's socket (SpringbokClient) or a cluster (ClusterClient). */
type Invoker = Pick<SpringbokClient, 'invoke'>;

interface Timed {
  readonly result: ClientInvokeResult;
  readonly latencyMs: number;
}

export const executeCommand: Command = {
  summary: 'invoke a function: execute <name> [input] [-n N]',
  help,
  async run (args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(args, {
      ...kAddressOption,
      cluster: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'input-file': { type: 'string' },
      n: { type: 'string', short: 'n' },
      concurrency: { type: 'string' },
      json: { type: 'boolean' },
      logs: { type: 'boolean' },
    }, help);
    const [name, inputArgument, ...extra] = positionals;
    if (name === undefined || extra.length > 0) throw usageError('execute needs <name> and at most one [input]', help);
    if (inputArgument !== undefined && values['input-file'] !== undefined) throw usageError('give the input as an argument or with --input-file, not both', help);
    const input = await readInput(inputArgument, values['input-file'], help);
    const count = integerFlag(values, 'n', 1, 1, help);
    const concurrency = integerFlag(values, 'concurrency', Math.min(count, 256), 1, help);
    const json = values.json === true;
    const cluster = typeof values.cluster === 'string' ? values.cluster : io.env.SPRINGBOK_CLUSTER || undefined;
    const clusterProblem = cluster === undefined ? undefined : clusterServersProblem(cluster);
    if (clusterProblem !== undefined) throw usageError(`--cluster ${clusterProblem}`, help);
    const timeoutMs = integerFlag(values, 'timeout-ms', kDefaultClusterTimeoutMs, 1, help);

    const run = async (client: Invoker): Promise<number> => {
      if (values.n === undefined) {
        const timed = await invokeTimed(client, name, input);
        printOne(io, timed, json, values.logs === true, true);
        return timed.result.ok ? ExitCode.ok : ExitCode.functionFailed;
      }
      const startedAt = performance.now();
      const results = await runMany(client, name, input, count, concurrency, (timed) => {
        if (json) printOne(io, timed, true, false, false);
        if (values.logs === true) for (const line of timed.result.logs) io.stderr.write(`${line}\n`);
      });
      printSummary(io, results, performance.now() - startedAt, concurrency, json);
      return results.every((timed) => timed.result.ok) ? ExitCode.ok : ExitCode.functionFailed;
    };
    const done = cluster === undefined ? withClient(resolveAddress(values.socket, io.env, help), run) : withClusterClient(cluster, timeoutMs, run);
    return done.catch((error: unknown) => { throw requestFailed(error); });
  },
};

async function readInput (argument: string | undefined, file: unknown, help: string): Promise<Uint8Array> {
  if (typeof file !== 'string') return Buffer.from(argument ?? '');
  try {
    return file === '-' ? await buffer(process.stdin) : await readFile(file);
  } catch (error) {
    throw usageError(`cannot read ${file}: ${(error as Error).message}`, help);
  }
}

async function invokeTimed (client: Invoker, name: string, input: Uint8Array): Promise<Timed> {
  const startedAt = performance.now();
  const result = await client.invoke(name, input);
  return { result, latencyMs: performance.now() - startedAt };
}

/** N invocations over one pipelined connection, at most `concurrency` in flight. */
async function runMany (client: Invoker, name: string, input: Uint8Array, count: number, concurrency: number, onResult: (timed: Timed) => void): Promise<Timed[]> {
  const results: Timed[] = [];
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < count) {
      started++;
      const timed = await invokeTimed(client, name, input);
      results.push(timed);
      onResult(timed);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

function printOne (io: CliIo, timed: Timed, json: boolean, logs: boolean, outputToStdout: boolean): void {
  const { result } = timed;
  if (logs) for (const line of result.logs) io.stderr.write(`${line}\n`);
  if (json) {
    io.stdout.write(`${JSON.stringify(toJson(timed))}\n`);
  } else if (result.ok) {
    if (outputToStdout) io.stdout.write(result.output);
  } else {
    io.stderr.write(`${result.error.code}: ${result.error.message}\n`);
  }
}

function toJson ({ result, latencyMs }: Timed): Record<string, unknown> {
  const base = { ok: result.ok, usage: result.usage, latencyMs: Math.round(latencyMs * 1000) / 1000 };
  if (!result.ok) return { ...base, output: null, error: result.error };
  const text = result.output.toString('utf8');
  // Output is bytes; JSON carries it as text when it is valid UTF-8, else as base64.
  return Buffer.from(text, 'utf8').equals(result.output)
    ? { ...base, output: text, error: null }
    : { ...base, output: null, outputBase64: result.output.toString('base64'), error: null };
}

function printSummary (io: CliIo, results: Timed[], elapsedMs: number, concurrency: number, json: boolean): void {
  const histogram = createHistogram();
  const outputs = new Map<string, number>();
  const errors = new Map<string, number>();
  let ok = 0;
  for (const { result, latencyMs } of results) {
    histogram.record(Math.max(1, Math.round(latencyMs * 1000)));
    if (result.ok) {
      ok++;
      const key = result.output.toString('utf8');
      outputs.set(key, (outputs.get(key) ?? 0) + 1);
    } else {
      errors.set(result.error.code, (errors.get(result.error.code) ?? 0) + 1);
    }
  }
  const ms = (percentile: number): number => histogram.percentile(percentile) / 1000;
  const summary = {
    invocations: results.length,
    ok,
    failed: results.length - ok,
    concurrency,
    elapsedMs: Math.round(elapsedMs * 1000) / 1000,
    perSecond: Math.round(results.length / (elapsedMs / 1000)),
    latencyMs: { p50: ms(50), p90: ms(90), p99: ms(99), max: histogram.max / 1000 },
    errors: Object.fromEntries(errors),
  };
  if (json) {
    io.stdout.write(`${JSON.stringify({ summary })}\n`);
    return;
  }
  io.stdout.write(`${summary.invocations} invocations (concurrency ${concurrency}): ${ok} ok, ${summary.failed} failed in ${summary.elapsedMs.toFixed(1)} ms, ${summary.perSecond} invocations/s\n`);
  io.stdout.write(`latency ms: p50 ${summary.latencyMs.p50.toFixed(3)}  p90 ${summary.latencyMs.p90.toFixed(3)}  p99 ${summary.latencyMs.p99.toFixed(3)}  max ${summary.latencyMs.max.toFixed(3)}\n`);
  const shown = [...outputs.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10);
  for (const [output, n] of shown) io.stdout.write(`output ×${n}: ${JSON.stringify(output.length > 200 ? `${output.slice(0, 200)}…` : output)}\n`);
  if (outputs.size > shown.length) io.stdout.write(`(${outputs.size - shown.length} more distinct outputs)\n`);
  for (const [code, n] of errors) io.stdout.write(`error ×${n}: ${code}\n`);
}
