#!/usr/bin/env node
/**
 * Long tail: many deployed functions (100,000; mixed languages, mostly sm), called at a fixed rate
 * with Zipf(s = 1) popularity, as a platform's traffic is: a few functions take most calls, most
 * are called rarely or never. Each phase is a `springbok serve` child (two scheduler threads by
 * default) with its own --max-instance-memory ceiling; the first deploys the functions, the next
 * ones start on its data dir (so their start loads them all: the restart time at that count):
 *   - the issue's ceiling (4 GiB) for 100,000 functions;
 *   - a tight ceiling, far below what the called functions' instances are charged, so that idle
 *     instances are evicted and restored all the time;
 *   - eviction off (a ceiling of 1 TiB) at the largest count predicted to fit in 8 GiB of RSS.
 * Per phase: the deploy rate (pipelined over one connection) or the start time, the engine's RSS
 * empty, with every function deployed, and each second of the load (from /proc), the instance counters (live,
 * evictions, restores, charged bytes) from the stats op, latency p50/p99/max of every call and of
 * first calls (the function's first instantiation) against repeat calls, the cold-call fraction
 * ((first calls + restores) ÷ calls), failed calls and wrong answers (every answer names its
 * function and echoes its input, so each call is checked). After the load, a few functions never
 * called, a few of the most popular and a few called in the first half only are called one at a
 * time: the cold and warm paths' latency with the engine otherwise idle.
 *
 * The stats op reports every function's counters: at 100,000 functions it is a large answer that
 * holds the engine's main thread while it is built. So its interval grows with its measured cost,
 * and calls that overlapped one are counted apart ("perturbed"), to keep the measuring out of the
 * measured latency.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SpringbokClient } from '../dispatchers/client.ts';
import type { EngineStats } from '../engine/index.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { forEachBounded } from './lib/bounded.ts';
import { startEngine } from './lib/engine-child.ts';
import { kGiB, kMiB, processRss, settledRss } from './lib/memory.ts';
import { runOpenLoop } from './lib/open-loop.ts';
import { progress } from './lib/progress.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';
import { seededRandom } from './lib/seeded-random.ts';
import { shuffledIndices, ZipfSampler } from './lib/zipf.ts';

const args = experimentArgs('long-tail', `Usage: node experiments/long-tail.ts [--quick]

Deploys 100,000 functions (70% sm, 10% lua, 10% quickjs, 5% lua54, 5% c; c only with the clang
toolchain) into a \`springbok serve\` child and calls them at 50 calls/s for 2.5 minutes with
Zipf(1) popularity, under the issue's 4 GiB instance-memory ceiling, under a tight one (frequent
evictions) and with eviction off (at the largest count that fits in 8 GiB). Reports RSS over time,
latency p50/p99 (all, first and repeat calls), cold-call fraction, evictions, restores, failed calls
and wrong answers. About 15 minutes; --quick (300 functions, 5 s per phase) under a minute.`);
const q = args.quick;
const header = machineHeader();
console.log(JSON.stringify(header));
// The machine's cores may be shared (other test runs): the load averages go into the result.
const loadAtStart = loadavg();

const kFunctions = q ? 300 : 100_000;
// Every call of a new function instantiates it (quickjs ~10-15 ms, lua54 more), so the first
// minute is mostly cold starts. Before cold starts were spread over event-loop tasks
// (engine/cold-start-gate.ts), 150/s with 100,000 functions stalled the scheduler threads (10 s
// without a heartbeat), which were replaced, failing 31% of the calls; since, 150/s runs with none
// failed.
const kRatePerSecond = q ? 200 : 150;
const kLoadMs = q ? 5_000 : 150_000;
const kZipfS = 1.0;
const kSeed = 14;
const kSampleMs = 1_000;
const settleMs = q ? 200 : 500;
// Deploys in flight on the one connection: enough to keep both scheduler threads compiling.
const kDeployConcurrency = 32;
// C compiles run clang and wasm-ld (~90 ms each): the C functions share K sources, so K compiles and
// cache hits for the rest; each C function still answers with its source's constant.
const kCSources = q ? 2 : 32;
// Functions of each state called one at a time after the load.
const kProbesPerKind = q ? 5 : 100;
// Eviction off: a ceiling no load here comes near (MiB), and the RSS its function count must fit in.
const kNoEvictionCeilingMiB = 2 ** 20;
const kNoEvictionRssCapBytes = q ? 2 * kGiB : 8 * kGiB;
// A phase stops its load if the engine's RSS passes this (the machine is shared).
const kRssGuardBytes = 12 * kGiB;
// The stats op's interval: 20 times what one takes (5% of the main thread at most), 1 to 30 s.
const kStatsCostFactor = 20;
const kMaxStatsIntervalMs = 30_000;
// Calls spread over a few connections, as many clients would (one connection queues at most 4,096).
const kConnections = 4;

/** The language of function i: a fixed pattern of 100, so every count has the same mix. */
// C is 1%: a C deploy costs ~145 ms even when its source is a compile-cache hit (the module is
// instrumented and compiled again per deploy), 40 times an sm deploy.
const kMix: { language: string, share: number }[] = [
  { language: 'sm', share: 74 }, { language: 'lua', share: 10 }, { language: 'quickjs', share: 10 }, { language: 'lua54', share: 5 }, { language: 'c', share: 1 },
];
const toolchain = findToolchain();
const skipped: { language: string, reason: string }[] = [];
if ('missing' in toolchain) {
  skipped.push({ language: 'c', reason: `${toolchain.missing} (its share goes to sm)` });
  console.log(`skipped c: ${toolchain.missing}; its share goes to sm`);
}
const kPattern = kMix.flatMap(({ language, share }) => Array.from({ length: share }, () => language === 'c' && 'missing' in toolchain ? 'sm' : language));
const languageOf = (i: number): string => kPattern[i % kPattern.length]!;

