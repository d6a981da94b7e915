import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SpringbokClient } from '../dispatchers/client.ts';
import type { StepReport } from '../engine/flows/flow-run.ts';
import { example, httpBase, runCli, startEngineProcess, temporaryDir } from './support/engine-process.ts';

/**
 * Flows through the real engine process, its socket CLI and its HTTP front: the steps are real
 * functions (sm, js, lua) on the engine's scheduler threads.
 */

const kPicky = "export default function (input) { if (input === 'bad') throw new Error('bad item'); return input.toUpperCase(); }";
const kPair = 'export default function (input) { const { a, b } = JSON.parse(input); return JSON.stringify({ greeting: a, sum: b }); }';

interface FlowUsage { readonly cpuMs: number, readonly steps: readonly StepReport[] }

test('flows: chain, join, map, failures, limits, wall budget, deploy checks, HTTP and a restart', async (t) => {
  await using dir = await temporaryDir();
  const engine = await startEngineProcess({ dir: dir.path, extraArgs: ['--http', '127.0.0.1:0'] });
  const env = { SPRINGBOK_SOCKET: engine.socketPath };
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  const writeFlow = async (name: string, flow: unknown): Promise<string> => {
    const path = join(dir.path, `${name}.json`);
    await writeFile(path, typeof flow === 'string' ? flow : JSON.stringify(flow));
    return path;
  };
  const deployFlowCli = async (name: string, flow: unknown, ...flags: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    runCli(['deploy', 'flow', name, await writeFlow(name, flow), ...flags], { env });
  // Most flows go through the client: a CLI process per deploy would take most of the test's time.
  const deployFlow = (name: string, flow: unknown, budget?: { wallMs: number }): Promise<unknown> =>
    client.deploy(name, 'flow', Buffer.from(typeof flow === 'string' ? flow : JSON.stringify(flow)), budget);
  const deployError = (name: string, flow: unknown): Promise<{ code: string, message: string }> =>
    deployFlow(name, flow).then(() => assert.fail(`${name} was deployed`), (error: { code: string, message: string }) => error);
  const invocationsOf = async (name: string): Promise<number> => (await client.stats()).perFunction[name]?.invocations ?? 0;
  const cancelledSpins = async (): Promise<number> => (await client.stats()).perFunction.spin?.errors.ERR_CANCELLED ?? 0;
  /** Waits (up to a second) for the spinning step's cancel to reach spin's stats, and asserts it did. */
  const assertSpinCancelled = async (before: number): Promise<void> => {
    for (let i = 0; i < 50 && await cancelledSpins() === before; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await cancelledSpins(), before + 1, 'the spinning step was cancelled, not left to burn its own budget');
  };
  try {
    await client.deploy('hello', 'sm', await readFile(example('sm/hello.sm')));
    await client.deploy('sum', 'sm', await readFile(example('sm/sum.sm')));
    await client.deploy('spin', 'sm', await readFile(example('sm/spin.sm')), { cpuMs: 3000, wallMs: 10_000 });
    await client.deploy('picky', 'js', Buffer.from(kPicky));
    await client.deploy('pair', 'js', Buffer.from(kPair));

    await t.test('a chain: each step reads the one before', async () => {
      const deployed = await deployFlowCli('greet-twice', { steps: [{ id: 'first', function: 'hello' }, { id: 'second', function: 'hello', input: '$first' }], output: '$second' });
      assert.equal(deployed.code, 0, deployed.stderr);
      assert.match(deployed.stdout, /deployed greet-twice \(flow, version 1/);
      const executed = await runCli(['execute', 'greet-twice', 'world'], { env });
      assert.equal(executed.code, 0, executed.stderr);
      assert.equal(executed.stdout, 'hello, hello, world');
      const listed = (await client.list()).find((fn) => fn.name === 'greet-twice');
      assert.equal(listed?.language, 'flow');
    });

    await t.test('a DAG with a join: two branches run side by side, a third reads both; --json itemises the steps', async () => {
      await deployFlow('join', {
        steps: [
          { id: 'greet', function: 'hello' },
          { id: 'total', function: 'sum' },
          { id: 'both', function: 'pair', input: { a: '$greet', b: '$total' } },
        ],
        output: '$both',
      });
      const executed = await runCli(['execute', 'join', '10', '--json'], { env });
      assert.equal(executed.code, 0, executed.stderr);
      const record = JSON.parse(executed.stdout) as { ok: boolean, output: string, usage: FlowUsage };
      assert.equal(record.ok, true);
      assert.deepEqual(JSON.parse(record.output), { greeting: 'hello, 10', sum: 55 });
      const steps = record.usage.steps;
      assert.deepEqual(steps.map((step) => [step.id, step.function, step.state, step.invocations]), [['greet', 'hello', 'done', 1], ['total', 'sum', 'done', 1], ['both', 'pair', 'done', 1]]);
      const [greet, total, both] = steps as [Required<StepReport>, Required<StepReport>, Required<StepReport>];
      // The join starts only once both branches have ended (times are rounded to the microsecond).
      assert.ok(both.startMs + 0.01 >= Math.max(greet.startMs + greet.wallMs, total.startMs + total.wallMs), JSON.stringify(steps));
      const summed = steps.reduce((cpu, step) => cpu + step.usage.cpuMs, 0);
      assert.ok(Math.abs(record.usage.cpuMs - summed) < 0.01, `flow cpu ${record.usage.cpuMs} is the sum of its steps' ${summed}`);
    });

    await t.test('a map step fans out over a JSON array and joins the outputs in item order', async () => {
      const before = await invocationsOf('sum');
      await deployFlow('triangles', { steps: [{ id: 'each', map: 'sum', over: '$input', concurrency: 4 }], output: '$each' });
      const items = Array.from({ length: 40 }, (_, i) => i + 1);
      const result = await client.invoke('triangles', JSON.stringify(items));
      assert.equal(result.ok, true, JSON.stringify(result));
      assert.deepEqual(JSON.parse(result.ok ? result.output.toString() : ''), items.map((n) => n * (n + 1) / 2));
      assert.equal((result.usage as unknown as FlowUsage).steps[0]!.invocations, 40);
      assert.equal(await invocationsOf('sum') - before, 40, 'each item is an ordinary invocation of sum');
      const empty = await client.invoke('triangles', '[]');
      assert.equal(empty.ok ? empty.output.toString() : empty.error.code, '[]');
    });

    await t.test('the example flow: words, a map over them in Lua, a join in JavaScript', async () => {
      for (const [name, language, file] of [['words', 'js', 'words.js'], ['word-score', 'lua', 'word-score.lua'], ['word-report', 'js', 'word-report.js'], ['word-scores', 'flow', 'word-scores.json']] as const) {
        await client.deploy(name, language, await readFile(example(`flows/${file}`)));
      }
      const executed = await runCli(['execute', 'word-scores', 'The quick brown fox jumps over the lazy dog'], { env });
      assert.equal(executed.code, 0, executed.stderr);
      assert.deepEqual(JSON.parse(executed.stdout), { words: 9, total: 473, best: { word: 'jumps', score: 79 } });
    });

    await t.test('a failed step fails the flow with its id and its code; the steps still running are cancelled', async () => {
      await deployFlow('shout', { steps: [{ id: 'each', map: 'picky', over: '$input', concurrency: 1 }], output: '$each' });
      const shouted = await client.invoke('shout', '["a","b"]');
      assert.equal(shouted.ok ? shouted.output.toString() : shouted.error.message, '["A","B"]');
      const failed = await runCli(['execute', 'shout', '["a","bad","c"]'], { env });
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /^ERR_FUNCTION: step "each" item 1 \(function picky\): .*bad item/);

      await deployFlow('doomed', { steps: [{ id: 'slow', function: 'spin' }, { id: 'broken', function: 'picky', input: 'bad' }, { id: 'after', function: 'hello', input: '$broken' }], output: '$after' });
      const spinsBefore = await cancelledSpins();
      const startedAt = performance.now();
      const result = await client.invoke('doomed', '');
      assert.equal(result.ok, false);
      assert.equal(result.ok ? '' : result.error.code, 'ERR_FUNCTION');
      assert.match(result.ok ? '' : result.error.message, /^step "broken" \(function picky\)/);
      assert.ok(performance.now() - startedAt < 2500, 'the flow did not wait for the spinning step');
      const states = Object.fromEntries((result.usage as unknown as FlowUsage).steps.map((step) => [step.id, step.state]));
      assert.deepEqual(states, { slow: 'cancelled', broken: 'failed', after: 'not-run' });
      await assertSpinCancelled(spinsBefore);
    });

    await t.test('a fan-out bomb is refused before any item runs', async () => {
      const before = await invocationsOf('sum');
      const bomb = await client.invoke('triangles', JSON.stringify(Array.from({ length: 5000 }, () => 1)));
      assert.equal(bomb.ok ? '' : bomb.error.code, 'ERR_INVALID_ARGUMENT');
      assert.match(bomb.ok ? '' : bomb.error.message, /^step "each" \(function sum\): map over more than 100 items is refused \(the step's maxItems\)/);
      assert.equal(await invocationsOf('sum'), before);
      const tooMany = await deployError('greedy', { steps: [{ id: 'each', map: 'sum', over: '$input', maxItems: 1_000_000 }], output: '$each' });
      assert.equal(tooMany.code, 'ERR_COMPILE');
      assert.match(tooMany.message, /^flow: step "each": "maxItems" must be an integer from 1 to 1000/);
      const wide = await deployError('wide', { steps: Array.from({ length: 65 }, (_, i) => ({ id: `s${i}`, function: 'hello' })), output: '$s0' });
      assert.match(wide.message, /^flow: 65 steps is over the limit of 64/);
    });

    await t.test('the flow\'s wall budget (deploy --wall-ms) ends it and cancels its running step', async () => {
      const deployed = await deployFlowCli('impatient', { steps: [{ id: 'forever', function: 'spin' }], output: '$forever' }, '--wall-ms', '300');
      assert.equal(deployed.code, 0, deployed.stderr);
      const spinsBefore = await cancelledSpins();
      const startedAt = performance.now();
      const result = await client.invoke('impatient', '');
      const elapsed = performance.now() - startedAt;
      assert.equal(result.ok ? '' : result.error.code, 'ERR_WALL_TIMEOUT');
      assert.match(result.ok ? '' : result.error.message, /flow wall-clock budget of 300 ms passed \(still running: step forever\)/);
      // spin's own budgets (3 s of CPU, 10 s of wall) would have let it run far longer.
      assert.ok(elapsed >= 290 && elapsed < 2500, `ended after ${elapsed} ms`);
      await assertSpinCancelled(spinsBefore);
    });

    await t.test('deploy refuses a bad flow and names the step at fault', async () => {
      const cases: [unknown, RegExp][] = [
        [{ steps: [{ id: 'a', function: 'hello', inputs: '$input' }], output: '$a' }, /step "a": unknown field "inputs"/],
        [{ steps: [{ id: 'a', function: 'hello', input: '$c' }, { id: 'b', function: 'hello', input: '$a' }, { id: 'c', function: 'hello', input: '$b' }], output: '$c' }, /step "a": its inputs form a cycle, a → c → b → a/],
        [{ steps: [{ id: 'a', function: 'not-deployed' }], output: '$a' }, /step "a": no function named "not-deployed" is deployed/],
        [{ steps: [{ id: 'a', function: 'hello', input: '$ghost' }], output: '$a' }, /step "a": \$ghost names no step/],
        [{ steps: [{ id: 'a', function: 'greet-twice' }], output: '$a' }, /step "a": "greet-twice" is a flow/],
        [{ steps: [{ id: 'a', function: 'hello' }], output: '$a', retries: 3 }, /unknown field "retries"/],
        ['{"steps": [', /not valid UTF-8 JSON/],
      ];
      for (const [flow, message] of cases) {
        const refused = await deployError('bad', flow);
        assert.equal(refused.code, 'ERR_COMPILE', JSON.stringify(flow));
        assert.match(refused.message, /^flow: /);
        assert.match(refused.message, message);
      }
      const viaCli = await deployFlowCli('bad', cases[1]![0]);
      assert.equal(viaCli.code, 1);
      assert.match(viaCli.stderr, /^ERR_COMPILE: flow: step "a": its inputs form a cycle, a → c → b → a/);
      assert.equal((await client.list()).some((fn) => fn.name === 'bad'), false);
    });

    await t.test('the HTTP front runs flows at /functions/NAME', async () => {
      const base = httpBase(engine);
      const answer = await fetch(`${base}/functions/greet-twice`, { method: 'POST', body: 'web' });
      assert.equal(answer.status, 200);
      assert.equal(await answer.text(), 'hello, hello, web');
      const failed = await fetch(`${base}/functions/shout`, { method: 'POST', body: '["bad"]' });
      const body = await failed.json() as { error: { code: string, message: string }, usage: FlowUsage };
      assert.equal(body.error.code, 'ERR_FUNCTION');
      assert.match(body.error.message, /^step "each" item 0/);
      assert.equal(body.usage.steps[0]!.state, 'failed');
    });

    await t.test('a stored flow comes back after a restart', async () => {
      await client.close();
      assert.equal(await engine.stop(), 0);
      await using again = await startEngineProcess({ dir: dir.path, dataDir: engine.dataDir });
      await using restarted = await SpringbokClient.connect({ socketPath: again.socketPath });
      const result = await restarted.invoke('join', '4');
      assert.deepEqual(JSON.parse(result.ok ? result.output.toString() : result.error.message), { greeting: 'hello, 4', sum: 10 });
      assert.equal((await restarted.list()).find((fn) => fn.name === 'join')?.language, 'flow');
    });
  } finally {
    await client.close();
    await engine.stop();
  }
});
