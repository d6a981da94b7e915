#!/usr/bin/env node
/**
 * The cluster on NATS (doc/cluster.md), on this one machine: 3 nats-server processes clustered with
 * JetStream on loopback, and 1, 2, then 3 engines (`serve --cluster`, one scheduler thread each)
 * taking calls from the queue group. Four measurements:
 *  1. throughput and p50/p99 through NATS with 1, 2 and 3 engines, a CPU-bound function (lua54
 *     fib) at concurrency 8 and a trivial one (sm echo) at 64. The engines share this machine's
 *     cores, so more engines cannot mean more CPU here: the figures are also given per core.
 *  2. the NATS hop against the engine's own unix socket, one engine, interleaved rounds (echo at
 *     concurrency 1 for latency, 64 for throughput).
 *  3. how a request names its function: a subject per function under one wildcard queue
 *     subscription (what springbok does), against one subject with the name in a header, on bare
 *     NATS responders (no engine), interleaved rounds.
 *  4. deploys: many small functions deployed through one engine (each acknowledged once the R3
 *     KV write is), the time until every engine serves them, and how long a new engine takes to
 *     start with all of them in the bucket.
 *  5. failover: a steady echo load through NATS while one of 3 engines is killed with SIGKILL:
 *     calls lost (they wait for the caller's timeout and are retried once), and how soon calls
 *     started after the kill succeed again.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect, headers } from '@nats-io/transport-node';
import { SpringbokClient } from '../dispatchers/client.ts';
import { ClusterClient } from '../engine/cluster/cluster-client.ts';
import { findNatsServer, LocalNatsCluster } from '../engine/cluster/local-nats-cluster.ts';
import { EngineError } from '../engine/errors.ts';
import { startEngine } from './lib/engine-child.ts';
import { runFor, type LoadResult } from './lib/load-loop.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('cluster', 'Usage: node experiments/cluster.ts [--quick]\n\nA 3-server NATS cluster and 1, 2, 3 engines on this machine: throughput and p50/p99 through NATS (CPU-bound and trivial), the NATS hop against the local socket, subject-per-function against name-in-a-header routing, and the calls lost and recovery time when an engine is killed under load.');
const q = args.quick;
const measureMs = q ? 300 : 4000;
const warmUpMs = q ? 100 : 1000;
const rounds = q ? 2 : 6;
const header = machineHeader();
console.log(JSON.stringify(header));
const loadAtStart = loadavg();
const cores = availableParallelism();

if (findNatsServer() === undefined) {
  const skipped = 'nats-server is not installed (on Debian: apt-get install -y nats-server)';
  console.log(`skipped: ${skipped}`);
  await writeResult(args.out, { experiment: 'cluster', quick: q, machine: header, skipped });
  process.exit(0);
}

const workloads = [
  { name: 'fib-lua54', language: 'lua54', source: await readFile(new URL('../examples/lua/fib.lua', import.meta.url)), input: '18', expected: '2584', kind: 'cpu', concurrency: 8 },
  { name: 'echo-sm', language: 'sm', source: Buffer.from('        outin\n        halt\n'), input: 'hello', expected: 'hello', kind: 'trivial', concurrency: 64 },
] as const;

// Interrupted, it still ends its engines and NATS servers (they are killed on exit).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
const dir = await mkdtemp(join(tmpdir(), 'springbok-cluster-bench-'));
const nats = await LocalNatsCluster.start(dir, 3);
const engines: Awaited<ReturnType<typeof startEngine>>[] = [];
const startClusterEngine = async (): Promise<void> => { engines.push(await startEngine(['--cluster', nats.urls, '--workers', '1'])); };
const caller = await ClusterClient.connect(nats.urls, { timeoutMs: 5_000 });
const callOk = (client: { invoke: ClusterClient['invoke'] }, name: string, input: string, expected: string) => async (): Promise<boolean> => {
  const result = await client.invoke(name, input);
  return result.ok && result.output.toString() === expected;
};
/** CPU time the nats-server processes have used so far, in ms (user + system, from /proc; clock ticks are 10 ms). */
const natsCpuMs = (): number => nats.servers.reduce((sum, server) => {
  const pid = server.process?.pid;
  if (pid === undefined) return sum;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return sum + (Number(fields[11]) + Number(fields[12])) * 10;
}, 0);
const row = (load: LoadResult): { perSecond: number, failures: number, latencyMs: ReturnType<typeof summarize> } => ({ perSecond: load.perSecond, failures: load.failures, latencyMs: summarize(load.latenciesMs) });

