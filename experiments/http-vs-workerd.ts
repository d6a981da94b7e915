#!/usr/bin/env node
/**
 * `springbok serve --http` against workerd serving the same ES module, over loopback HTTP, in one
 * run: an echo and fib(20), on springbok's `js`, `quickjs` and `c` and on workerd, at 1, 16 and 64
 * keep-alive connections. The load generator is wrk when it is installed (a C client: it costs
 * the shared cores far less per request than a Node one, so it disturbs the servers less), else
 * autocannon; the result names the one used. The servers are interleaved: each point is measured
 * in several short rounds, the targets in a rotating order, so drift in the machine's load falls
 * on all of them alike. Headline: springbok ÷ workerd for req/s, p50 and p99.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEngine } from './lib/engine-child.ts';
import { httpLoad } from './lib/http-load.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';
import { freePort, startWorkerd, type WorkerdServer } from './lib/workerd-server.ts';

// The flags only this experiment takes, read and removed before the common ones are parsed.
const workersAt = process.argv.indexOf('--workers');
const engineArgs = workersAt > 0 ? ['--workers', process.argv[workersAt + 1]!] : [];
const forceAutocannon = process.argv.includes('--autocannon');
process.argv = process.argv.filter((arg, i) => arg !== '--autocannon' && (workersAt < 0 || (i !== workersAt && i !== workersAt + 1)));
const args = experimentArgs('http-vs-workerd', 'Usage: node experiments/http-vs-workerd.ts [--quick] [--workers N] [--autocannon]\n\nspringbok serve --http (js, quickjs, c) against workerd serving the same module: echo and fib(20) at 1, 16 and 64 connections, with wrk (autocannon when wrk is missing or --autocannon is given), interleaved; req/s, p50, p99 and springbok ÷ workerd ratios.');
const q = args.quick;
const connectionCounts = q ? [16] : [1, 16, 64];
const rounds = q ? 1 : 3;
const roundMs = q ? 400 : 3000;
const warmupMs = q ? 200 : 1000;
const languages = q ? ['js'] : ['js', 'quickjs', 'c'];
const kFibN = '20';
const kEcho = 'hello';

const wrk = forceAutocannon ? undefined : findWrk();
const header = machineHeader();
console.log(JSON.stringify(header));
const loadAtStart = loadavg();
console.log(`load generator: ${wrk ?? 'autocannon'}`);

const ex = (path: string): string => new URL(`../examples/${path}`, import.meta.url).pathname;
const echoJs = 'export default function (input) { return input; }\n';
const echoC = '#include <springbok.h>\nint handler(const char *input, size_t len) { sb_output(input, len); return 0; }\n';
const sources: Record<string, Record<string, Buffer>> = {
  echo: { js: Buffer.from(echoJs), c: Buffer.from(echoC) },
  fib: { js: await readFile(ex('js/fib.js')), c: await readFile(ex('c/fib.c')) },
};
const workloads = [{ fn: 'echo', input: kEcho, expected: kEcho }, { fn: 'fib', input: kFibN, expected: '6765' }];

const dir = await mkdtemp(join(tmpdir(), 'springbok-http-vs-workerd-'));
const port = await freePort();
const engine = await startEngine(['--http', `127.0.0.1:${port}`, ...engineArgs]);
const base = `http://127.0.0.1:${port}`;
let workerd: WorkerdServer | undefined;
let workerdError: string | undefined;

interface Sample { perSecond: number, p50: number, p99: number, failures: number }
interface Row { function: string, server: string, connections: number, perSecond: number, latencyMs: { p50: number, p99: number }, failures: number, rounds: Sample[] }
const rows: Row[] = [];
try {
  for (const { fn } of workloads) {
    for (const language of languages) await deploy(`${fn}-${language}`, language, sources[fn]![language === 'quickjs' ? 'js' : language]!);
  }
  await writeFile(join(dir, 'echo.js'), echoJs);
  try {
    workerd = await startWorkerd(await mkdtemp(join(dir, 'workerd-')), { echo: join(dir, 'echo.js'), fib: ex('js/fib.js') }, { path: '/echo', body: kEcho, expected: kEcho });
  } catch (error) {
    workerdError = (error as Error).message.split('\n')[0];
    console.log(`workerd skipped: ${workerdError}`);
  }
  for (const { fn, input, expected } of workloads) {
    const targets = [
      ...(workerd === undefined ? [] : [{ server: 'workerd', url: `${workerd.url}/${fn}` }]),
      ...languages.map((language) => ({ server: `springbok ${language}`, url: `${base}/functions/${fn}-${language}` })),
    ];
    for (const target of targets) await expectAnswer(target.url, input, expected);
    for (const connections of connectionCounts) {
      const samples = new Map<string, Sample[]>(targets.map((target) => [target.server, []]));
      for (const target of targets) await load(target.url, input, connections, warmupMs);
      for (let round = 0; round < rounds; round++) {
        // Rotating the order each round: no server is always measured right after the same other one.
        for (let i = 0; i < targets.length; i++) {
          const target = targets[(i + round) % targets.length]!;
          samples.get(target.server)!.push(await load(target.url, input, connections, roundMs));
        }
      }
      for (const target of targets) {
        const measured = samples.get(target.server)!;
        const row: Row = { function: fn, server: target.server, connections, perSecond: median(measured.map((s) => s.perSecond)), latencyMs: { p50: median(measured.map((s) => s.p50)), p99: median(measured.map((s) => s.p99)) }, failures: measured.reduce((sum, s) => sum + s.failures, 0), rounds: measured };
        rows.push(row);
        console.log(`${fn.padEnd(4)} c=${String(connections).padStart(2)} ${target.server.padEnd(17)} ${String(row.perSecond).padStart(7)} req/s  p50 ${row.latencyMs.p50.toFixed(3)} ms  p99 ${row.latencyMs.p99.toFixed(3)} ms  failures ${row.failures}`);
      }
    }
  }
} finally {
  await workerd?.stop();
  await engine.stop();
  await rm(dir, { recursive: true, force: true });
}

const ratios = rows.filter((row) => row.server !== 'workerd').flatMap((row) => {
  const reference = rows.find((r) => r.server === 'workerd' && r.function === row.function && r.connections === row.connections);
  if (reference === undefined) return [];
  const round3 = (x: number): number => Math.round(x * 1000) / 1000;
  return [{ function: row.function, server: row.server, connections: row.connections, perSecond: round3(row.perSecond / reference.perSecond), p50: round3(row.latencyMs.p50 / reference.latencyMs.p50), p99: round3(row.latencyMs.p99 / reference.latencyMs.p99) }];
});
for (const ratio of ratios) console.log(`${ratio.function.padEnd(4)} c=${String(ratio.connections).padStart(2)} ${ratio.server.padEnd(17)} ÷ workerd: req/s ${ratio.perSecond}x  p50 ${ratio.p50}x  p99 ${ratio.p99}x`);
await writeResult(args.out, {
  experiment: 'http-vs-workerd', quick: q, machine: header, loadAverage: { start: loadAtStart, end: loadavg() },
  loadGenerator: wrk === undefined ? 'autocannon' : 'wrk', engineArgs, rounds, roundMs, warmupMs, fibN: Number(kFibN),
  workerd: workerdError === undefined ? 'ran' : `skipped: ${workerdError}`, rows, ratios,
});

/** Measures one target for `durationMs`: req/s, p50 and p99 in milliseconds, and failed requests. */
async function load (url: string, body: string, connections: number, durationMs: number): Promise<Sample> {
  if (wrk !== undefined) return wrkLoad(wrk, url, body, connections, durationMs);
  const result = await httpLoad(url, body, connections, durationMs);
  const latency = summarize(result.latenciesMs);
  return { perSecond: result.perSecond, p50: latency.p50, p99: latency.p99, failures: result.failures };
}

