#!/usr/bin/env node
/**
 * Density: how many live instances of each language fit in memory. Per language, a fresh
 * `springbok serve` child process (so its RSS is the engine's alone) gets K distinct functions
 * deployed (each source differs: no cache can share them) and each invoked once, so each has a
 * live, idle instance. K doubles step by step until a count cap, 1 GiB of RSS growth (256 MiB with
 * --quick) or a time cap per language. At every step the engine's RSS (from /proc) is read after
 * the deploys and again after the first invocations; a least-squares line through the steps gives
 * the bytes per live function (artifact, records and instance); the RSS added by the deploys and by
 * the first invocations, summed over the steps, split it into per deployed function and per idle instance; and "live functions per GiB" = 1 GiB ÷ bytes per live function.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { loadavg, tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { SpringbokClient } from '../dispatchers/client.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { forEachBounded } from './lib/bounded.ts';
import { idleProcessMemory } from './lib/idle-processes.ts';
import { startEngine } from './lib/engine-child.ts';
import { kGiB, kMiB, linearFit, processRss, settledRss } from './lib/memory.ts';
import { progress } from './lib/progress.ts';
import { experimentArgs, machineHeader, writeResult } from './lib/report.ts';

const args = experimentArgs('density', `Usage: node experiments/density.ts [--quick]

Per language (sm, lua, lua54, c, js, quickjs; c only with the clang toolchain), deploys K distinct
trivial functions into a fresh \`springbok serve\` process and invokes each once, doubling K until a
count cap, 1 GiB of RSS growth or a time cap. Reports the engine's RSS per step, bytes per deployed
function, per live function and per idle instance, and live functions per GiB. About 5 minutes;
--quick under a minute.`);
const q = args.quick;
const header = machineHeader();
console.log(JSON.stringify(header));
// The machine's cores may be shared (other test runs): the load averages go into the result.
const loadAtStart = loadavg();

// Counts large enough to reach the memory cap where a time cap allows; quick: a few steps each.
const kCountCap: Record<string, number> = q
  ? { sm: 200, lua: 60, lua54: 40, c: 6, js: 24, quickjs: 40 }
  : { sm: 25_600, lua: 6_400, lua54: 3_200, c: 400, js: 1_600, quickjs: 3_200 };
const kFirstStep: Record<string, number> = q
  ? { sm: 50, lua: 15, lua54: 10, c: 3, js: 6, quickjs: 10 }
  : { sm: 200, lua: 100, lua54: 50, c: 25, js: 50, quickjs: 50 };
const growthCapBytes = q ? 256 * kMiB : kGiB;
const timeCapMs = q ? 7_000 : 50_000;
const settleMs = q ? 200 : 500;
// Deploys compile: C runs clang and wasm-ld per function, two at a time on two cores.
const kDeployConcurrency: Record<string, number> = { c: 2 };
const serveArgs: string[] = [];

/** A trivial function, distinct per index: answers `f<i> ` followed by its input. */
function source (language: string, i: number): string {
  switch (language) {
    case 'sm': return `        outs "f${i} "\n        outin\n`;
    case 'lua': case 'lua54': return `return function (input) return "f${i} " .. input end\n`;
    case 'js': case 'quickjs': return `export default (input) => "f${i} " + input;\n`;
    case 'c': return `#include <springbok.h>\nint handler(const char *input, size_t len) { sb_output("f${i} ", ${`f${i} `.length}); sb_output(input, len); return 0; }\n`;
    default: throw new Error(`no source for ${language}`);
  }
}

interface Point {
  functions: number;
  /** Engine RSS with `functions` deployed, before the new ones were first invoked. */
  deployedRssBytes: number;
  /** The same once each has been invoked once (so each has a live, idle instance). */
  liveRssBytes: number;
  /** Live instances the engine reports (list, else stats per thread), the warm-up one's not counted. */
  readyInstances: number | null;
  /** RSS added by this step's deploys, and by its first invocations, per new function. */
  deployDeltaBytesPerFunction: number;
  instanceDeltaBytesPerFunction: number;
  heapUsedBytes: number | null;
  externalBytes: number | null;
  deployMsPerFunction: number;
  firstInvokeMsPerFunction: number;
}

