#!/usr/bin/env node
/**
 * Scaling: what things cost as the engine holds more functions, and as inputs grow.
 *
 * (1) Functions deployed: 1, 10, 100, 1,000, 10,000 (sm, with the default scheduler threads and with
 *     --workers 0; js up to 1,000, as 10,000 live V8 isolates would need over 13 GiB, see density)
 *     in one `springbok serve` child with its own data dir per series.
 *     At each count: deploy time per function (the registry writes and fsyncs each one), the
 *     engine's RSS with every function invoked once (live), warm latency p50/p99 at 1 in flight of
 *     one hot function and of a random function among all deployed, throughput of random functions
 *     at 8 in flight, the time `list` and `stats` take, and the engine's restart time with that many
 *     stored functions (spawn → ready; every stored function is compiled again at start) and its
 *     first answer after the restart.
 * (2) Input size: 0 B, 1 KiB, 64 KiB, 1 MiB, 4 MiB through the socket to an echo function (sm and
 *     js): latency p50/p99 at 1 in flight, and MB/s of payload each way.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SpringbokClient } from '../dispatchers/client.ts';
import { forEachBounded } from './lib/bounded.ts';
import { startEngine } from './lib/engine-child.ts';
import { runFor } from './lib/load-loop.ts';
import { kMiB, settledRss } from './lib/memory.ts';
import { progress } from './lib/progress.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('scaling', `Usage: node experiments/scaling.ts [--quick]

(1) 1, 10, 100, 1,000, 10,000 deployed functions (sm on the default threads and on the main thread
alone; js up to 1,000): deploy time, RSS, warm latency
of one function and of random ones among all, list/stats time, restart time. (2) Input sizes 0 B to
4 MiB through the socket to an echo function: latency p50/p99 and MB/s. About 4 minutes; --quick
(up to 100 functions, inputs up to 1 MiB) well under a minute.`);
const q = args.quick;
const header = machineHeader();
console.log(JSON.stringify(header));
// The machine's cores may be shared (other test runs): the load averages go into the result.
const loadAtStart = loadavg();
const serveArgs: string[] = [];
const pointMs = q ? 300 : 3_000;
const settleMs = q ? 200 : 500;
const smCounts = q ? [1, 10, 100] : [1, 10, 100, 1_000, 10_000];
const jsCounts = q ? [1, 10] : [1, 10, 100, 1_000];
// The engine as served by default (a scheduler thread per core), and sm once more on the main thread
// alone (--workers 0): what the threads cost or bring at each count.
const kSeries: { language: string, serveArgs: string[], counts: number[] }[] = [
  { language: 'sm', serveArgs, counts: smCounts },
  { language: 'sm', serveArgs: [...serveArgs, '--workers', '0'], counts: smCounts },
  { language: 'js', serveArgs, counts: jsCounts },
];
const kSizes = q ? [0, 1024, 64 * 1024, kMiB] : [0, 1024, 64 * 1024, kMiB, 4 * kMiB];

/** A trivial function, distinct per index: answers `f<i> ` followed by its input. */
function source (language: string, i: number): string {
  if (language === 'sm') return `        outs "f${i} "\n        outin\n`;
  return `export default (input) => "f${i} " + input;\n`;
}
const kEcho: Record<string, string> = { sm: '        outin\n', js: 'export default (input) => input;\n' };
const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const fmt = (s: { p50: number, p99: number }): string => `p50 ${s.p50} ms p99 ${s.p99} ms`;

