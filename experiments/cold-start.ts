#!/usr/bin/env node
/**
 * Cold and warm paths, per language, for a trivial function (an echo):
 *   (a) the first call after a deploy, (b) the first call after the function's instance was evicted
 *   (another function needed the room under the instance-memory ceiling), (c) a warm call;
 * measured twice: through the engine API in this process (no socket, one scheduler on this thread:
 * the closest this gets to engine-internal time, instance requested → ready to run, plus the call
 * itself), and end to end through the unix socket of a `springbok serve` child process. Beside them,
 * in the same run, a process per invocation of the same function (node, lua5.4, native C).
 * Every timed call is first checked to be on the path it is counted for (list(): compiled, evicted
 * or ready). The targets the engine aims for are checked against the p50s and p99s.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SpringbokClient } from '../dispatchers/client.ts';
import { defaultPlugins } from '../dispatchers/cli/plugins.ts';
import { Engine } from '../engine/index.ts';
import type { InstanceStats } from '../engine/executor.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { afterDeploy, afterEviction, warm, type ColdMode, type ColdPathOptions, type FunctionHost, type ModeSamples } from './lib/cold-paths.ts';
import { startEngine } from './lib/engine-child.ts';
import { kMiB } from './lib/memory.ts';
import { processBaselines } from './lib/process-baselines.ts';
import { runProcess } from './lib/process-run.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('cold-start', `Usage: node experiments/cold-start.ts [--quick]

Per language (sm, c, llvm, lua, lua54, js, quickjs; c and llvm only with the clang toolchain), p50/p99
of the first call after a deploy, the first call after an eviction and a warm call, through the
engine API in-process (microseconds) and through the unix socket (milliseconds), beside a process
per invocation (node, lua5.4, native C); each against the engine's targets. About 3 minutes;
--quick under 30 seconds.`);
const q = args.quick;
const startedAt = performance.now();
const header = machineHeader();
console.log(JSON.stringify(header));
// Other work on the machine skews every figure here: the load averages go into the result.
const loadAtStart = loadavg();

const kSamples = q ? 5 : 200;
const kProcessSamples = q ? 3 : 100;
const kWarmUpRounds = q ? 1 : 5;
// js and quickjs keep a spare instance ready, and replace the one a cold start took (quickjs 20 ms
// later): their cold calls are spaced so that each finds its spare, as cold calls spread out by
// other traffic would. The other languages pool nothing across functions: their cold calls follow
// each other at once (a deploy, then its first call).
const kPoolRefillMs: Record<string, number> = { js: 50, quickjs: 50 };
const kEcho = 'hello';
// Room for any one idle instance (js's is the largest, 1.5 MiB), so a live function keeps its
// instance until something bigger comes; the ballast below is bigger.
const kCeilingBytesPerScheduler = 2 * kMiB;

await using cleanup = new AsyncDisposableStack();
// Interrupted runs too must stop the engines and remove the temp files.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void cleanup.disposeAsync().finally(() => process.exit(130)); });
}
const dir = await mkdtemp(join(tmpdir(), 'springbok-cold-start-'));
cleanup.defer(() => rm(dir, { recursive: true, force: true }));

// The same echo in every language (js and quickjs share a source, as lua and lua54 do).
const kEchoSources: Record<string, string> = {
  sm: '        outin\n        halt\n',
  c: '#include <springbok.h>\nint handler(const char *input, size_t len) { sb_output(input, len); return 0; }\n',
  llvm: `target datalayout = "e-m:e-p:32:32-p10:10:64-p20:20:64-i64:64-n32:64-S128-ni:1:10:20"
target triple = "wasm32-unknown-wasi"
declare void @sb_output(i8*, i32) #0
define i32 @handler(i8* %input, i32 %len) {
  call void @sb_output(i8* %input, i32 %len)
  ret i32 0
}
attributes #0 = { "wasm-import-module"="springbok" "wasm-import-name"="output" }
`,
  lua: 'return function (input) return input end\n',
  js: 'export default (input) => input;\n',
};
const kSourceOf: Record<string, string> = { sm: 'sm', c: 'c', llvm: 'llvm', lua: 'lua', lua54: 'lua', js: 'js', quickjs: 'js' };
const sourceOf = (language: string): Uint8Array => Buffer.from(kEchoSources[kSourceOf[language]!]!);
// A function whose one call takes more than the whole ceiling (a 3 MiB string: a lua instance is
// charged what its memory grew to), so calling it evicts every idle instance on its scheduler, then
// its own. lua, as its restore and its string are cheap (lua54's metered string.rep of 4 MiB takes ~50 ms).
const kBallast = { language: 'lua', source: Buffer.from("return function () return tostring(#string.rep('x', 3 * 1024 * 1024)) end\n"), budget: { memoryBytes: 16 * kMiB } };

/** One point measured: latency in `unit` (us in-process, ms otherwise). */
interface Row {
  language: string;
  path: 'in-process' | 'socket' | 'process';
  mode: ColdMode | 'per-invocation';
  unit: 'us' | 'ms';
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  failures: number;
}
const rows: Row[] = [];
const skipped: { what: string, reason: string }[] = [];
const skip = (what: string, reason: string): void => { skipped.push({ what, reason }); console.log(`skipped: ${what}: ${reason}`); };

