import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClusterClient } from '../engine/cluster/cluster-client.ts';
import { ClusterStore } from '../engine/cluster/cluster-store.ts';
import { connectCluster } from '../engine/cluster/connection.ts';
import { findNatsServer, LocalNatsCluster } from '../engine/cluster/local-nats-cluster.ts';
import { SpringbokClient, type ClientInvokeResult } from '../dispatchers/client.ts';
import { EngineError } from '../engine/errors.ts';
import { example, startEngineProcess, temporaryDir, type EngineProcess } from './support/engine-process.ts';

const kSkip = findNatsServer() === undefined ? 'nats-server is not installed (on Debian: apt-get install -y nats-server; .ci/run and npm test install it when root)' : false;

/** A call through NATS that the caller retries once when it got no answer (the engine that took it died). */
interface Call {
  readonly firstError: string | undefined;
  readonly result: ClientInvokeResult | undefined;
  readonly finalError: string | undefined;
}

async function callWithOneRetry (client: ClusterClient, name: string, input: string): Promise<Call> {
  let firstError: string | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      return { firstError, result: await client.invoke(name, input), finalError: undefined };
    } catch (error) {
      const code = error instanceof EngineError ? error.code : String(error);
      if (attempt === 1 || code !== 'ERR_CONNECTION') return { firstError: firstError ?? code, result: undefined, finalError: code };
      firstError = code;
    }
  }
  throw new Error('unreachable');
}

/** Calls `name` from `concurrency` loops until `stop` resolves; every call's fate. */
async function steadyLoad (client: ClusterClient, name: string, concurrency: number, stop: Promise<void>): Promise<Call[]> {
  const calls: Call[] = [];
  let stopped = false;
  void stop.then(() => { stopped = true; });
  await Promise.all(Array.from({ length: concurrency }, async (_, loop) => {
    for (let i = 0; !stopped; i++) calls.push(await callWithOneRetry(client, name, String(10 + (loop + i) % 5)));
  }));
  return calls;
}

function summary (calls: readonly Call[]): string {
  const count = (pick: (call: Call) => string | undefined): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const call of calls) { const key = pick(call); if (key !== undefined) counts[key] = (counts[key] ?? 0) + 1; }
    return counts;
  };
  return JSON.stringify({ calls: calls.length, firstErrors: count((call) => call.firstError), finalErrors: count((call) => call.finalError) });
}

async function startEngines (dir: string, urls: string, count: number, round: string): Promise<EngineProcess[]> {
  return Promise.all(Array.from({ length: count }, (_, index) => startEngineProcess({ dir, dataDir: join(dir, `${round}-engine-${index}`), extraArgs: ['--cluster', urls, '--workers', '0'] })));
}

async function withClient<T> (engine: EngineProcess, work: (client: SpringbokClient) => Promise<T>): Promise<T> {
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  try { return await work(client); } finally { await client.close(); }
}

/** Waits until `engine` lists `name` at `version`, or not at all for undefined (engines apply other engines' changes as the bucket tells them). */
async function waitForVersion (engine: EngineProcess, name: string, version: number | undefined, withinMs = 10_000): Promise<void> {
  const giveUpAt = performance.now() + withinMs;
  while (performance.now() < giveUpAt) {
    const listed = await withClient(engine, (client) => client.list());
    if (listed.find((info) => info.name === name)?.version === version) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`${name} version ${version} did not reach the engine in ${withinMs} ms; its stderr: ${engine.stderr()}`);
}

