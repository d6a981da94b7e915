#!/usr/bin/env node
/**
 * springbok side by side with the baselines that doc/results.md names under "Targets", in one
 * run, on one machine, for the same function logic (fib(N) by naive recursion, and an echo):
 *   - springbok: cold start (deploy → first result) and warm invocations through the real unix
 *     socket (a `springbok serve` child process, a pipelined client here) for every language the
 *     engine offers;
 *   - a process per invocation: `node -e` importing the same JS module, `lua5.4` running the same
 *     Lua file, and the same C handler compiled natively with clang;
 *   - the same processes, each inside a cgroup limited to the function's budget (one core, its memory);
 *   - a container per invocation, where a container runtime runs;
 *   - workerd serving the same JS module over loopback HTTP (autocannon), against springbok's JS
 *     function over its socket at the same concurrency.
 * Headline: springbok ÷ baseline ratios of latency (p50, p99) and throughput.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SpringbokClient } from '../dispatchers/client.ts';
import { kDefaultBudget } from '../engine/budget.ts';
import { createBenchCgroup, type BenchCgroup } from './lib/cgroup.ts';
import { containerArgs, findContainerRuntime, findLocalImage } from './lib/container-runtime.ts';
import { startEngine } from './lib/engine-child.ts';
import { httpLoad } from './lib/http-load.ts';
import { runFor, type LoadResult } from './lib/load-loop.ts';
import { processBaselines } from './lib/process-baselines.ts';
import { runProcess, type ProcessCommand } from './lib/process-run.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';
import { startWorkerd, type WorkerdServer } from './lib/workerd-server.ts';

const args = experimentArgs('baselines', 'Usage: node experiments/baselines.ts [--quick]\n\nspringbok against a process per invocation (node, lua5.4, native C), the same inside a cgroup, a container per invocation and workerd, side by side: cold start, warm latency p50/p99, throughput, and springbok ÷ baseline ratios.');
const q = args.quick;
const kFibN = 20;
const kEcho = 'hello';
const kConcurrency = 8;
const kWorkerdConcurrency = q ? [8] : [1, 8, 64];
// --quick is the smoke run, beside other tests: short, so it holds both cores for as little as it can.
const durations = { warmUpMs: q ? 50 : 1000, latencyMs: q ? 150 : 3000, throughputMs: q ? 150 : 3000, httpMs: q ? 300 : 5000 };
const coldCount = q ? 2 : 20;
const workerdStarts = q ? 1 : 5;

const header = machineHeader();
console.log(JSON.stringify(header));
// Other work on the machine skews every figure here: the load averages go into the result.
const loadAtStart = loadavg();
const ex = (path: string): string => new URL(`../examples/${path}`, import.meta.url).pathname;
const round = (x: number): number => Math.round(x * 1000) / 1000;

await using cleanup = new AsyncDisposableStack();
// Interrupted runs too must stop the engine and workerd and remove the cgroups and temp files.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void cleanup.disposeAsync().finally(() => process.exit(130)); });
}
const dir = await mkdtemp(join(tmpdir(), 'springbok-baselines-'));
cleanup.defer(() => rm(dir, { recursive: true, force: true }));

// The same logic in every language: fib(N) from examples/, and an echo written here.
const echoSources: Record<string, string> = {
  js: 'export default (input) => input;\n',
  lua: 'return function (input) return input end\n',
  c: '#include <springbok.h>\nint handler(const char *input, size_t len) { sb_output(input, len); return 0; }\n',
  sm: '        outin\n        halt\n',
};
for (const [ext, source] of Object.entries(echoSources)) await writeFile(join(dir, `echo.${ext}`), source);
const files = {
  fib: { js: ex('js/fib.js'), lua: ex('lua/fib.lua'), c: ex('c/fib.c'), sm: ex('sm/fib.sm') },
  echo: { js: join(dir, 'echo.js'), lua: join(dir, 'echo.lua'), c: join(dir, 'echo.c'), sm: join(dir, 'echo.sm') },
} as const;
type FunctionName = keyof typeof files;
const workloads: { fn: FunctionName, input: string, expected: string }[] = [
  { fn: 'echo', input: kEcho, expected: kEcho },
  { fn: 'fib', input: String(kFibN), expected: '6765' },
];
const sourceKind: Record<string, 'js' | 'lua' | 'c' | 'sm'> = { js: 'js', quickjs: 'js', lua: 'lua', lua54: 'lua', c: 'c', sm: 'sm' };

/** One runtime × function measured: every figure in milliseconds or per second. */
interface Row {
  runtime: string;
  kind: 'springbok' | 'process' | 'cgroup-process' | 'container';
  function: FunctionName;
  coldStartMs?: ReturnType<typeof summarize>;
  deployMs?: ReturnType<typeof summarize>;
  warmLatencyMs?: ReturnType<typeof summarize>;
  throughput?: { concurrency: number, perSecond: number, latencyMs: ReturnType<typeof summarize> };
  failures: number;
}
const rows: Row[] = [];
const skipped: { baseline: string, reason: string }[] = [];
const skip = (baseline: string, reason: string): void => { skipped.push({ baseline, reason }); console.log(`skipped: ${baseline}: ${reason}`); };
const fmt = (s: ReturnType<typeof summarize> | undefined): string => s === undefined ? '-' : `p50 ${s.p50} ms p99 ${s.p99} ms`;

