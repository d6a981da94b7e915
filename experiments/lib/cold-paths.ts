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
export const kColdModes = ['after-deploy', 'after-eviction', 'warm'] as const;
export type ColdMode = typeof kColdModes[number];

export interface ColdPathOptions {
  /** Timed calls per mode. */
  readonly samples: number;
  /** Untimed rounds before each mode's timed ones: they warm the engine's own code, as a long-running engine's is. */
  readonly warmUpRounds: number;
  /**
   * Idle time before each cold call, in ms: cold calls come between other work, not back to back,
   * and pooling plugins replace the spare a cold start took in the meantime (quickjs after 20 ms).
   */
  readonly idleMs: number;
  /** Echoed by the function: a call counts only if its output is the input. */
  readonly input: Uint8Array;
  /** Makes the host evict every idle instance (runs a function that needs the whole instance-memory ceiling). */
  readonly evictIdle: () => Promise<void>;
}

/** Every timed call's latency (failed ones too, so failing fast cannot look fast) and how many failed. */
export interface ModeSamples {
  readonly latenciesMs: number[];
  failures: number;
}

const kEvictAttempts = 3;

/**
 * Measures one language's three paths to a running call through `host`, each call verified to be
 * on the path it is counted for (the function's state in list(): 'compiled', 'evicted', 'ready')
 * before it is timed. An unexpected state throws: a figure for the wrong path is worse than none.
 */
export async function measureColdPaths (host: FunctionHost, language: string, source: Uint8Array, options: ColdPathOptions): Promise<Record<ColdMode, ModeSamples>> {
  const result: Record<ColdMode, ModeSamples> = { 'after-deploy': newSamples(), 'after-eviction': newSamples(), warm: newSamples() };
  const rounds = (mode: ColdMode, round: (into: ModeSamples | undefined) => Promise<void>): Promise<void> => repeat(options.warmUpRounds + options.samples, (i) => round(i < options.warmUpRounds ? undefined : result[mode]));

  // (a) A new deploy, its first call (the first instance of the compiled function), then removed.
  let deploys = 0;
  await rounds('after-deploy', async (into) => {
    const name = `cold-${language}-${deploys++}`;
    await host.deploy(name, language, source);
    await expectState(host, name, 'compiled');
    await sleep(options.idleMs);
    await timedCall(host, name, options.input, into);
    await host.remove(name);
  });

  const name = `kept-${language}`;
  await host.deploy(name, language, source);
  // (c) Warm: the instance is live; calls follow each other as under steady traffic.
  await rounds('warm', async (into) => {
    if (into !== undefined) await expectState(host, name, 'ready');
    await timedCall(host, name, options.input, into);
  });

  // (b) Evicted by another function's need for room, then called again (a restore).
  await rounds('after-eviction', async (into) => {
    await evict(host, name, options.evictIdle);
    await sleep(options.idleMs);
    await timedCall(host, name, options.input, into);
  });
  await host.remove(name);
  return result;
}

function newSamples (): ModeSamples {
  return { latenciesMs: [], failures: 0 };
}

async function repeat (count: number, round: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < count; i++) await round(i);
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