function addRow (language: string, path: Row['path'], mode: Row['mode'], { latenciesMs, failures }: ModeSamples): void {
  const unit = path === 'in-process' ? 'us' : 'ms';
  const { n, ...figures } = summarize(latenciesMs.map((ms) => unit === 'us' ? ms * 1000 : ms));
  const row: Row = { language, path, mode, unit, samples: n, ...figures, failures };
  rows.push(row);
  console.log(`${path.padEnd(10)} ${language.padEnd(8)} ${mode.padEnd(14)} p50 ${String(row.p50).padStart(9)} ${unit}  p99 ${String(row.p99).padStart(9)} ${unit}  (${n} samples, ${failures} failures)`);
}

const toolchain = findToolchain();
const languages = ['sm', 'c', 'llvm', 'lua', 'lua54', 'js', 'quickjs'].filter((language) => {
  if ((language === 'c' || language === 'llvm') && 'missing' in toolchain) {
    skip(`springbok ${language}`, toolchain.missing);
    return false;
  }
  return true;
});
const coldOptions = (language: string): ColdPathOptions => ({ samples: kSamples, warmUpRounds: kWarmUpRounds, idleMs: kPoolRefillMs[language] ?? 0, input: Buffer.from(kEcho) });

/** An engine reached one way (its API, its socket), open until disposed. */
interface OpenedEngine extends AsyncDisposable {
  readonly host: FunctionHost;
  /** Runs the ballast once on every scheduler (only where it was deployed: under the small ceiling). */
  readonly evictIdle: () => Promise<void>;
  readonly instances: () => Promise<InstanceStats>;
}

/**
 * (a) and (c) on an engine as configured by default (its ceiling far away, so only these calls
 * decide what is live), then (b) on one whose ceiling holds any one idle instance but not the
 * ballast: a fresh engine, so the first one's functions and pools do not change it.
 */
async function measurePath (path: 'in-process' | 'socket', open: (ceilingBytesPerScheduler?: number) => Promise<OpenedEngine>): Promise<InstanceStats> {
  {
    await using engine = await open();
    for (const language of languages) {
      addRow(language, path, 'after-deploy', await afterDeploy(engine.host, language, sourceOf(language), coldOptions(language)));
      addRow(language, path, 'warm', await warm(engine.host, language, sourceOf(language), coldOptions(language)));
    }
  }
  await using engine = await open(kCeilingBytesPerScheduler);
  await engine.host.deploy('ballast', kBallast.language, kBallast.source, kBallast.budget);
  for (const language of languages) {
    addRow(language, path, 'after-eviction', await afterEviction(engine.host, language, sourceOf(language), { ...coldOptions(language), evictIdle: engine.evictIdle }));
  }
  const instances = await engine.instances();
  console.log(`${path}: the engine under the small ceiling counted ${instances.evictions} evictions and ${instances.restores} restores`);
  return instances;
}