test('a 3-engine cluster on 3 NATS servers: deploy on A, call through C and NATS; kill -9 an engine under load, then a NATS server; restart everything', { skip: kSkip, timeout: 120_000 }, async () => {
  await using dir = await temporaryDir('springbok-cluster-');
  const nats = await LocalNatsCluster.start(dir.path, 3);
  const engines = await startEngines(dir.path, nats.urls, 3, 'first');
  const caller = await ClusterClient.connect(nats.urls, { timeoutMs: 2_000 });
  // Set by the load below; the finally stops it too, or a failed assertion would leave its loops calling forever.
  let stopLoad = (): void => {};
  try {
    const [a, b, c] = engines as [EngineProcess, EngineProcess, EngineProcess];
    assert.match(a.readyLine, /cluster=nats:\/\/127\.0\.0\.1:\d+.* replicas=3/);
    const hello = await readFile(example('sm/hello.sm'));
    const fib = await readFile(example('sm/fib.sm'));
    const acknowledged = new Map<string, number>();

    // Deploy on A; C and NATS both reach it.
    const deployed = await withClient(a, (client) => client.deploy('hello', 'sm', hello));
    assert.equal(deployed.version, 1);
    acknowledged.set('hello', deployed.version);
    await waitForVersion(c, 'hello', 1);
    const throughC = await withClient(c, (client) => client.invoke('hello', 'C'));
    assert.equal(throughC.ok && throughC.output.toString(), 'hello, C');
    const throughNats = await caller.invoke('hello', 'NATS');
    assert.equal(throughNats.ok && throughNats.output.toString(), 'hello, NATS');

    // Versions are the cluster's, not an engine's: B deploys version 2, and two engines deploying
    // at once never hand out the same version.
    assert.equal((await withClient(b, (client) => client.deploy('hello', 'sm', hello))).version, 2);
    const racing = await Promise.allSettled([a, c].map((engine) => withClient(engine, (client) => client.deploy('hello', 'sm', hello))));
    const versions = racing.flatMap((settled) => settled.status === 'fulfilled' ? [settled.value.version] : []);
    assert.ok(versions.length >= 1, `at least one of two racing deploys succeeds: ${JSON.stringify(racing)}`);
    assert.equal(new Set(versions).size, versions.length, `racing deploys got distinct versions: ${versions.join(', ')}`);
    for (const settled of racing) if (settled.status === 'rejected') assert.match(String(settled.reason), /ERR_UNAVAILABLE.*another engine/);
    acknowledged.set('hello', Math.max(...versions));

    await withClient(a, (client) => client.deploy('fib', 'sm', fib));
    acknowledged.set('fib', 1);
    await Promise.all(engines.map((engine) => waitForVersion(engine, 'fib', 1)));

    // kill -9 engine B under a steady load through NATS: what B had in flight gets no answer
    // (ERR_CONNECTION after the caller's timeout) and is retried once; every call ends ok.
    const loadDone = new Promise<void>((resolve) => { stopLoad = resolve; });
    const load = steadyLoad(caller, 'fib', 8, loadDone);
    await new Promise((resolve) => setTimeout(resolve, 800));
    b.child.kill('SIGKILL');
    // Deploys go on while B is dead: each acknowledged one must survive everything below.
    for (let i = 0; i < 3; i++) {
      const info = await withClient(a, (client) => client.deploy(`during-${i}`, 'sm', hello));
      acknowledged.set(`during-${i}`, info.version);
    }
    // A remove on C reaches A; the name's next deploy goes on from the removed version.
    await waitForVersion(c, 'during-2', 1);
    assert.equal(await withClient(c, (client) => client.remove('during-2')), true);
    await waitForVersion(a, 'during-2', undefined);
    const redeployed = await withClient(a, (client) => client.deploy('during-2', 'sm', hello));
    assert.equal(redeployed.version, 2);
    acknowledged.set('during-2', redeployed.version);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    stopLoad();
    const calls = await load;
    const wrong = calls.filter((call) => call.result === undefined || !call.result.ok);
    // Counted, not compared: a diff of thousands of calls would take the test's whole timeout to print.
    assert.equal(wrong.length, 0, `every call succeeds, at worst on its retry: ${summary(calls)} ${JSON.stringify(wrong.slice(0, 3))}`);
    const retried = calls.filter((call) => call.firstError !== undefined);
    assert.ok(retried.length <= 8, `only the calls in flight on B (at most the 8 loops) needed a retry: ${summary(calls)}`);
    for (const call of retried) assert.equal(call.firstError, 'ERR_CONNECTION');
    assert.ok(calls.length > 50, `the load kept going: ${summary(calls)}`);

    // Kill one NATS server: JetStream keeps a quorum of 2 of 3, the clients reconnect elsewhere.
    await nats.kill(nats.servers[0]!);
    const afterNatsKill = await Promise.all(Array.from({ length: 20 }, (_, i) => callWithOneRetry(caller, 'hello', `n${i}`)));
    assert.equal(afterNatsKill.filter((call) => call.result === undefined || !call.result.ok).length, 0, summary(afterNatsKill));
    const late = await withClient(c, (client) => client.deploy('after-nats-kill', 'sm', hello));
    acknowledged.set('after-nats-kill', late.version);
    // JetStream may still be electing the leaders the lost server held (seconds): the engine reads the change once it can.
    await waitForVersion(a, 'after-nats-kill', late.version, 30_000);

    // Restart everything, engines with empty data dirs: every acknowledged deploy comes back from the cluster.
    // The servers are shut down, not killed: one of three killed above is the crash JetStream is built to
    // survive; a crash of the other two at once may lose its latest writes (doc/cluster.md, "Faults").
    await Promise.all([a, c].map((engine) => engine.stop()));
    await nats.stop('SIGTERM');
    for (const server of nats.servers) await nats.startServer(server);
    // The restarted servers elect the buckets' leaders first; the registry's own reader waits for that and shows what it holds.
    const probe = await connectCluster(nats.urls, 'springbok test');
    const store = await ClusterStore.open(probe, 3, () => {});
    const stored = await store.load();
    await store.close();
    await probe.close();
    assert.deepEqual(stored.unreadable, []);
    assert.deepEqual(Object.fromEntries(stored.records.map((record) => [record.name, record.version]).sort()), Object.fromEntries([...acknowledged].sort()));
    const restarted = await startEngines(dir.path, nats.urls, 3, 'second');
    engines.push(...restarted);
    for (const engine of restarted) {
      const listed = new Map((await withClient(engine, (client) => client.list())).map((info) => [info.name, info.version]));
      assert.deepEqual(Object.fromEntries([...acknowledged].sort()), Object.fromEntries([...listed].filter(([name]) => acknowledged.has(name)).sort()), `after the restart: ${engine.stderr()}`);
      assert.equal(listed.size, acknowledged.size);
    }
    const again = await callWithOneRetry(caller, 'fib', '10');
    assert.equal(again.result?.ok === true && again.result.output.toString(), '55', summary([again]));
  } finally {
    stopLoad();
    await caller.close();
    for (const engine of engines) engine.child.kill('SIGKILL');
    await nats.stop();
  }
});