// ---- (1) the number of deployed functions ---------------------------------------------------------
const functionRows: Record<string, unknown>[] = [];
for (const { language, serveArgs: seriesArgs, counts } of kSeries) {
  const dataDir = await mkdtemp(join(tmpdir(), 'springbok-scaling-'));
  const dataArgs = [...seriesArgs, '--data-dir', join(dataDir, 'data')];
  let t0 = performance.now();
  let engine = await startEngine(dataArgs);
  const emptyStartMs = performance.now() - t0;
  let client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  // Scheduler threads running functions (stats lists them; none: the main thread only).
  const schedulerThreads = (await client.stats()).threads?.length ?? 0;
  const series = `${language}, ${schedulerThreads === 0 ? 'main thread only' : `${schedulerThreads} scheduler threads`}`;
  let deployed = 0;
  try {
    for (const count of counts) {
      const bar = progress(`${series}: ${count}`, count);
      // Deploy up to `count`, 8 in flight (the client pipelines them over one connection).
      const deployMs: number[] = [];
      const from = deployed;
      t0 = performance.now();
      await forEachBounded(from, count, 8, async (i) => {
        const d0 = performance.now();
        await client.deploy(`f${i}`, language, Buffer.from(source(language, i)));
        deployMs.push(performance.now() - d0);
      }, (n) => bar.update(from + n, 'deploying'));
      const deployWallMs = performance.now() - t0;
      deployed = count;
      // Every function invoked once, so all are live (and, after a restart, started again).
      await forEachBounded(0, count, 8, async (i) => {
        const result = await client.invoke(`f${i}`, 'x');
        if (!result.ok || result.output.toString() !== `f${i} x`) throw new Error(`${language} f${i}: ${result.ok ? `wrong output ${JSON.stringify(result.output.toString())}` : result.error.code}`);
      }, (n) => bar.update(n, 'first invocations'));
      bar.end();
      const rssBytes = await settledRss(engine.child.pid!, settleMs);
      const check = async (name: string): Promise<boolean> => {
        const result = await client.invoke(name, 'x');
        return result.ok && result.output.toString() === `${name} x`;
      };
      const hotTask = (): Promise<boolean> => check('f0');
      const randomTask = (): Promise<boolean> => check(`f${Math.floor(Math.random() * count)}`);
      await runFor(pointMs / 4, 8, randomTask);
      const hot = await runFor(pointMs, 1, hotTask);
      const random = await runFor(pointMs, 1, randomTask);
      const randomLoad = await runFor(pointMs, 8, randomTask);
      // list and stats answer in one frame header of at most 1 MiB: past a few thousand functions
      // they fail. That is a finding, recorded with the row, not a crash of the experiment.
      const timed = async (request: () => Promise<unknown>): Promise<{ ms: number | null, error?: string }> => {
        const r0 = performance.now();
        try {
          await request();
          return { ms: round3(performance.now() - r0) };
        } catch (error) {
          return { ms: null, error: (error as Error).message };
        }
      };
      const list = await timed(() => client.list());
      const stats = await timed(() => client.stats());
      // Restart with `count` stored functions: spawn → "ready", then the first answer.
      await client.close();
      await engine.stop();
      t0 = performance.now();
      engine = await startEngine(dataArgs);
      const restartMs = performance.now() - t0;
      client = await SpringbokClient.connect({ socketPath: engine.socketPath });
      t0 = performance.now();
      if (!await check(`f${count - 1}`)) throw new Error(`${language}: f${count - 1} failed after the restart`);
      const firstAfterRestartMs = performance.now() - t0;
      const row = {
        series, language, serveArgs: seriesArgs, schedulerThreads, functions: count,
        deployMsPerFunction: round3(deployWallMs / Math.max(1, count - from)),
        deployLatencyMs: summarize(deployMs),
        rssBytes,
        hotLatencyMs: summarize(hot.latenciesMs),
        randomLatencyMs: summarize(random.latenciesMs),
        randomThroughput: { concurrency: 8, perSecond: randomLoad.perSecond, latencyMs: summarize(randomLoad.latenciesMs) },
        failures: hot.failures + random.failures + randomLoad.failures,
        listMs: list.ms, statsMs: stats.ms,
        ...(list.error !== undefined ? { listError: list.error } : {}),
        ...(stats.error !== undefined ? { statsError: stats.error } : {}),
        restartMs: Math.round(restartMs), emptyStartMs: Math.round(emptyStartMs), firstAfterRestartMs: round3(firstAfterRestartMs),
      };
      functionRows.push(row);
      console.log(`${series}: ${String(count).padStart(6)} functions: deploy ${row.deployMsPerFunction} ms each | RSS ${((rssBytes ?? 0) / kMiB).toFixed(1)} MiB | hot ${fmt(row.hotLatencyMs)} | random ${fmt(row.randomLatencyMs)} | ${row.randomThroughput.perSecond}/s random at c=8 | list ${list.ms === null ? 'FAILED' : `${list.ms} ms`} | stats ${stats.ms === null ? 'FAILED' : `${stats.ms} ms`} | restart ${row.restartMs} ms (empty ${row.emptyStartMs}) | failures ${row.failures}`);
    }
  } finally {
    await client.close();
    await engine.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// ---- (2) input size ----------------------------------------------------------------------------------
const sizeRows: Record<string, unknown>[] = [];
{
  const engine = await startEngine(serveArgs);
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  try {
    for (const [language, echo] of Object.entries(kEcho)) {
      await client.deploy(`echo-${language}`, language, Buffer.from(echo));
      for (const size of kSizes) {
        // Printable bytes: the js function receives its input as a string.
        const input = Buffer.alloc(size, 'a');
        const task = async (): Promise<boolean> => {
          const result = await client.invoke(`echo-${language}`, input);
          return result.ok && result.output.byteLength === size;
        };
        await runFor(pointMs / 4, 1, task);
        const load = await runFor(pointMs, 1, task);
        const latencyMs = summarize(load.latenciesMs);
        const row = { language, inputBytes: size, invocations: load.latenciesMs.length, perSecond: load.perSecond, latencyMs, megabytesPerSecond: round3(size * load.perSecond / 1e6), failures: load.failures };
        sizeRows.push(row);
        console.log(`echo ${language.padEnd(2)} ${String(size).padStart(8)} B: ${fmt(latencyMs)} | ${row.perSecond}/s | ${row.megabytesPerSecond} MB/s each way | failures ${row.failures}`);
      }
    }
  } finally {
    await client.close();
    await engine.stop();
  }
}

await writeResult(args.out, {
  experiment: 'scaling',
  quick: q,
  machine: header,
  loadAverage: { start: loadAtStart, end: loadavg() },
  params: { series: kSeries, sizes: kSizes, pointMs, settleMs, function: 'trivial, distinct per index: answers "f<i> " + input; echo for the sizes' },
  functions: functionRows,
  inputSizes: sizeRows,
});