/** As many ballast calls at once as there are schedulers: the engine sends each to a different one (an idle thread first). */
async function runBallast (schedulers: number, invoke: () => Promise<{ ok: true } | { ok: false, error: { message: string } }>): Promise<void> {
  await Promise.all(Array.from({ length: schedulers }, async () => {
    const result = await invoke();
    if (!result.ok) throw new Error(`the ballast failed, so it evicts nothing: ${result.error.message}`);
  }));
}

// ---- in-process: the engine API on this thread ------------------------------------------------
console.log(`in-process: Engine.open with workers 0 and the default plugins; microseconds from invoke() to its result: the closest to engine-internal time (instance requested → ready to run, plus a trivial call). Evictions under a ${kCeilingBytesPerScheduler / kMiB} MiB instance-memory ceiling.`);
const instanceStats: Record<string, InstanceStats> = {};
instanceStats['in-process'] = await measurePath('in-process', async (ceilingBytes) => {
  const engine = await Engine.open({ plugins: defaultPlugins(), workers: 0, cacheDir: join(dir, 'cache'), ...(ceilingBytes === undefined ? {} : { maxInstanceMemoryBytes: ceilingBytes }) });
  return {
    host: engine,
    evictIdle: () => runBallast(1, () => engine.invoke('ballast', new Uint8Array())),
    instances: async () => engine.stats().instances,
    [Symbol.asyncDispose]: () => engine.close(),
  };
});

// ---- through the socket: a `springbok serve` child process ------------------------------------------
// serve's default scheduler threads (one per core), each with its share of the ceiling.
const workers = availableParallelism();
console.log(`socket: springbok serve (${workers} scheduler threads), one client connection; milliseconds from request to answer. Evictions under a ${kCeilingBytesPerScheduler / kMiB} MiB instance-memory ceiling per scheduler thread.`);
instanceStats.socket = await measurePath('socket', async (ceilingBytesPerScheduler) => {
  const server = await startEngine(ceilingBytesPerScheduler === undefined ? [] : ['--max-instance-memory', String(workers * ceilingBytesPerScheduler / kMiB)]);
  const client = await SpringbokClient.connect({ socketPath: server.socketPath });
  return {
    host: client,
    evictIdle: () => runBallast(workers, () => client.invoke('ballast')),
    instances: async () => (await client.stats()).instances,
    [Symbol.asyncDispose]: async () => {
      await client.close();
      await server.stop();
    },
  };
});

// ---- beside: a process per invocation of the same echo -----------------------------------------------
await writeFile(join(dir, 'echo.js'), kEchoSources.js!);
await writeFile(join(dir, 'echo.lua'), kEchoSources.lua!);
await writeFile(join(dir, 'echo.c'), kEchoSources.c!);
const baselines = await processBaselines(dir, { echo: { js: join(dir, 'echo.js'), lua: join(dir, 'echo.lua'), c: join(dir, 'echo.c') } }, skip);
for (const { runtime, command } of baselines) {
  const latenciesMs: number[] = [];
  let failures = 0;
  for (let i = 0; i < kWarmUpRounds + kProcessSamples; i++) {
    const t0 = performance.now();
    const ok = await runProcess(command('echo', kEcho), kEcho);
    if (i < kWarmUpRounds) continue;
    latenciesMs.push(performance.now() - t0);
    if (!ok) failures++;
  }
  addRow(runtime, 'process', 'per-invocation', { latenciesMs, failures });
}