try {
  // ---- 1. throughput with 1, 2 and 3 engines -----------------------------------------------------
  const scaling: Record<string, unknown>[] = [];
  // What the three servers spend with no calls (RAFT heartbeats of the R3 buckets, pings), subtracted below.
  const idleWindowMs = q ? 500 : 3_000;
  const idleCpuBefore = natsCpuMs();
  await new Promise((resolve) => setTimeout(resolve, idleWindowMs));
  const natsIdleCpuMsPerSecond = Math.round((natsCpuMs() - idleCpuBefore) / idleWindowMs * 1000);
  console.log(`nats-server idle: ${natsIdleCpuMsPerSecond} ms CPU per second (3 servers)`);
  for (let count = 1; count <= 3; count++) {
    await startClusterEngine();
    if (count === 1) {
      const deployer = await SpringbokClient.connect({ socketPath: engines[0]!.socketPath });
      for (const workload of workloads) await deployer.deploy(workload.name, workload.language, workload.source);
      await deployer.close();
    }
    for (const workload of workloads) {
      const call = callOk(caller, workload.name, workload.input, workload.expected);
      // The newest engine compiles the functions as their records arrive; the warm-up lets it finish.
      await runFor(warmUpMs, workload.concurrency, call);
      const cpuBefore = natsCpuMs();
      const loadStartedAt = performance.now();
      const load = await runFor(measureMs, workload.concurrency, call);
      // What the NATS servers spend per call (request and reply, routes between servers included), over their idle rate: the capacity model's unit.
      const natsBusyCpuMs = natsCpuMs() - cpuBefore - natsIdleCpuMsPerSecond * (performance.now() - loadStartedAt) / 1000;
      const natsCpuUsPerCall = Math.round(Math.max(0, natsBusyCpuMs) * 1000 / Math.max(1, load.latenciesMs.length));
      const measured = row(load);
      scaling.push({ engines: count, function: workload.name, kind: workload.kind, concurrency: workload.concurrency, ...measured, perSecondPerCore: Math.round(measured.perSecond / Math.min(count, cores)), natsCpuUsPerCall });
      console.log(`engines=${count} ${workload.name.padEnd(9)} c=${String(workload.concurrency).padStart(2)}: ${String(measured.perSecond).padStart(6)} /s  p50 ${measured.latencyMs.p50} ms  p99 ${measured.latencyMs.p99} ms  failures ${measured.failures}  nats-server CPU ${natsCpuUsPerCall} us/call`);
    }
  }

  // ---- 2. the NATS hop against the local socket (one engine taking calls) ------------------------
  // Engines 2 and 3 go; the first one is reached both ways, in alternating rounds.
  for (const engine of engines.splice(1)) await engine.stop();
  const socket = await SpringbokClient.connect({ socketPath: engines[0]!.socketPath });
  const hop: Record<string, { latencyMs: number[], perSecond: number[] }> = {};
  for (let round = 0; round < rounds; round++) {
    for (const [path, client] of [['socket', socket], ['nats', caller]] as const) {
      for (const concurrency of [1, 64]) {
        const load = await runFor(measureMs / 2, concurrency, callOk(client, 'echo-sm', 'hello', 'hello'));
        const key = `${path} c=${concurrency}`;
        hop[key] ??= { latencyMs: [], perSecond: [] };
        hop[key].latencyMs.push(...load.latenciesMs);
        hop[key].perSecond.push(load.perSecond);
      }
    }
  }
  await socket.close();
  const hopRows = Object.entries(hop).map(([key, samples]) => ({ path: key, latencyMs: summarize(samples.latencyMs), perSecondMedian: summarize(samples.perSecond).p50 }));
  for (const hopRow of hopRows) console.log(`hop ${hopRow.path.padEnd(12)}: p50 ${hopRow.latencyMs.p50} ms  p99 ${hopRow.latencyMs.p99} ms  median ${hopRow.perSecondMedian} /s`);

  // ---- 3. subject per function against a name in a header, bare NATS ----------------------------
  const responder = await connect({ servers: nats.servers[0]!.url });
  const requester = await connect({ servers: nats.servers[0]!.url });
  responder.subscribe('bench.fn.>', { queue: 'q', callback: (_error, message) => { message.respond(message.subject.slice('bench.fn.'.length)); } });
  responder.subscribe('bench.one', { queue: 'q', callback: (_error, message) => { message.respond(message.headers?.get('Function') ?? ''); } });
  await responder.flush();
  const routing: Record<string, number[]> = { 'subject per function': [], 'name in a header': [] };
  const routingRates: Record<string, number[]> = { 'subject per function': [], 'name in a header': [] };
  for (let round = 0; round < rounds; round++) {
    for (const style of Object.keys(routing)) {
      let i = 0;
      const load = await runFor(measureMs / 2, 16, async () => {
        const name = `fn-${i++ % 1000}`;
        const answer = style === 'subject per function'
          ? await requester.request(`bench.fn.${name}`, 'x', { timeout: 5_000 })
          : await requester.request('bench.one', 'x', { timeout: 5_000, headers: (() => { const h = headers(); h.set('Function', name); return h; })() });
        return answer.string() === name;
      });
      routing[style]!.push(...load.latenciesMs);
      routingRates[style]!.push(load.perSecond);
    }
  }
  await responder.drain();
  await requester.drain();
  const routingRows = Object.keys(routing).map((style) => ({ style, latencyMs: summarize(routing[style]!), perSecondMedian: summarize(routingRates[style]!).p50 }));
  for (const routingRow of routingRows) console.log(`routing ${routingRow.style.padEnd(21)}: p50 ${routingRow.latencyMs.p50} ms  p99 ${routingRow.latencyMs.p99} ms  median ${routingRow.perSecondMedian} /s`);

  // ---- 4. deploys: acknowledged, then served by every engine; a new engine loading them all ------
  await startClusterEngine();
  const deployCount = q ? 20 : 300;
  const deployer = await SpringbokClient.connect({ socketPath: engines[0]!.socketPath });
  const deployMs: number[] = [];
  const deployStartedAt = performance.now();
  for (let i = 0; i < deployCount; i++) {
    const startedAt = performance.now();
    await deployer.deploy(`many-${i}`, 'sm', Buffer.from(`        outs "${i}"\n        halt\n`));
    deployMs.push(performance.now() - startedAt);
  }
  const allAcknowledgedMs = performance.now() - deployStartedAt;
  await deployer.close();
  const lastName = `many-${deployCount - 1}`;
  const other = await SpringbokClient.connect({ socketPath: engines[1]!.socketPath });
  while (!(await other.list()).some((info) => info.name === lastName)) await new Promise((resolve) => setTimeout(resolve, 10));
  const servedEverywhereMs = performance.now() - deployStartedAt;
  await other.close();
  const newEngineStartedAt = performance.now();
  await startClusterEngine();
  const deploys = { functions: deployCount, source: 'sm, 2 lines', deployMs: summarize(deployMs), allAcknowledgedMs: Math.round(allAcknowledgedMs), servedByAnotherEngineMs: Math.round(servedEverywhereMs), newEngineReadyMs: Math.round(performance.now() - newEngineStartedAt), functionsInBucket: deployCount + workloads.length };
  console.log(`deploys: ${deployCount} acknowledged one after another, p50 ${deploys.deployMs.p50} ms p99 ${deploys.deployMs.p99} ms; all served by another engine ${deploys.servedByAnotherEngineMs} ms after the first was sent; a new engine ready with ${deploys.functionsInBucket} functions in ${deploys.newEngineReadyMs} ms`);

  // ---- 5. failover: kill -9 one of 3 engines under a steady load --------------------------------
  const timeoutMs = 1_000;
  const failoverCaller = await ClusterClient.connect(nats.urls, { timeoutMs });
  await runFor(warmUpMs, 16, callOk(failoverCaller, 'echo-sm', 'hello', 'hello'));
  const calls: { startedAt: number, endedAt: number, ok: boolean, code: string | undefined }[] = [];
  let killedAt = Infinity;
  const loadMs = q ? 1_500 : 4_000;
  const loadEnds = performance.now() + loadMs;
  setTimeout(() => { killedAt = performance.now(); engines[1]!.child.kill('SIGKILL'); }, loadMs / 3);
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (performance.now() < loadEnds) {
      const startedAt = performance.now();
      try {
        const result = await failoverCaller.invoke('echo-sm', 'hello');
        calls.push({ startedAt, endedAt: performance.now(), ok: result.ok, code: result.ok ? undefined : result.error.code });
      } catch (error) {
        calls.push({ startedAt, endedAt: performance.now(), ok: false, code: error instanceof EngineError ? error.code : String(error) });
      }
    }
  }));
  await failoverCaller.close();
  const failed = calls.filter((call) => !call.ok);
  const startedAfterKill = calls.filter((call) => call.startedAt >= killedAt);
  const firstFailureAfterKill = startedAfterKill.find((call) => !call.ok);
  const failover = {
    concurrency: 16,
    callerTimeoutMs: timeoutMs,
    calls: calls.length,
    failed: failed.length,
    failedCodes: Object.fromEntries([...new Set(failed.map((call) => call.code ?? 'wrong output'))].map((code): [string, number] => [code, failed.filter((call) => (call.code ?? 'wrong output') === code).length])),
    failedStartedBeforeKill: failed.filter((call) => call.startedAt < killedAt).length,
    failedStartedAfterKill: startedAfterKill.filter((call) => !call.ok).length,
    latencyOfCallsStartedAfterKillMs: summarize(startedAfterKill.map((call) => call.endedAt - call.startedAt)),
    // The calls lost were answered (with ERR_CONNECTION) one caller timeout after they were sent.
    lostCallsEndedAfterKillMs: summarize(failed.map((call) => call.endedAt - killedAt)),
    firstFailureStartedAfterKillMs: firstFailureAfterKill === undefined ? null : Math.round(firstFailureAfterKill.startedAt - killedAt),
    // Calls sent until NATS saw the dead engine's connection close still went to it.
    lastFailureStartedAfterKillMs: startedAfterKill.some((call) => !call.ok) ? Math.round(Math.max(...startedAfterKill.filter((call) => !call.ok).map((call) => call.startedAt)) - killedAt) : null,
  };
  console.log(`failover: ${failover.calls} calls, ${failover.failed} failed (${JSON.stringify(failover.failedCodes)}; ${failover.failedStartedBeforeKill} sent before the kill, ${failover.failedStartedAfterKill} after), calls sent after the kill: p50 ${failover.latencyOfCallsStartedAfterKillMs.p50} ms p99 ${failover.latencyOfCallsStartedAfterKillMs.p99} ms`);

  await writeResult(args.out, { experiment: 'cluster', quick: q, machine: header, loadAverage: { atStart: loadAtStart, atEnd: loadavg() }, natsServer: 'nats-server 2.9.10 (Debian), 3 servers clustered with JetStream, buckets R3', measureMs, rounds, natsIdleCpuMsPerSecond, scaling, hop: hopRows, routing: routingRows, deploys, failover });
} finally {
  await caller.close();
  for (const engine of engines) engine.child.kill('SIGKILL');
  await nats.stop();
  await rm(dir, { recursive: true, force: true });
}