/**
 * wrk with one thread (the other core is the server's), POSTing `body`; its latency percentiles
 * are read from the `--latency` report, which gives microseconds.
 */
async function wrkLoad (command: string, url: string, body: string, connections: number, durationMs: number): Promise<Sample> {
  const script = join(dir, 'post.lua');
  await writeFile(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "text/plain"\n`);
  const child = spawn(command, ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(durationMs / 1000))}s`, '--latency', '-s', script, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const [code] = await once(child, 'close') as [number | null];
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${output}`);
  const perSecond = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(output);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(output);
  if (perSecond === null || p50 === null || p99 === null) throw new Error(`unreadable wrk report: ${output}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const failures = Number(non2xx?.[1] ?? 0) + (errors === null ? 0 : errors.slice(1).reduce((sum, n) => sum + Number(n), 0));
  return { perSecond: Math.round(Number(perSecond[1])), p50: toMs(p50), p99: toMs(p99), failures };
}

function toMs (match: RegExpExecArray): number {
  const value = Number(match[1]);
  const ms = match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
  return Math.round(ms * 1000) / 1000;
}

/** The wrk binary on the PATH, or undefined (then autocannon measures). */
function findWrk (): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function expectAnswer (url: string, input: string, expected: string): Promise<void> {
  const response = await fetch(url, { method: 'POST', body: input });
  const text = await response.text();
  if (text !== expected) throw new Error(`${url} answered ${response.status} ${JSON.stringify(text)}, expected ${JSON.stringify(expected)}`);
}

async function deploy (name: string, language: string, source: Uint8Array): Promise<void> {
  const response = await fetch(`${base}/functions/${name}?language=${language}`, { method: 'PUT', body: source });
  if (response.status !== 200) throw new Error(`deploy ${name}: ${response.status} ${await response.text()}`);
}

// Keep-alive sockets of the load generators would hold the event loop open after the results are written.
process.exit(process.exitCode ?? 0);
