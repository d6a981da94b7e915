#!/usr/bin/env node
/**
 * HTTP invoke throughput and latency of `springbok serve --http`, with autocannon (keep-alive
 * connections, one request in flight each) against a trivial sm function (hello.sm) and a trivial
 * JavaScript function (echo); and, side by side in the same run with the same load generator, the
 * same JavaScript function served by workerd (Cloudflare's runtime). Both servers run on this
 * machine, loopback, one process each.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEngine } from './lib/engine-child.ts';
import { httpLoad } from './lib/http-load.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';
import { freePort, startWorkerd, type WorkerdServer } from './lib/workerd-server.ts';

const args = experimentArgs('http', 'Usage: node experiments/http.ts [--quick]\n\nHTTP invoke throughput and latency (p50/p99) of springbok serve --http for a trivial sm and js function, and the same js function on workerd, with autocannon at several connection counts.');
const connectionCounts = args.quick ? [16] : [1, 16, 64];
const durationMs = args.quick ? 1000 : 5000;
const warmupMs = args.quick ? 300 : 2000;
const kInput = 'world';
const kEchoSource = 'export default function (input) { return input; }\n';

const header = machineHeader();
console.log(JSON.stringify(header));
const dir = await mkdtemp(join(tmpdir(), 'springbok-http-bench-'));
const port = await freePort();
const engine = await startEngine(['--http', `127.0.0.1:${port}`]);
const base = `http://127.0.0.1:${port}`;
let workerd: WorkerdServer | undefined;
const rows: { server: string, function: string, connections: number, perSecond: number, failures: number, latencyMs: ReturnType<typeof summarize> }[] = [];
let workerdError: string | undefined;
try {
  await deploy('hello', 'sm', await readFile(new URL('../examples/sm/hello.sm', import.meta.url)));
  await deploy('echo', 'js', Buffer.from(kEchoSource));
  const echoPath = join(dir, 'echo.js');
  await writeFile(echoPath, kEchoSource);
  try {
    workerd = await startWorkerd(await mkdtemp(join(dir, 'workerd-')), { echo: echoPath }, { path: '/echo', body: kInput, expected: kInput });
  } catch (error) {
    workerdError = (error as Error).message.split('\n')[0];
    console.log(`workerd skipped: ${workerdError}`);
  }
  const targets = [
    { server: 'springbok http', function: 'sm hello', url: `${base}/functions/hello` },
    { server: 'springbok http', function: 'js echo', url: `${base}/functions/echo` },
    ...(workerd === undefined ? [] : [{ server: 'workerd', function: 'js echo', url: `${workerd.url}/echo` }]),
  ];
  for (const connections of connectionCounts) {
    for (const target of targets) {
      await httpLoad(target.url, kInput, connections, warmupMs);
      const result = await httpLoad(target.url, kInput, connections, durationMs);
      const row = { server: target.server, function: target.function, connections, perSecond: result.perSecond, failures: result.failures, latencyMs: summarize(result.latenciesMs) };
      rows.push(row);
      console.log(`${target.server.padEnd(15)} ${target.function.padEnd(9)} c=${String(connections).padStart(2)}: ${String(row.perSecond).padStart(7)} /s  p50 ${row.latencyMs.p50} ms  p99 ${row.latencyMs.p99} ms  failures ${row.failures}`);
    }
  }
} finally {
  await workerd?.stop();
  await engine.stop();
  await rm(dir, { recursive: true, force: true });
}
await writeResult(args.out, { experiment: 'http', quick: args.quick, machine: header, durationMsPerPoint: durationMs, warmupMs, input: kInput, workerd: workerdError === undefined ? 'ran' : `skipped: ${workerdError}`, rows });

async function deploy (name: string, language: string, source: Uint8Array): Promise<void> {
  const response = await fetch(`${base}/functions/${name}?language=${language}`, { method: 'PUT', body: source });
  if (response.status !== 200) throw new Error(`deploy ${name}: ${response.status} ${await response.text()}`);
}

// Keep-alive sockets of the load generators would hold the event loop open after the results are written.
process.exit(process.exitCode ?? 0);