// ---- targets ------------------------------------------------------------------------------------------
interface Target {
  language: string;
  target: string;
  measured: { path: Row['path'], mode: Row['mode'], stat: 'p50' | 'p99' };
  value: number | null;
  limit: number | null;
  unit: Row['unit'];
  /** null: not measured here (its reason in `note`). */
  met: boolean | null;
  note?: string;
}
const targets: Target[] = [];
const rowOf = (language: string, path: Row['path'], mode: Row['mode']): Row | undefined => rows.find((r) => r.language === language && r.path === path && r.mode === mode);
/** `strict`: the value must be below the limit (a tie with a whole process is no win), else at most it. */
function check (language: string, target: string, measured: Target['measured'], limit: number | undefined, unit: Row['unit'], missing: string, strict = false): void {
  const value = rowOf(language, measured.path, measured.mode)?.[measured.stat];
  const entry: Target = value === undefined || limit === undefined
    ? { language, target, measured, value: value ?? null, limit: limit ?? null, unit, met: null, note: missing }
    : { language, target, measured, value, limit, unit, met: strict ? value < limit : value <= limit };
  targets.push(entry);
}
// Engine-internal: a new instance of an already-compiled function, ready to run, p50. The in-process
// figures also hold the call itself, so they are an upper bound on it.
const kInstanceTargetUs: Record<string, number> = { c: 20, llvm: 20, quickjs: 150, lua54: 150, js: 500 };
// End to end through the socket: the first call after an eviction, p50.
const kSocketRestoreTargetMs: Record<string, number> = { c: 0.3, quickjs: 0.3, lua54: 0.3 };
// Faster than a whole process of its kind, at p50 and p99.
const kProcessOfKind: Record<string, string> = { sm: 'native C', c: 'native C', llvm: 'native C', lua: 'lua5.4', lua54: 'lua5.4', js: 'node', quickjs: 'node' };
const kColdOnly = ['after-deploy', 'after-eviction'] as const;
for (const language of languages) {
  const instanceUs = kInstanceTargetUs[language];
  if (instanceUs !== undefined) {
    for (const mode of kColdOnly) check(language, `new instance ready to run ≤ ${instanceUs} us p50 (in-process, call included)`, { path: 'in-process', mode, stat: 'p50' }, instanceUs, 'us', 'not measured');
  }
  const restoreMs = kSocketRestoreTargetMs[language];
  if (restoreMs !== undefined) check(language, `first call after eviction ≤ ${restoreMs} ms p50 end to end`, { path: 'socket', mode: 'after-eviction', stat: 'p50' }, restoreMs, 'ms', 'not measured');
  const kind = kProcessOfKind[language]!;
  for (const mode of kColdOnly) {
    for (const stat of ['p50', 'p99'] as const) {
      const baseline = rowOf(kind, 'process', 'per-invocation');
      check(language, `${mode} faster than a ${kind} process at ${stat}`, { path: 'socket', mode, stat }, baseline?.[stat], 'ms', `no ${kind} process baseline here`, true);
    }
  }
}
const verdict = (t: Target): string => t.met === null ? `n/a (${t.note})` : t.met ? 'met' : 'MISSED';
console.log('targets:');
for (const t of targets) console.log(`  ${t.language.padEnd(8)} ${t.target}: ${t.value ?? '-'} ${t.unit} (${t.measured.path} ${t.measured.mode} ${t.measured.stat}) ${verdict(t)}`);
const durationS = Math.round((performance.now() - startedAt) / 100) / 10;
console.log(`${targets.filter((t) => t.met === true).length} targets met, ${targets.filter((t) => t.met === false).length} missed, ${targets.filter((t) => t.met === null).length} not measured; ${durationS} s`);

await writeResult(args.out, {
  experiment: 'cold-start',
  quick: q,
  machine: header,
  params: {
    echoInput: kEcho, samples: kSamples, processSamples: kProcessSamples, warmUpRounds: kWarmUpRounds, idleMsBeforeColdCall: kPoolRefillMs,
    ceilingBytesPerScheduler: kCeilingBytesPerScheduler, socketSchedulerThreads: workers,
    ballast: { language: kBallast.language, budget: kBallast.budget, does: 'one call holds a 3 MiB string: evicts every idle instance on its scheduler, then its own' },
  },
  paths: {
    'in-process': 'Engine API on this thread (workers 0): invoke() to result, in microseconds; the closest to engine-internal time (instance requested → ready to run, plus a trivial call)',
    socket: 'springbok serve child process, one client connection on its unix socket: request to answer, in milliseconds',
    process: 'a process per invocation of the same echo: spawn to exit with its output read, in milliseconds',
  },
  rows,
  targets,
  instances: instanceStats,
  skipped,
  durationS,
  loadAverage: { start: loadAtStart, end: loadavg() },
});