const toolchain = findToolchain();
const skipped: { language: string, reason: string }[] = [];
const languages: Record<string, unknown>[] = [];
const round = (x: number): number => Math.round(x);
/** Requests that failed, first occurrence per request and language: {request, language, functions, error}. */
const requestErrors: Record<string, unknown>[] = [];
let currentLanguage = '';
function noteError (request: string, error: unknown, functions: number): void {
  if (requestErrors.some((e) => e.request === request && e.language === currentLanguage)) return;
  requestErrors.push({ request, language: currentLanguage, functions, error: (error as Error).message });
  console.log(`${currentLanguage}: ${request} failed at ${functions} functions: ${(error as Error).message}`);
}
const mib = (bytes: number): string => `${(bytes / kMiB).toFixed(1)} MiB`;

for (const language of ['sm', 'lua', 'lua54', 'c', 'js', 'quickjs']) {
  if (language === 'c' && 'missing' in toolchain) {
    skipped.push({ language, reason: toolchain.missing });
    console.log(`skipped c: ${toolchain.missing}`);
    continue;
  }
  currentLanguage = language;
  const engine = await startEngine(serveArgs);
  const pid = engine.child.pid!;
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  const languageStart = performance.now();
  // One function deployed and invoked first, so that "empty" is the engine with the language
  // loaded (plugins load their runtimes, wasm modules and spare pools on first use).
  await client.deploy('warm-up', language, Buffer.from(source(language, -1)));
  const warmUp = await client.invoke('warm-up', 'x');
  if (!warmUp.ok) throw new Error(`${language} warm-up: ${warmUp.error.code}: ${warmUp.error.message}`);
  const emptyRssBytes = (await settledRss(pid, settleMs))!;
  const points: Point[] = [];
  // Scheduler threads the engine runs functions on (stats lists them; none listed: the main thread only).
  let threads = 0;
  let stoppedBecause: string;
  let deployed = 0;
  let target = kFirstStep[language]!;
  const bar = progress(`${language.padEnd(7)}`, kCountCap[language]);
  try {
    for (;;) {
      const stepStart = performance.now();
      const from = deployed;
      await forEachBounded(from, target, kDeployConcurrency[language] ?? 8, async (i) => {
        await client.deploy(`d${i}`, language, Buffer.from(source(language, i)));
      }, (n) => bar.update(from + n, `deploying, ${mib(processRss(pid) ?? 0)}`));
      const deployMs = performance.now() - stepStart;
      deployed = target;
      const deployedRssBytes = (await settledRss(pid, settleMs))!;
      const invokeStart = performance.now();
      await forEachBounded(from, target, 8, async (i) => {
        const result = await client.invoke(`d${i}`, 'x');
        if (!result.ok) throw new Error(`${language} d${i}: ${result.error.code}: ${result.error.message}`);
        if (result.output.toString() !== `f${i} x`) throw new Error(`${language} d${i}: wrong output ${JSON.stringify(result.output.toString())}`);
      }, (n) => bar.update(from + n, `first invocations, ${mib(processRss(pid) ?? 0)}`));
      const invokeMs = performance.now() - invokeStart;
      const liveRssBytes = (await settledRss(pid, settleMs))!;
      // stats and list answer in one frame header of at most 1 MiB: past a few thousand functions
      // they fail (a limit of the protocol, reported in the result), and the series goes on without them.
      const stats = await client.stats().catch((error: unknown) => { noteError('stats', error, deployed); return undefined; });
      const listed = await client.list().catch((error: unknown) => { noteError('list', error, deployed); return undefined; });
      // Live instances: per function from list (up to one per scheduler thread that ran it), else
      // per thread from stats; the warm-up function's not counted.
      const instancesOf = (f: { name: string, state: string, instances?: number }): number => f.name === 'warm-up' ? 0 : f.instances ?? (f.state === 'ready' ? 1 : 0);
      const threadInstances = stats?.threads?.reduce((sum, t) => sum + t.instances, 0);
      const readyInstances = listed?.reduce((sum, f) => sum + instancesOf(f), 0) ?? (threadInstances === undefined ? null : threadInstances - 1);
      threads = stats?.threads?.length ?? threads;
      const before = points.at(-1)?.liveRssBytes ?? emptyRssBytes;
      const point: Point = {
        functions: deployed, deployedRssBytes, liveRssBytes, readyInstances,
        deployDeltaBytesPerFunction: Math.round((deployedRssBytes - before) / (target - from)),
        instanceDeltaBytesPerFunction: Math.round((liveRssBytes - deployedRssBytes) / (target - from)),
        heapUsedBytes: stats?.process.heapUsedBytes ?? null, externalBytes: stats?.process.externalBytes ?? null,
        deployMsPerFunction: Math.round(deployMs / (target - from) * 1000) / 1000,
        firstInvokeMsPerFunction: Math.round(invokeMs / (target - from) * 1000) / 1000,
      };
      points.push(point);
      bar.end();
      console.log(`${language.padEnd(7)} ${String(deployed).padStart(6)} functions: RSS ${mib(emptyRssBytes)} empty → ${mib(deployedRssBytes)} deployed → ${mib(liveRssBytes)} live (${readyInstances ?? '?'} instances); deploy ${point.deployMsPerFunction} ms, first invoke ${point.firstInvokeMsPerFunction} ms per function`);
      const growth = liveRssBytes - emptyRssBytes;
      const elapsed = performance.now() - languageStart;
      const next = Math.min(target * 2, kCountCap[language]!);
      // The next step adds (next - target) functions at this step's pace per function.
      const nextStepMs = (performance.now() - stepStart) / (target - from) * (next - target);
      if (target >= kCountCap[language]!) { stoppedBecause = `count cap (${kCountCap[language]})`; break; }
      if (growth >= growthCapBytes) { stoppedBecause = `memory cap (RSS grew ${mib(growth)} ≥ ${mib(growthCapBytes)})`; break; }
      if (growth / target * next >= growthCapBytes * 1.5) { stoppedBecause = `memory cap (the next step would grow RSS past ${mib(growthCapBytes * 1.5)})`; break; }
      if (elapsed + nextStepMs > timeCapMs) { stoppedBecause = `time cap (${timeCapMs / 1000} s per language; the next step would take ~${Math.round(nextStepMs / 1000)} s)`; break; }
      target = next;
    }
  } catch (error) {
    // A failure (e.g. the engine refusing more) ends this language's series; what was measured stays.
    stoppedBecause = `error: ${(error as Error).message}`;
    bar.end();
    console.log(`${language}: stopped by ${stoppedBecause}`);
  }
  await client.close();
  await engine.stop();
  // Bytes per live function: the slope of RSS against the count, through the empty engine too.
  const liveFit = linearFit([{ x: 0, y: emptyRssBytes }, ...points.map((p) => ({ x: p.functions, y: p.liveRssBytes }))]);
  const perLive = liveFit.slope;
  // Its split: what the deploys added and what the first invocations added, summed over the steps.
  const last = points.at(-1);
  let deployBytes = 0;
  let previous = emptyRssBytes;
  for (const p of points) { deployBytes += p.deployedRssBytes - previous; previous = p.liveRssBytes; }
  const perDeployed = last === undefined ? NaN : deployBytes / last.functions;
  const row = {
    language,
    serveArgs,
    schedulerThreads: threads,
    emptyRssBytes,
    points,
    stoppedBecause,
    seconds: Math.round((performance.now() - languageStart) / 100) / 10,
    bytesPerDeployedFunction: round(perDeployed),
    bytesPerLiveFunction: round(perLive),
    bytesPerIdleInstance: round(perLive - perDeployed),
    liveFunctionsPerGiB: Number.isFinite(perLive) && perLive > 0 ? Math.floor(kGiB / perLive) : null,
    maxLiveFunctions: last?.functions ?? 0,
    rssAtMaxBytes: last?.liveRssBytes ?? emptyRssBytes,
  };
  languages.push(row);
  console.log(`${language.padEnd(7)} per deployed function ${(perDeployed / 1024).toFixed(1)} KiB, per live function ${(perLive / 1024).toFixed(1)} KiB (instance ${((perLive - perDeployed) / 1024).toFixed(1)} KiB) → ${row.liveFunctionsPerGiB} live functions per GiB; stopped by ${stoppedBecause} after ${row.seconds} s`);
  await sleep(100);
}

