/**
 * The process side of experiments/cpu-budget-precision.ts: started with fork(), one per language,
 * so that a workload that keeps the engine's thread busy past every budget, or kills the engine,
 * costs that language's process and never the experiment. It opens an engine with the one plugin on
 * this thread (workers: 0), deploys each workload it is sent, invokes it one invocation at a time and
 * reports every step over IPC (BudgetChildMessage), so the parent knows which invocation was in
 * flight if this process has to be killed.
 */
import { performance } from 'node:perf_hooks';
import { Engine } from '../../engine/index.ts';
import type { LanguagePlugin } from '../../engine/plugin.ts';
import type { BudgetWorkload } from './budget-workloads.ts';

/** What the parent sends: the workloads of one language, and how many invocations of each. */
export interface BudgetChildRequest {
  readonly language: string;
  readonly items: readonly { readonly index: number, readonly workload: BudgetWorkload, readonly runs: number }[];
}

/** One invocation's figures, in ms. `osCpuMs` is this thread's CPU, or the whole process's for js (see `osClock`) until it is idle again. */
export interface BudgetRunResult {
  readonly code: string;
  readonly message?: string;
  readonly chargedCpuMs?: number;
  readonly osCpuMs?: number;
  readonly wallMs: number;
}

export type BudgetChildMessage =
  | { readonly type: 'deploy-failed', readonly index: number, readonly code: string, readonly message: string }
  | { readonly type: 'start', readonly index: number, readonly run: number }
  | { readonly type: 'result', readonly index: number, readonly run: number, readonly result: BudgetRunResult }
  | { readonly type: 'done' };

/**
 * Which OS clock measures an invocation: the engine thread's CPU, except for js whose isolates run
 * on isolated-vm's own threads, where only the process-wide figure sees the guest's work.
 */
export function osClockFor (language: string): 'thread' | 'process' {
  return language === 'js' ? 'process' : 'thread';
}

async function pluginFor (language: string): Promise<LanguagePlugin> {
  // Only the language measured is loaded, so its process starts fast and holds nothing else.
  switch (language) {
    case 'sm': return (await import('../../plugins/sm/index.ts')).smPlugin();
    case 'lua': return (await import('../../plugins/lua/index.ts')).luaPlugin();
    case 'lua54': return (await import('../../plugins/lua54/index.ts')).lua54Plugin();
    case 'c': return (await import('../../plugins/wasm/index.ts')).cPlugin();
    case 'js': return (await import('../../plugins/js/index.ts')).jsPlugin();
    case 'quickjs': return (await import('../../plugins/quickjs/index.ts')).quickjsPlugin();
    default: throw new Error(`no plugin for ${language}`);
  }
}

function send (message: BudgetChildMessage): Promise<void> {
  return new Promise((resolve) => { process.send!(message, () => resolve()); });
}

function errorFields (error: unknown): { code: string, message: string } {
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'ERR_EXCEPTION';
  return { code, message: error instanceof Error ? error.message : String(error) };
}

/** Waits (up to 5 s) until the process uses under a fifth of a core over 50 ms. */
async function settle (): Promise<void> {
  const until = performance.now() + 5000;
  while (performance.now() < until) {
    const before = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const used = process.cpuUsage(before);
    if ((used.user + used.system) / 1000 < 10) return;
  }
}

async function runOne (engine: Engine, name: string, clock: 'thread' | 'process'): Promise<BudgetRunResult> {
  const cpuBefore = clock === 'thread' ? process.threadCpuUsage() : process.cpuUsage();
  const startedAt = performance.now();
  try {
    const result = await engine.invoke(name, new Uint8Array());
    const wallMs = performance.now() - startedAt;
    // An isolate can go on running on its own thread after the answer: that CPU is the invocation's too.
    if (clock === 'process') await settle();
    const cpu = clock === 'thread' ? process.threadCpuUsage(cpuBefore) : process.cpuUsage(cpuBefore);
    const osCpuMs = (cpu.user + cpu.system) / 1000;
    if (result.ok) return { code: 'ok', chargedCpuMs: result.usage.cpuMs, osCpuMs, wallMs };
    return { code: result.error.code, message: result.error.message.slice(0, 200), chargedCpuMs: result.usage.cpuMs, osCpuMs, wallMs };
  } catch (error) {
    // A rejection (not a failed invocation): the engine refused it, e.g. ERR_UNAVAILABLE.
    const { code, message } = errorFields(error);
    return { code: `rejected ${code}`, message: message.slice(0, 200), wallMs: performance.now() - startedAt };
  }
}

async function main (request: BudgetChildRequest): Promise<void> {
  const engine = await Engine.open({ plugins: [await pluginFor(request.language)], workers: 0 });
  const clock = osClockFor(request.language);
  for (const { index, workload, runs } of request.items) {
    const name = `budget-${workload.workload}`;
    const budget = { cpuMs: workload.cpuMs, wallMs: workload.wallMs, ...(workload.memoryBytes === undefined ? {} : { memoryBytes: workload.memoryBytes }) };
    try {
      await engine.deploy(name, workload.language, new TextEncoder().encode(workload.source), budget);
    } catch (error) {
      await send({ type: 'deploy-failed', index, ...errorFields(error) });
      continue;
    }
    for (let run = 0; run < runs; run++) {
      await send({ type: 'start', index, run });
      await send({ type: 'result', index, run, result: await runOne(engine, name, clock) });
    }
    await engine.remove(name);
  }
  await send({ type: 'done' });
  await engine.close();
}

process.once('message', (request: BudgetChildRequest) => {
  main(request).then(() => process.exit(0), (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
});
