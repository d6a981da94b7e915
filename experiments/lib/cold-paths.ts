import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Budget } from '../../engine/budget.ts';
import type { FunctionInfo } from '../../engine/engine-types.ts';

/** What the engine API and the socket client both offer: the cold paths are measured through either. */
export interface FunctionHost {
  deploy (name: string, language: string, source: Uint8Array, budget?: Partial<Budget>): Promise<unknown>;
  invoke (name: string, input: Uint8Array): Promise<{ ok: true, output: Uint8Array } | { ok: false }>;
  remove (name: string): Promise<boolean>;
  list (): readonly FunctionInfo[] | Promise<readonly FunctionInfo[]>;
}

/** The three ways a call finds its function: never instantiated since its deploy, evicted since its last call, or live. */
export type ColdMode = 'after-deploy' | 'after-eviction' | 'warm';

export interface ColdPathOptions {
  /** Timed calls. */
  readonly samples: number;
  /** Untimed rounds before the timed ones: they warm the engine's own code, as a long-running engine's is. */
  readonly warmUpRounds: number;
  /** Idle time before each cold call, in ms (for a plugin to replace the spare instance the last cold start took). */
  readonly idleMs: number;
  /** Echoed by the function: a call counts only if its output is the input. */
  readonly input: Uint8Array;
}

/** Every timed call's latency (failed ones too, so failing fast cannot look fast) and how many failed. */
export interface ModeSamples {
  readonly latenciesMs: number[];
  failures: number;
}

const kEvictAttempts = 3;

// Each path's calls are checked to be on it (the function's state in list(): 'compiled', 'ready',
// 'evicted') before they are timed. An unexpected state throws: a figure for the wrong path is worse than none.

/** (a) A new deploy of `source`, its first call (the first instance of the compiled function), then removed; once per round. */
export async function afterDeploy (host: FunctionHost, language: string, source: Uint8Array, options: ColdPathOptions): Promise<ModeSamples> {
  let deploys = 0;
  return rounds(options, async (into) => {
    const name = `cold-${language}-${deploys++}`;
    await host.deploy(name, language, source);
    await expectState(host, name, 'compiled');
    if (options.idleMs > 0) await sleep(options.idleMs);
    await timedCall(host, name, options.input, into);
    await host.remove(name);
  });
}

/** (c) Calls to a live instance, one after the other as under steady traffic. */
export async function warm (host: FunctionHost, language: string, source: Uint8Array, options: ColdPathOptions): Promise<ModeSamples> {
  const name = `warm-${language}`;
  await host.deploy(name, language, source);
  try {
    return await rounds(options, async (into) => {
      if (into !== undefined) await expectState(host, name, 'ready');
      await timedCall(host, name, options.input, into);
    });
  } finally {
    await host.remove(name);
  }
}

/**
 * (b) The first call after the function's instance was evicted: `evictIdle` makes the host evict
 * it (by calling other functions that need the room under a small instance-memory ceiling).
 */
export async function afterEviction (host: FunctionHost, language: string, source: Uint8Array, options: ColdPathOptions & { readonly evictIdle: () => Promise<void> }): Promise<ModeSamples> {
  const name = `evicted-${language}`;
  await host.deploy(name, language, source);
  try {
    await host.invoke(name, options.input);
    return await rounds(options, async (into) => {
      await evict(host, name, options.evictIdle);
      if (options.idleMs > 0) await sleep(options.idleMs);
      await timedCall(host, name, options.input, into);
    });
  } finally {
    await host.remove(name);
  }
}

/** Runs the warm-up rounds (given no samples to add to), then the timed ones. */
async function rounds (options: ColdPathOptions, round: (into: ModeSamples | undefined) => Promise<void>): Promise<ModeSamples> {
  const samples: ModeSamples = { latenciesMs: [], failures: 0 };
  for (let i = 0; i < options.warmUpRounds + options.samples; i++) await round(i < options.warmUpRounds ? undefined : samples);
  return samples;
}

async function timedCall (host: FunctionHost, name: string, input: Uint8Array, into: ModeSamples | undefined): Promise<void> {
  const t0 = performance.now();
  let ok = false;
  try {
    const result = await host.invoke(name, input);
    ok = result.ok && Buffer.from(result.output).equals(input);
  } catch {}
  const ms = performance.now() - t0;
  if (into === undefined) return;
  into.latenciesMs.push(ms);
  if (!ok) into.failures++;
}

async function stateOf (host: FunctionHost, name: string): Promise<string | undefined> {
  return (await host.list()).find((info) => info.name === name)?.state;
}

async function expectState (host: FunctionHost, name: string, expected: string): Promise<void> {
  const state = await stateOf(host, name);
  if (state !== expected) throw new Error(`${name} is ${state ?? 'not deployed'} where it should be ${expected}: the call would not measure what it is counted for`);
}

/** Evicts idle instances until `name`'s is gone; an eviction can land on another scheduler thread, so it is retried a few times. */
async function evict (host: FunctionHost, name: string, evictIdle: () => Promise<void>): Promise<void> {
  for (let attempt = 1; attempt < kEvictAttempts; attempt++) {
    await evictIdle();
    if (await stateOf(host, name) === 'evicted') return;
  }
  await evictIdle();
  await expectState(host, name, 'evicted');
}