// ---- baseline: an idle process per function ---------------------------------------------------------
// What a platform that keeps one warm process per function pays: N processes each holding the same
// trivial function and waiting for work (on stdin). Memory is the proportional set size, so the
// runtime's shared binary and libraries are split between them rather than counted N times.
const baselineCount = q ? 4 : 30;
const baselines: Record<string, unknown>[] = [];
const baselineDir = await mkdtemp(join(tmpdir(), 'springbok-density-'));
try {
  await writeFile(join(baselineDir, 'f.js'), source('js', 0));
  await writeFile(join(baselineDir, 'f.lua'), source('lua', 0));
  const commands: { runtime: string, file: string, args: string[] }[] = [
    { runtime: 'node', file: process.execPath, args: ['--input-type=module', '-e', `import f from ${JSON.stringify(pathToFileURL(join(baselineDir, 'f.js')).href)}; if (f('x') !== 'f0 x') process.exit(1); process.stdout.write('ready\\n'); process.stdin.resume();`] },
  ];
  if (existsSync('/usr/bin/lua5.4')) commands.push({ runtime: 'lua5.4', file: '/usr/bin/lua5.4', args: ['-e', `local f = dofile(${JSON.stringify(join(baselineDir, 'f.lua'))}); assert(f('x') == 'f0 x'); io.write('ready\\n'); io.flush(); io.read('a')`] });
  else skipped.push({ language: 'baseline lua5.4', reason: '/usr/bin/lua5.4 not found (Debian package lua5.4)' });
  if (existsSync('/usr/bin/clang')) {
    const cPath = join(baselineDir, 'idle.c');
    await writeFile(cPath, '#include <stdio.h>\n#include <unistd.h>\nint main(void) { puts("ready"); fflush(stdout); char b; while (read(0, &b, 1) > 0) {} return 0; }\n');
    await promisify(execFile)('/usr/bin/clang', ['-O2', '-o', join(baselineDir, 'idle-native'), cPath]);
    commands.push({ runtime: 'native C', file: join(baselineDir, 'idle-native'), args: [] });
  } else {
    skipped.push({ language: 'baseline native C', reason: '/usr/bin/clang not found' });
  }
  for (const command of commands) {
    try {
      const memory = await idleProcessMemory(command, baselineCount, settleMs);
      const row = { runtime: command.runtime, ...memory, processesPerGiB: Math.floor(kGiB / memory.pssBytesPerProcess) };
      baselines.push(row);
      console.log(`idle process ${command.runtime.padEnd(8)} ×${baselineCount}: PSS ${(memory.pssBytesPerProcess / 1024).toFixed(0)} KiB, RSS ${(memory.rssBytesPerProcess / 1024).toFixed(0)} KiB per process → ${row.processesPerGiB} per GiB`);
    } catch (error) {
      skipped.push({ language: `baseline ${command.runtime}`, reason: (error as Error).message });
      console.log(`skipped idle process ${command.runtime}: ${(error as Error).message}`);
    }
  }
} finally {
  await rm(baselineDir, { recursive: true, force: true });
}

