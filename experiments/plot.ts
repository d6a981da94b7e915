#!/usr/bin/env node
/**
 * Renders the SVG charts of doc/results.md from the experiments' full-run results
 * (experiments/results/<name>.json, never the .quick ones) with vega-lite, into doc/plots/.
 * A chart whose result file is missing is skipped and listed as such. With --quick (the smoke run),
 * the charts go to a temporary directory that is removed afterwards, so a smoke run never
 * touches doc/.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kCharts } from './lib/plot-specs.ts';
import { experimentArgs, machineHeader, writeResult } from './lib/report.ts';
import { renderSvg } from './lib/render-svg.ts';

const args = experimentArgs('plot', 'Usage: node experiments/plot.ts [--quick]\n\nRenders SVG charts (vega-lite) from experiments/results/*.json (full runs) into doc/plots/.\nWith --quick, renders into a temporary directory instead and removes it.');
const resultsDir = new URL('results/', import.meta.url).pathname;
const plotsDir = args.quick ? await mkdtemp(join(tmpdir(), 'springbok-plots-')) : new URL('../doc/plots/', import.meta.url).pathname;
await mkdir(plotsDir, { recursive: true });

const charts: { name: string, source: string, bytes: number, path: string }[] = [];
const skipped: { name: string, reason: string }[] = [];
try {
  for (const chart of kCharts) {
    const sourcePath = join(resultsDir, `${chart.source}.json`);
    if (!existsSync(sourcePath)) {
      skipped.push({ name: chart.name, reason: `${sourcePath} not found (run node experiments/${chart.source}.ts)` });
      console.log(`skipped ${chart.name}: no ${chart.source}.json`);
      continue;
    }
    const result = JSON.parse(await readFile(sourcePath, 'utf8')) as Record<string, unknown>;
    const svg = await renderSvg(chart.spec(result));
    const path = join(plotsDir, `${chart.name}.svg`);
    await writeFile(path, svg);
    charts.push({ name: chart.name, source: `${chart.source}.json`, bytes: svg.length, path: args.quick ? `(temporary) ${chart.name}.svg` : path });
    console.log(`${chart.name}.svg  from ${chart.source}.json  (${svg.length} bytes)`);
  }
} finally {
  if (args.quick) await rm(plotsDir, { recursive: true, force: true });
}
await writeResult(args.out, { experiment: 'plot', quick: args.quick, machine: machineHeader(), plotsDir: args.quick ? null : plotsDir, charts, skipped });