/** What function i answers before its input: its own index, or for C its source's constant. */
function prefixOf (i: number): string {
  return languageOf(i) === 'c' ? `c${i % kCSources} ` : `f${i} `;
}

function source (i: number): string {
  const prefix = prefixOf(i);
  switch (languageOf(i)) {
    case 'sm': return `        outs "${prefix}"\n        outin\n`;
    case 'lua': case 'lua54': return `return function (input) return "${prefix}" .. input end\n`;
    case 'quickjs': return `export default (input) => "${prefix}" + input;\n`;
    case 'c': return `#include <springbok.h>\nint handler(const char *input, size_t len) { sb_output("${prefix}", ${prefix.length}); sb_output(input, len); return 0; }\n`;
    default: throw new Error(`no source for ${languageOf(i)}`);
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const mib = (bytes: number): string => `${(bytes / kMiB).toFixed(0)} MiB`;

interface Sample {
  readonly t: number;
  readonly rssBytes: number | null;
  readonly calls: number;
  readonly instances?: EngineStats['instances'];
  readonly statsMs?: number;
  readonly statsError?: string;
}

interface PhaseSpec {
  readonly name: string;
  readonly why: string;
  readonly ceilingMiB: number;
  readonly functions: number;
  readonly dataDir: string;
  /**
   * Absent: the phase deploys its functions into an empty data dir. Present: they are stored there
   * by an earlier phase, the engine loads them at start, and this is that earlier empty engine's RSS.
   */
  readonly storedBy?: { readonly emptyRssBytes: number };
}

/** Deploys functions 0..n-1, `kDeployConcurrency` in flight; a failure is recorded and the count cut to the gap-free prefix. */
async function deployAll (client: SpringbokClient, n: number, label: string, pid: number): Promise<{ functions: number, seconds: number, errors: { index: number, error: string }[] }> {
  const deployed = new Uint8Array(n);
  const errors: { index: number, error: string }[] = [];
  const bar = progress(label, n);
  const t0 = performance.now();
  await forEachBounded(0, n, kDeployConcurrency, async (i) => {
    try {
      await client.deploy(`f${i}`, languageOf(i), Buffer.from(source(i)));
      deployed[i] = 1;
    } catch (error) {
      if (errors.length < 10) errors.push({ index: i, error: (error as Error).message });
    }
  }, (done) => { if (done % 100 === 0) bar.update(done, mib(processRss(pid) ?? 0)); });
  bar.end();
  const gap = deployed.indexOf(0);
  return { functions: gap === -1 ? n : gap, seconds: (performance.now() - t0) / 1000, errors };
}

/** One phase: an engine with the phase's ceiling, N functions (deployed, or loaded from the data dir at start), the Zipf load, the probes after it. */
async function runPhase (spec: PhaseSpec): Promise<Record<string, unknown>> {
  let t0 = performance.now();
  const engine = await startEngine(['--data-dir', spec.dataDir, '--max-instance-memory', String(spec.ceilingMiB)]);
  const startSeconds = (performance.now() - t0) / 1000;
  const pid = engine.child.pid!;
  const callers = await Promise.all(Array.from({ length: kConnections }, () => SpringbokClient.connect({ socketPath: engine.socketPath })));
  const client = callers[0]!;
  try {
    let functions = spec.functions;
    let deploy = null;
    let emptyRssBytes: number;
    if (spec.storedBy === undefined) {
      emptyRssBytes = (await settledRss(pid, settleMs))!;
      console.log(`${spec.name}: ceiling ${spec.ceilingMiB} MiB, ${spec.functions} functions; empty engine RSS ${mib(emptyRssBytes)}`);
      const deployed = await deployAll(client, spec.functions, `${spec.name}: deploying`, pid);
      functions = deployed.functions;
      deploy = { seconds: round3(deployed.seconds), perSecond: Math.round(spec.functions / deployed.seconds), concurrency: kDeployConcurrency, errors: deployed.errors };
      console.log(`${spec.name}: ${functions} deployed in ${deployed.seconds.toFixed(1)} s (${deploy.perSecond}/s)${deployed.errors.length > 0 ? `, ${deployed.errors.length}+ failed: ${deployed.errors[0]!.error}` : ''}`);
    } else {
      emptyRssBytes = spec.storedBy.emptyRssBytes;
      console.log(`${spec.name}: ceiling ${spec.ceilingMiB} MiB, ${spec.functions} stored functions loaded in ${startSeconds.toFixed(1)} s (spawn to ready)`);
    }
    const deployedRssBytes = (await settledRss(pid, settleMs))!;
    t0 = performance.now();
    const statsBefore = await client.stats();
    const statsMs = performance.now() - t0;
    const statsIntervalMs = Math.min(kMaxStatsIntervalMs, Math.max(kSampleMs, Math.ceil(statsMs * kStatsCostFactor / kSampleMs) * kSampleMs));
    console.log(`${spec.name}: RSS ${mib(deployedRssBytes)} with ${functions} functions (${((deployedRssBytes - emptyRssBytes) / functions / 1024).toFixed(1)} KiB per function over the empty engine); stats takes ${statsMs.toFixed(0)} ms, sampled every ${statsIntervalMs / 1000} s`);

    // ---- the Zipf load ----
    const random = seededRandom(kSeed);
    const order = shuffledIndices(functions, random);
    const zipf = new ZipfSampler(functions, kZipfS, random);
    // The sequence number of each function's last call in the load (-1: never called).
    const lastCall = new Int32Array(functions).fill(-1);
    const firstMs: number[] = [];
    const repeatMs: number[] = [];
    const unperturbedMs: number[] = [];
    const byLanguage = new Map<string, { calls: number, first: number, ms: number[] }>();
    let failed = 0;
    let wrong = 0;
    const failures: string[] = [];
    let completed = 0;
    // The stats op in flight, and how many have started: a call that saw either change was perturbed.
    let statsEpoch = 0;
    let statsPending = false;
    const stop = new AbortController();
    // Set by the sampler (a closure): typed so that the checks after the load do not narrow it to null.
    let stoppedBecause = null as string | null;
    const samples: Sample[] = [];
    const loadStart = performance.now();
    let nextStatsAt = loadStart;
    const sample = async (): Promise<void> => {
      const t = round3((performance.now() - loadStart) / 1000);
      const rssBytes = processRss(pid) ?? null;
      if (rssBytes !== null && rssBytes > kRssGuardBytes && !stop.signal.aborted) {
        stoppedBecause = `RSS ${mib(rssBytes)} passed the guard of ${mib(kRssGuardBytes)}`;
        stop.abort();
      }
      if (statsPending || performance.now() < nextStatsAt) {
        samples.push({ t, rssBytes, calls: completed });
        return;
      }
      nextStatsAt += statsIntervalMs;
      statsPending = true;
      statsEpoch++;
      const s0 = performance.now();
      try {
        const stats = await client.stats();
        samples.push({ t, rssBytes, calls: completed, instances: stats.instances, statsMs: round3(performance.now() - s0) });
      } catch (error) {
        // E.g. the connection's queue full of calls: the sample goes without the counters.
        samples.push({ t, rssBytes, calls: completed, statsError: (error as Error).message });
      } finally {
        statsPending = false;
        statsEpoch++;
      }
    };
    const sampler = setInterval(() => { void sample(); }, kSampleMs);
    await sample();
    const bar = progress(`${spec.name}: load`, Math.floor(kRatePerSecond * kLoadMs / 1000));
    const loop = await runOpenLoop(kRatePerSecond, kLoadMs, async (seq) => {
      const index = order[zipf.next()]!;
      const first = lastCall[index] === -1;
      lastCall[index] = seq;
      const input = String(seq);
      const epoch = statsEpoch;
      const perturbedAtStart = statsPending;
      const c0 = performance.now();
      try {
        const result = await callers[seq % kConnections]!.invoke(`f${index}`, input);
        if (!result.ok) {
          failed++;
          if (failures.length < 10) failures.push(`f${index}: ${result.error.code}: ${result.error.message}`);
        } else if (result.output.toString() !== prefixOf(index) + input) {
          wrong++;
          if (failures.length < 10) failures.push(`f${index}: wrong answer ${JSON.stringify(result.output.toString().slice(0, 80))}`);
        }
      } catch (error) {
        failed++;
        if (failures.length < 10) failures.push(`f${index}: ${(error as Error).message}`);
      }
      const ms = performance.now() - c0;
      (first ? firstMs : repeatMs).push(ms);
      if (!perturbedAtStart && !statsPending && epoch === statsEpoch) unperturbedMs.push(ms);
      const language = languageOf(index);
      const row = byLanguage.get(language) ?? { calls: 0, first: 0, ms: [] };
      row.calls++;
      if (first) row.first++;
      row.ms.push(ms);
      byLanguage.set(language, row);
      completed++;
      if (completed % 100 === 0) bar.update(completed, `RSS ${mib(processRss(pid) ?? 0)}`);
    }, { signal: stop.signal });
    clearInterval(sampler);
    bar.end();
    const loadSeconds = (performance.now() - loadStart) / 1000;
    const statsAfter = await client.stats();
    const finalRssBytes = (await settledRss(pid, settleMs))!;

    // ---- after the load: a few functions of each kind called one at a time, then every function's state ----
    // The kinds are known from the load itself (list() cannot say at 100,000 functions, see below):
    // never called (a first instantiation), the most popular (called all along: live), and called in
    // the load's first half only (idle since: evicted under a tight ceiling, live otherwise). The
    // engine's restores counter around each batch tells how many of its calls were restores.
    const spread = (candidates: number[]): number[] => candidates.filter((_, k) => k % Math.max(1, Math.floor(candidates.length / kProbesPerKind)) === 0).slice(0, kProbesPerKind);
    const popular = new Set(Array.from(order.subarray(0, kProbesPerKind)));
    const neverCalled: number[] = [];
    const idleSinceFirstHalf: number[] = [];
    for (let i = 0; i < functions; i++) {
      if (lastCall[i] === -1) neverCalled.push(i);
      else if (lastCall[i]! < loop.started / 2 && !popular.has(i)) idleSinceFirstHalf.push(i);
    }
    const probeTargets: Record<string, number[]> = { neverCalled: spread(neverCalled), popular: [...popular], idleSinceFirstHalf: spread(idleSinceFirstHalf) };
    const probes: Record<string, unknown> = {};
    for (const [kind, picked] of Object.entries(probeTargets)) {
      const ms: number[] = [];
      let probeFailures = 0;
      const restoresBefore = (await client.stats()).instances.restores;
      for (const index of picked) {
        const p0 = performance.now();
        const result = await client.invoke(`f${index}`, 'probe');
        ms.push(performance.now() - p0);
        if (!result.ok || result.output.toString() !== `${prefixOf(index)}probe`) probeFailures++;
      }
      const restores = (await client.stats()).instances.restores - restoresBefore;
      probes[kind] = { calls: picked.length, latencyMs: summarize(ms), failures: probeFailures, restores, languages: countBy(picked.map(languageOf)) };
    }
    // Every function's state and live instances, per language. The answer is one frame of ~330 bytes
    // per function: past 4 × the engine's pending-write limit (32 MiB, ~100,000 functions) the engine
    // drops the connection, so it has one of its own and its failure is recorded.
    t0 = performance.now();
    let listMs: number | null = null;
    let listError: string | null = null;
    const states: Record<string, Record<string, number>> = {};
    const liveInstancesByLanguage: Record<string, number> = {};
    const lister = await SpringbokClient.connect({ socketPath: engine.socketPath });
    try {
      for (const f of await lister.list()) {
        const counts = states[f.language] ??= {};
        counts[f.state] = (counts[f.state] ?? 0) + 1;
        liveInstancesByLanguage[f.language] = (liveInstancesByLanguage[f.language] ?? 0) + f.instances;
      }
      listMs = round3(performance.now() - t0);
    } catch (error) {
      listError = (error as Error).message;
      console.log(`${spec.name}: list failed after ${((performance.now() - t0) / 1000).toFixed(1)} s: ${listError}`);
    } finally {
      await lister.close();
    }

    const instances = statsAfter.instances;
    const restoresInLoad = instances.restores - statsBefore.instances.restores;
    const evictionsInLoad = instances.evictions - statsBefore.instances.evictions;
    const calls = firstMs.length + repeatMs.length;
    const rssValues = samples.map((s) => s.rssBytes).filter((x): x is number => x !== null);
    const maxRssBytes = Math.max(...rssValues, finalRssBytes);
    const ceilingBytes = spec.ceilingMiB * kMiB;
    const result = {
      name: spec.name, why: spec.why, ceilingMiB: spec.ceilingMiB,
      functions,
      // Spawn to ready: with stored functions, the time to load (compile) them all.
      startSeconds: round3(startSeconds),
      functionsFrom: spec.storedBy === undefined ? 'deployed in this phase' : 'stored by an earlier phase, loaded at start',
      deploy,
      languages: countBy(Array.from({ length: functions }, (_, i) => languageOf(i))),
      emptyRssBytes, deployedRssBytes, maxRssBytes, finalRssBytes,
      deployedBytesPerFunction: Math.round((deployedRssBytes - emptyRssBytes) / functions),
      // What the ceiling bounds is the instances: RSS should stay under the deployed engine plus it.
      rssBoundBytes: deployedRssBytes + ceilingBytes,
      rssWithinBound: maxRssBytes <= deployedRssBytes + ceilingBytes,
      load: {
        ratePerSecond: kRatePerSecond, seconds: round3(loadSeconds), zipfS: kZipfS, seed: kSeed,
        calls, started: loop.started, stoppedBecause,
        clientLag: { maxSendLagMs: loop.maxSendLagMs, lateCalls: loop.lateCalls, lateMs: loop.lateMs, maxInFlight: loop.maxInFlight },
        distinctFunctionsCalled: firstMs.length,
        failed, wrong, failures,
      },
      latencyMs: {
        all: summarize([...firstMs, ...repeatMs]),
        firstCalls: summarize(firstMs),
        repeatCalls: summarize(repeatMs),
        unperturbedByStats: summarize(unperturbedMs),
        byLanguage: Object.fromEntries([...byLanguage].map(([language, row]) => [language, { calls: row.calls, firstCalls: row.first, latencyMs: summarize(row.ms) }])),
      },
      instances: {
        before: statsBefore.instances, after: instances,
        evictions: evictionsInLoad, restores: restoresInLoad,
        evictionsPerSecond: round3(evictionsInLoad / loadSeconds), restoresPerSecond: round3(restoresInLoad / loadSeconds),
        // Cold: the call instantiated the function, for the first time or again after an eviction.
        // Restores are counted by the engine, not per call; a function's first call on the second
        // scheduler thread is cold too and counted in neither (see compiledPerThread).
        coldCallFraction: round3((firstMs.length + restoresInLoad) / Math.max(1, calls)),
        compiledPerThread: statsAfter.threads?.map((t) => t.functions) ?? null,
        liveInstancesByLanguage: listError === null ? liveInstancesByLanguage : null,
        statesByLanguage: listError === null ? states : null,
      },
      statsOp: { msBeforeLoad: round3(statsMs), intervalMs: statsIntervalMs, listMsAfterProbes: listMs, listError, perturbedCalls: calls - unperturbedMs.length },
      probesAfterLoad: probes,
      samples,
    };
    console.log(`${spec.name}: ${calls} calls in ${loadSeconds.toFixed(1)} s (${firstMs.length} first calls), failed ${failed}, wrong ${wrong}${stoppedBecause === null ? '' : `, stopped: ${stoppedBecause}`}; client lag max ${loop.maxSendLagMs} ms (${loop.lateCalls} late)`);
    console.log(`${spec.name}: latency all p50 ${result.latencyMs.all.p50} p99 ${result.latencyMs.all.p99} max ${result.latencyMs.all.max} ms | first p50 ${result.latencyMs.firstCalls.p50} p99 ${result.latencyMs.firstCalls.p99} | repeat p50 ${result.latencyMs.repeatCalls.p50} p99 ${result.latencyMs.repeatCalls.p99} | unperturbed p99 ${result.latencyMs.unperturbedByStats.p99}`);
    console.log(`${spec.name}: evictions ${evictionsInLoad} (${result.instances.evictionsPerSecond}/s), restores ${restoresInLoad} (${result.instances.restoresPerSecond}/s), live ${instances.live}, charged ${mib(instances.chargedBytes)} of ${mib(instances.ceilingBytes)}; cold-call fraction ${result.instances.coldCallFraction}`);
    console.log(`${spec.name}: RSS empty ${mib(emptyRssBytes)}, deployed ${mib(deployedRssBytes)}, max ${mib(maxRssBytes)}, final ${mib(finalRssBytes)}; bound (deployed + ceiling) ${mib(deployedRssBytes + ceilingBytes)}: ${result.rssWithinBound ? 'within' : 'PAST IT'}`);
    for (const [kind, p] of Object.entries(probes)) {
      const probe = p as { calls: number, latencyMs: { p50: number, p99: number }, restores: number, failures: number };
      if (probe.calls === 0) continue;
      console.log(`${spec.name}: after the load, ${probe.calls} functions ${kind} one at a time: p50 ${probe.latencyMs.p50} ms p99 ${probe.latencyMs.p99} ms (${probe.restores} restores, ${probe.failures} failures)`);
    }
    return result;
  } finally {
    await Promise.all(callers.map((caller) => caller.close()));
    await engine.stop();
  }
}

function countBy (values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

// The functions are deployed once, by the first phase; the next phases restart the engine on the
// same data dir with another ceiling (it loads them at start), unless they need another count.
const dataRoot = await mkdtemp(join(tmpdir(), 'springbok-long-tail-'));
const phases: Record<string, unknown>[] = [];
try {
  const sharedDataDir = join(dataRoot, 'shared');
  phases.push(await runPhase({ name: 'issue ceiling', why: 'the issue\'s target: 100,000 functions under 4 GiB', ceilingMiB: 4096, functions: kFunctions, dataDir: sharedDataDir }));
  const firstPhase = phases[0] as { functions: number, emptyRssBytes: number, deployedRssBytes: number, maxRssBytes: number, deployedBytesPerFunction: number, load: { distinctFunctionsCalled: number }, instances: { after: { live: number, chargedBytes: number } } };
  const stored = { emptyRssBytes: firstPhase.emptyRssBytes };
  // The tight ceiling: a sixteenth of what the functions called in the first phase were charged when
  // all live at once, so that most of them cannot stay live together.
  const firstCharged = firstPhase.instances.after.chargedBytes;
  const tightCeilingMiB = Math.max(2, Math.round(firstCharged / kMiB / 16));
  phases.push(await runPhase({ name: 'tight ceiling', why: `a sixteenth of the ${mib(firstCharged)} the first phase's live instances were charged: frequent evictions`, ceilingMiB: tightCeilingMiB, functions: firstPhase.functions, dataDir: sharedDataDir, storedBy: stored }));
  // Eviction off: the largest count of 100%, 75%, 50%, 25%, 10% predicted to stay under the RSS cap,
  // from the first phase's bytes per deployed function and per live instance (the called functions
  // would all stay live).
  const bytesPerInstance = Math.max(0, firstPhase.maxRssBytes - firstPhase.deployedRssBytes) / Math.max(1, firstPhase.instances.after.live);
  const predictRss = (n: number): number => firstPhase.emptyRssBytes + n * firstPhase.deployedBytesPerFunction + Math.min(n, firstPhase.load.distinctFunctionsCalled) * bytesPerInstance;
  const noEvictionCount = [1, 0.75, 0.5, 0.25, 0.1].map((f) => Math.round(firstPhase.functions * f)).find((n) => predictRss(n) <= kNoEvictionRssCapBytes) ?? Math.round(firstPhase.functions * 0.05);
  const why = `a ceiling of ${kNoEvictionCeilingMiB} MiB; ${noEvictionCount} functions, predicted RSS ${mib(predictRss(noEvictionCount))} under the cap of ${mib(kNoEvictionRssCapBytes)}`;
  phases.push(await runPhase(noEvictionCount === firstPhase.functions
    ? { name: 'eviction off', why, ceilingMiB: kNoEvictionCeilingMiB, functions: noEvictionCount, dataDir: sharedDataDir, storedBy: stored }
    : { name: 'eviction off', why, ceilingMiB: kNoEvictionCeilingMiB, functions: noEvictionCount, dataDir: join(dataRoot, 'no-eviction') }));
} finally {
  await rm(dataRoot, { recursive: true, force: true });
}

const failedCalls = phases.reduce((sum, p) => sum + (p as { load: { failed: number, wrong: number } }).load.failed + (p as { load: { wrong: number } }).load.wrong, 0);
await writeResult(args.out, {
  experiment: 'long-tail',
  quick: q,
  machine: header,
  loadAverage: { start: loadAtStart, end: loadavg() },
  params: {
    functions: kFunctions, ratePerSecond: kRatePerSecond, loadMs: kLoadMs, zipfS: kZipfS, seed: kSeed, sampleMs: kSampleMs,
    mix: kMix, cSources: kCSources, deployConcurrency: kDeployConcurrency, connections: kConnections, maxStatsIntervalMs: kMaxStatsIntervalMs, probesPerKind: kProbesPerKind,
    noEvictionRssCapBytes: kNoEvictionRssCapBytes, rssGuardBytes: kRssGuardBytes, statsCostFactor: kStatsCostFactor,
    function: 'trivial: answers "f<index> " + input (c: "c<index mod cSources> " + input, one source per constant)',
  },
  skipped,
  phases,
});
if (failedCalls > 0) {
  console.log(`${failedCalls} calls failed or answered wrongly`);
  process.exitCode = 1;
}