// springbok ÷ baseline: memory per live function against memory per idle process (below 1 favours springbok).
const kPairs: [string, string][] = [['js', 'node'], ['quickjs', 'node'], ['lua', 'lua5.4'], ['lua54', 'lua5.4'], ['c', 'native C'], ['sm', 'native C']];
const ratios = kPairs.flatMap(([language, runtime]) => {
  const ours = languages.find((l) => l.language === language) as { bytesPerLiveFunction: number } | undefined;
  const theirs = baselines.find((b) => b.runtime === runtime) as { pssBytesPerProcess: number } | undefined;
  if (ours === undefined || theirs === undefined) return [];
  return [{ springbok: language, baseline: `idle process ${runtime}`, memoryRatio: Math.round(ours.bytesPerLiveFunction / theirs.pssBytesPerProcess * 1000) / 1000 }];
});
console.log('springbok bytes per live function ÷ baseline bytes per idle process (below 1 favours springbok):');
for (const r of ratios) console.log(`  ${r.springbok.padEnd(7)} ÷ ${r.baseline}: ${r.memoryRatio}`);

await writeResult(args.out, {
  experiment: 'density',
  quick: q,
  machine: header,
  loadAverage: { start: loadAtStart, end: loadavg() },
  params: { countCaps: kCountCap, firstSteps: kFirstStep, growthCapBytes, timeCapMsPerLanguage: timeCapMs, settleMs, serveArgs, function: 'trivial, distinct per index: answers "f<i> " + input' },
  languages,
  skipped,
  requestErrors,
  baselines,
  ratios,
});