test('a saturated engine stops taking calls from NATS: callers get ERR_QUEUE_FULL at once, never silence', { skip: kSkip, timeout: 60_000 }, async () => {
  await using dir = await temporaryDir('springbok-cluster-');
  const nats = await LocalNatsCluster.start(dir.path, 1);
  const engine = await startEngineProcess({ dir: dir.path, extraArgs: ['--cluster', nats.urls, '--workers', '0', '--max-in-flight', '2'] });
  const caller = await ClusterClient.connect(nats.urls, { timeoutMs: 20_000 });
  try {
    assert.match(engine.readyLine, /replicas=1/);
    await withClient(engine, async (client) => {
      await client.deploy('spin', 'sm', await readFile(example('sm/spin.sm')), { cpuMs: 1_000 });
      await client.deploy('hello', 'sm', await readFile(example('sm/hello.sm')));
    });
    const startedAt = performance.now();
    const outcomes = await Promise.all(Array.from({ length: 12 }, async () => {
      try {
        const result = await caller.invoke('spin');
        return { code: result.ok ? 'ok' : result.error.code, ms: performance.now() - startedAt };
      } catch (error) {
        return { code: (error as EngineError).code, ms: performance.now() - startedAt };
      }
    }));
    const codes = outcomes.map((outcome) => outcome.code);
    assert.ok(codes.every((code) => code === 'ERR_CPU_BUDGET' || code === 'ERR_QUEUE_FULL'), JSON.stringify(outcomes));
    assert.ok(codes.filter((code) => code === 'ERR_CPU_BUDGET').length >= 2, `the engine ran what it took: ${JSON.stringify(outcomes)}`);
    const refused = outcomes.filter((outcome) => outcome.code === 'ERR_QUEUE_FULL');
    assert.ok(refused.length >= 6, `the rest was refused: ${JSON.stringify(outcomes)}`);
    // Refusals come within the client's half second of asking again, not after the running calls' second of CPU each.
    for (const outcome of refused) assert.ok(outcome.ms < 1_500, JSON.stringify(outcomes));
    // Once the engine has room it takes calls again.
    const giveUpAt = performance.now() + 5_000;
    let after: ClientInvokeResult | undefined;
    while (after === undefined && performance.now() < giveUpAt) {
      after = await caller.invoke('hello', 'again').catch(() => undefined);
      if (after === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(after?.ok === true && after.output.toString(), 'hello, again');
  } finally {
    await caller.close();
    await engine.stop();
    await nats.stop();
  }
});
