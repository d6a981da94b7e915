import { readdir, readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { SpringbokClient } from '../../dispatchers/client.ts';

/** One function per language, each given a small real workload. */
const kWorkloads: Record<string, { readonly file: string, readonly input: string, readonly output: string }> = {
  sm: { file: 'sm/sum.sm', input: '100', output: '5050' },
  c: { file: 'c/fib.c', input: '15', output: '610' },
  llvm: { file: 'llvm/collatz.ll', input: '27', output: '111' },
  lua: { file: 'lua/fib.lua', input: '15', output: '610' },
  lua54: { file: 'lua/fib.lua', input: '15', output: '610' },
  js: { file: 'js/fib.js', input: '15', output: '610' },
  quickjs: { file: 'js/fib.js', input: '15', output: '610' },
};

export interface SoakReport {
  readonly languages: string[];
  readonly invocations: number;
  readonly failures: number;
  readonly wrongOutputs: number;
  readonly seconds: number;
  readonly rssAfterWarmupBytes: number;
  readonly rssEndBytes: number;
  readonly rssGrowthPercent: number;
  readonly fdsAfterWarmup: number;
  readonly fdsEnd: number;
}

async function openFds (pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/**
 * Runs `invocations` invocations mixed round-robin across one function per loaded language, 64 in
 * flight, against an engine process; measures resident memory and open file descriptors after a
 * warm-up (the first tenth) and at the end.
 */
export async function soak (socketPath: string, enginePid: number, invocations: number, examplesDir: URL, skip: readonly string[] = []): Promise<SoakReport> {
  const client = await SpringbokClient.connect({ socketPath });
  const { languages: loaded } = await client.ping();
  const languages = loaded.filter((language) => kWorkloads[language] !== undefined && !skip.includes(language));
  for (const language of languages) {
    const workload = kWorkloads[language]!;
    await client.deploy(`soak-${language}`, language, await readFile(new URL(workload.file, examplesDir)));
  }
  let started = 0;
  let failures = 0;
  let wrongOutputs = 0;
  const warmup = Math.floor(invocations / 10);
  let rssAfterWarmupBytes = 0;
  let fdsAfterWarmup = 0;
  let warmupMeasured: Promise<void> | undefined;
  const startedAt = performance.now();
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (started < invocations) {
      const index = started++;
      if (index === warmup) {
        warmupMeasured = (async () => {
          rssAfterWarmupBytes = (await client.stats()).process.rssBytes;
          fdsAfterWarmup = await openFds(enginePid);
        })();
      }
      const language = languages[index % languages.length]!;
      const workload = kWorkloads[language]!;
      const result = await client.invoke(`soak-${language}`, workload.input);
      if (!result.ok) failures++;
      else if (result.output.toString() !== workload.output) wrongOutputs++;
    }
  }));
  await warmupMeasured;
  const seconds = (performance.now() - startedAt) / 1000;
  const rssEndBytes = (await client.stats()).process.rssBytes;
  const fdsEnd = await openFds(enginePid);
  await client.close();
  return { languages, invocations, failures, wrongOutputs, seconds: Math.round(seconds * 10) / 10, rssAfterWarmupBytes, rssEndBytes, rssGrowthPercent: Math.round((rssEndBytes / rssAfterWarmupBytes - 1) * 1000) / 10, fdsAfterWarmup, fdsEnd };
}