// ---- springbok ------------------------------------------------------------------------------
const engine = await startEngine();
cleanup.defer(() => engine.stop());
const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
cleanup.defer(() => client.close());
const offered = (await client.ping()).languages;
const languages = ['js', 'quickjs', 'lua', 'lua54', 'c', 'sm'].filter((language) => {
  if (!offered.includes(language)) skip(`springbok ${language}`, `the engine does not offer it here (offers: ${offered.join(', ')})`);
  return offered.includes(language);
});

async function invokeOk (name: string, input: string, expected: string): Promise<boolean> {
  const result = await client.invoke(name, input);
  return result.ok && result.output.toString() === expected;
}

for (const language of languages) {
  for (const { fn, input, expected } of workloads) {
    const source = await readFile(files[fn][sourceKind[language]!]);
    const row: Row = { runtime: `springbok ${language}`, kind: 'springbok', function: fn, failures: 0 };
    // Cold start: a fresh deploy, then its first invocation (a new instance). A pause between
    // deploys (50 ms) lets pooling plugins (js, quickjs) prepare their spare, as between real deploys.
    const deployMs: number[] = [];
    const coldMs: number[] = [];
    for (let i = 0; i < coldCount; i++) {
      const name = `cold-${language}-${fn}-${i}`;
      const t0 = performance.now();
      await client.deploy(name, language, source);
      const t1 = performance.now();
      if (!await invokeOk(name, input, expected)) row.failures++;
      coldMs.push(performance.now() - t1);
      deployMs.push(t1 - t0);
      await client.remove(name);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    row.deployMs = summarize(deployMs);
    row.coldStartMs = summarize(coldMs);
    const name = `warm-${language}-${fn}`;
    await client.deploy(name, language, source);
    const task = (): Promise<boolean> => invokeOk(name, input, expected);
    await runFor(durations.warmUpMs, kConcurrency, task);
    const latency = await runFor(durations.latencyMs, 1, task);
    const throughput = await runFor(durations.throughputMs, kConcurrency, task);
    row.warmLatencyMs = summarize(latency.latenciesMs);
    row.throughput = { concurrency: kConcurrency, perSecond: throughput.perSecond, latencyMs: summarize(throughput.latenciesMs) };
    row.failures += latency.failures + throughput.failures;
    rows.push(row);
    console.log(`${row.runtime.padEnd(18)} ${fn.padEnd(4)} cold ${fmt(row.coldStartMs)} | warm ${fmt(row.warmLatencyMs)} | ${row.throughput.perSecond}/s at c=${kConcurrency} | failures ${row.failures}`);
  }
}

// ---- a process per invocation -----------------------------------------------------------------
const processRuntimes: ProcessRuntime[] = await processBaselines(dir, files, skip);
const nodeCommand = processRuntimes.find((r) => r.runtime === 'node')!.command;

type ProcessRuntime = { runtime: string, command: (fn: FunctionName, input: string) => ProcessCommand };
const kRowPrefix = { process: 'process', 'cgroup-process': 'cgroup', container: 'container' } as const;

/** `withGroup` runs one invocation, in the cgroup it lends, or in none. */
async function measureProcesses (kind: 'process' | 'cgroup-process' | 'container', withGroup: (run: (group?: BenchCgroup) => Promise<boolean>) => Promise<boolean>, runtimes: readonly ProcessRuntime[] = processRuntimes): Promise<void> {
  for (const { runtime, command } of runtimes) {
    for (const { fn, input, expected } of workloads) {
      const task = (): Promise<boolean> => withGroup((group) => runProcess(group === undefined ? command(fn, input) : group.wrap(command(fn, input)), expected));
      // Every invocation is a cold start, so the latency at concurrency 1 is both figures.
      await runFor(durations.warmUpMs / 4, 1, task);
      const latency = await runFor(durations.latencyMs, 1, task);
      const throughput = await runFor(durations.throughputMs, kConcurrency, task);
      const name = `${kRowPrefix[kind]} ${runtime}`;
      const row: Row = { runtime: name, kind, function: fn, coldStartMs: summarize(latency.latenciesMs), warmLatencyMs: summarize(latency.latenciesMs), throughput: { concurrency: kConcurrency, perSecond: throughput.perSecond, latencyMs: summarize(throughput.latenciesMs) }, failures: latency.failures + throughput.failures };
      rows.push(row);
      console.log(`${name.padEnd(18)} ${fn.padEnd(4)} per invocation ${fmt(row.warmLatencyMs)} | ${row.throughput!.perSecond}/s at c=${kConcurrency} | failures ${row.failures}`);
    }
  }
}
await measureProcesses('process', (run) => run());

// ---- the same inside a cgroup with the function's budget ----------------------------------------
// springbok's budget is per invocation, and one invocation runs on one thread: so each invocation
// in flight gets a cgroup of its own with one core of bandwidth and the default memory budget.
// The groups are made once and reused (one per slot of the concurrency), which spares the
// baseline the cost of creating a group per invocation.
const cgroupLimits = { cpuCores: 1, memoryBytes: kDefaultBudget.memoryBytes };
const groups: BenchCgroup[] = [];
let cgroupInfo: Record<string, unknown> = {};
for (let slot = 0; slot < kConcurrency; slot++) {
  const group = await createBenchCgroup(`springbok-baselines-${process.pid}-${slot}`, cgroupLimits);
  if ('skipped' in group) {
    skip('cgroup-limited process', group.skipped);
    cgroupInfo = { skipped: group.skipped };
    break;
  }
  cleanup.defer(() => group.close());
  groups.push(group);
}
if (groups.length === kConcurrency) {
  cgroupInfo = { version: groups[0]!.version, groups: groups.length, dirs: groups[0]!.dirs, limits: cgroupLimits };
  console.log(`cgroup ${groups[0]!.version}: ${groups.length} groups like ${groups[0]!.dirs.join(', ')}: one core, ${cgroupLimits.memoryBytes / 2 ** 20} MiB each`);
  await measureProcesses('cgroup-process', async (run) => {
    // At most kConcurrency invocations are in flight, so a free group is always there.
    const group = groups.pop()!;
    try { return await run(group); } finally { groups.push(group); }
  });
}

// ---- a container per invocation -------------------------------------------------------------------
// The same node and native C commands, each invocation in a fresh `--rm --network none` container
// limited to the function's budget (one CPU, its memory), from an image already on the machine
// (never pulled). The C binary built above is mounted in: it needs a glibc image (Debian-based).
const container = await findContainerRuntime();
let containerInfo: Record<string, unknown>;
if ('skipped' in container) {
  skip('container per invocation', container.skipped);
  containerInfo = { skipped: container.skipped };
} else {
  const limits = { cpus: 1, memoryBytes: kDefaultBudget.memoryBytes };
  const mounts = [dir, ex('')];
  const wrap = (image: string, command: ProcessCommand): ProcessCommand => ({ file: container.runtime, args: containerArgs(image, limits, mounts, [command.file, ...command.args]) });
  const candidates: ProcessRuntime[] = [];
  const nodeImage = await findLocalImage(container.runtime, ['node']);
  if (nodeImage === undefined) skip('container node', `no local node image for ${container.runtime} (e.g. \`${container.runtime} pull node:24-slim\`; benchmarks never pull)`);
  else candidates.push({ runtime: `node (${nodeImage})`, command: (fn, input) => wrap(nodeImage, { ...nodeCommand(fn, input), file: 'node' }) });
  const native = processRuntimes.find((r) => r.runtime === 'native C');
  const cImage = await findLocalImage(container.runtime, ['debian', 'node', 'ubuntu']);
  if (native === undefined) skip('container native C', 'no native C binary (see the process baseline)');
  else if (cImage === undefined) skip('container native C', `no local Debian, Ubuntu or node image for ${container.runtime}`);
  else candidates.push({ runtime: `native C (${cImage})`, command: (fn, input) => wrap(cImage, native.command(fn, input)) });
  // One trial each: an image that cannot run the command is skipped with its reason, not measured as failures.
  const runnable: ProcessRuntime[] = [];
  for (const candidate of candidates) {
    if (await runProcess(candidate.command('echo', kEcho), kEcho)) runnable.push(candidate);
    else skip(`container ${candidate.runtime}`, `a trial run failed: ${[candidate.command('echo', kEcho).file, ...candidate.command('echo', kEcho).args].join(' ')}`);
  }
  containerInfo = { runtime: container.runtime, limits, images: runnable.map((r) => r.runtime) };
  if (runnable.length > 0) {
    console.log(`containers (${container.runtime}): ${runnable.map((r) => r.runtime).join(', ')}; one CPU, ${limits.memoryBytes / 2 ** 20} MiB, no network`);
    await measureProcesses('container', (run) => run(), runnable);
  }
}

// ---- workerd vs springbok js over the same concurrency --------------------------------------------
const httpRows: { server: string, function: FunctionName, concurrency: number, perSecond: number, latencyMs: ReturnType<typeof summarize>, failures: number }[] = [];
const workerdStartupMs: number[] = [];
if (!languages.includes('js')) {
  skip('workerd', 'springbok js is not available to compare with');
} else {
  let server: WorkerdServer | undefined;
  try {
    for (let i = 0; i < workerdStarts; i++) {
      await server?.stop();
      server = undefined;
      const workerdDir = await mkdtemp(join(dir, 'workerd-'));
      server = await startWorkerd(workerdDir, { fib: files.fib.js, echo: files.echo.js }, { path: '/echo', body: kEcho, expected: kEcho });
      workerdStartupMs.push(server.startupMs);
    }
    console.log(`workerd: process start → first answer ${fmt(summarize(workerdStartupMs))}`);
    for (const { fn, input, expected } of workloads) {
      const name = `warm-js-${fn}`;
      for (const concurrency of kWorkerdConcurrency) {
        const url = `${server!.url}/${fn}`;
        await httpLoad(url, input, concurrency, durations.warmUpMs);
        const results: [string, LoadResult][] = [
          ['workerd', await httpLoad(url, input, concurrency, durations.httpMs)],
          ['springbok js', await runFor(durations.httpMs, concurrency, () => invokeOk(name, input, expected))],
        ];
        for (const [serverName, result] of results) {
          const row = { server: serverName, function: fn, concurrency, perSecond: result.perSecond, latencyMs: summarize(result.latenciesMs), failures: result.failures };
          httpRows.push(row);
          console.log(`${serverName.padEnd(13)} ${fn.padEnd(4)} c=${String(concurrency).padStart(2)}: ${String(row.perSecond).padStart(6)}/s ${fmt(row.latencyMs)} failures ${row.failures}`);
        }
      }
    }
  } catch (error) {
    skip('workerd', `could not run: ${(error as Error).message.split('\n')[0]}`);
  } finally {
    await server?.stop();
  }
}

// ---- headline ratios: springbok ÷ baseline ---------------------------------------------------------
// Latency ratios below 1 and throughput ratios above 1 favour springbok.
const pairs: [string, string][] = [['js', 'node'], ['quickjs', 'node'], ['lua', 'lua5.4'], ['lua54', 'lua5.4'], ['c', 'native C'], ['sm', 'native C']];
const ratio = (a: number | undefined, b: number | undefined): number | null => a === undefined || b === undefined || b === 0 ? null : round(a / b);
const ratios = [];
for (const { fn } of workloads) {
  for (const [language, baseline] of pairs) {
    const ours = rows.find((r) => r.runtime === `springbok ${language}` && r.function === fn);
    for (const kind of ['process', 'cgroup', 'container'] as const) {
      // Container rows name their image: `container node (node:24-slim)`.
      const theirs = rows.find((r) => (r.runtime === `${kind} ${baseline}` || r.runtime.startsWith(`${kind} ${baseline} (`)) && r.function === fn);
      if (ours === undefined || theirs === undefined) continue;
      ratios.push({
        function: fn, springbok: ours.runtime, baseline: theirs.runtime,
        coldStartP50: ratio(ours.coldStartMs?.p50, theirs.coldStartMs?.p50),
        coldStartP99: ratio(ours.coldStartMs?.p99, theirs.coldStartMs?.p99),
        warmLatencyP50: ratio(ours.warmLatencyMs?.p50, theirs.warmLatencyMs?.p50),
        warmLatencyP99: ratio(ours.warmLatencyMs?.p99, theirs.warmLatencyMs?.p99),
        throughput: ratio(ours.throughput?.perSecond, theirs.throughput?.perSecond),
      });
    }
  }
  for (const concurrency of kWorkerdConcurrency) {
    const ours = httpRows.find((r) => r.server === 'springbok js' && r.function === fn && r.concurrency === concurrency);
    const theirs = httpRows.find((r) => r.server === 'workerd' && r.function === fn && r.concurrency === concurrency);
    if (ours === undefined || theirs === undefined) continue;
    ratios.push({
      function: fn, springbok: 'springbok js (socket)', baseline: `workerd (HTTP) c=${concurrency}`,
      warmLatencyP50: ratio(ours.latencyMs.p50, theirs.latencyMs.p50),
      warmLatencyP99: ratio(ours.latencyMs.p99, theirs.latencyMs.p99),
      throughput: ratio(ours.perSecond, theirs.perSecond),
    });
  }
}
console.log('springbok ÷ baseline (latency < 1 and throughput > 1 favour springbok):');
for (const r of ratios) console.log(`  ${r.function.padEnd(4)} ${r.springbok} ÷ ${r.baseline}: cold p50 ${r.coldStartP50 ?? '-'}, warm p50 ${r.warmLatencyP50}, p99 ${r.warmLatencyP99}, throughput ${r.throughput}`);

await writeResult(args.out, {
  experiment: 'baselines',
  quick: q,
  machine: header,
  params: { fibN: kFibN, echoInput: kEcho, concurrency: kConcurrency, workerdConcurrency: kWorkerdConcurrency, durationsMs: durations, coldStartsPerFunction: coldCount },
  rows,
  cgroup: cgroupInfo,
  container: containerInfo,
  workerd: { startupMs: workerdStartupMs.length > 0 ? summarize(workerdStartupMs) : null, rows: httpRows },
  skipped,
  ratios,
  loadAverage: { start: loadAtStart, end: loadavg() },
});
// Keep-alive sockets of the load generators would hold the event loop open after the results are written.
process.exit(process.exitCode ?? 0);
