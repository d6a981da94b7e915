import { cpus, totalmem, release } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** Machine and software facts printed with, and stored in, every result. */
export function machineHeader (): Record<string, unknown> {
  const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as { packages: Record<string, { version?: string }> };
  const versions = Object.fromEntries(Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/') && !path.slice(13).includes('node_modules/')).map(([path, info]) => [path.slice(13), info.version]));
  return {
    date: new Date().toISOString(),
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    packages: versions,
  };
}

/** p50/p90/p99/max of a list of numbers (exact, from the sorted samples). */
export function summarize (samples: number[]): { n: number, p50: number, p90: number, p99: number, max: number, mean: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  const mean = sorted.reduce((sum, x) => sum + x, 0) / Math.max(1, sorted.length);
  return { n: sorted.length, p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), max: round(sorted.at(-1) ?? NaN), mean: round(mean) };
}

export interface ExperimentArgs {
  readonly quick: boolean;
  readonly out: string;
}

/** Parses the flags every experiment takes; prints `help` and exits for --help. */
export function experimentArgs (name: string, help: string): ExperimentArgs {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help === true) {
    process.stdout.write(`${help}\nOptions:\n  --quick      a short run (seconds), as CI runs it\n  --out FILE   where to write the JSON result (default experiments/results/${name}.json, or ${name}.quick.json with --quick)\n`);
    process.exit(0);
  }
  const quick = values.quick === true;
  const out = values.out ?? new URL(`../results/${name}${quick ? '.quick' : ''}.json`, import.meta.url).pathname;
  return { quick, out };
}

export async function writeResult (path: string, result: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`result written to ${path}\n`);
}
