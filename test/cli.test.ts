import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SpringbokClient } from '../dispatchers/client.ts';
import { example, kCli, runCli, startEngineProcess, temporaryDir } from './support/engine-process.ts';

/**
 * Runs the real CLI with a reader on `closed` that takes `keepBytes` bytes and then closes its end
 * of the pipe, as `| head -c N` does (0: closed before the CLI writes anything). Returns the exit
 * status and what the CLI wrote on its other stream.
 */
async function runCliReaderGone (args: string[], env: NodeJS.ProcessEnv, closed: 'stdout' | 'stderr', keepBytes: number): Promise<{ code: number | null, signal: NodeJS.Signals | null, kept: number, other: string }> {
  const child = spawn(process.execPath, [kCli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const reader = child[closed];
  let kept = 0;
  if (keepBytes === 0) reader.destroy();
  else {
    reader.on('data', (chunk: Buffer) => {
      kept += chunk.length;
      if (kept >= keepBytes) reader.destroy();
    });
  }
  let other = '';
  child[closed === 'stdout' ? 'stderr' : 'stdout'].on('data', (chunk: Buffer) => { other += chunk.toString(); });
  const [code, signal] = await once(child, 'close') as [number | null, NodeJS.Signals | null];
  return { code, signal, kept, other };
}

test('the CLI drives a real engine process: deploy, execute, -n, list, remove, restart', async () => {
  await using dir = await temporaryDir();
  const engine = await startEngineProcess({ dir: dir.path });
  const env = { SPRINGBOK_SOCKET: engine.socketPath };
  try {
    const deployed = await runCli(['deploy', 'sm', 'sum', example('sm/sum.sm'), '--cpu-ms', '500'], { env });
    assert.equal(deployed.code, 0, deployed.stderr);
    assert.match(deployed.stdout, /deployed sum \(sm, version 1/);
    assert.equal((await runCli(['deploy', 'sm', 'hello', example('sm/hello.sm')], { env })).code, 0);

    const executed = await runCli(['execute', 'sum', '100'], { env });
    assert.equal(executed.code, 0, executed.stderr);
    assert.equal(executed.stdout, '5050', 'output bytes exactly, nothing added');

    const viaFlag = await runCli(['execute', 'hello', 'world', '--socket', engine.socketPath], { env: { SPRINGBOK_SOCKET: join(dir.path, 'nothing.sock') } });
    assert.equal(viaFlag.stdout, 'hello, world');

    const many = await runCli(['execute', 'sum', '10', '-n', '50'], { env });
    assert.equal(many.code, 0, many.stderr);
    assert.match(many.stdout, /^50 invocations \(concurrency 50\): 50 ok, 0 failed/m);
    assert.match(many.stdout, /latency ms: p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+/);
    assert.match(many.stdout, /output ×50: "55"/);

    const json = await runCli(['execute', 'sum', '4', '--json'], { env });
    const record = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.equal(record.ok, true);
    assert.equal(record.output, '10');
    assert.equal(typeof record.latencyMs, 'number');
    assert.deepEqual(Object.keys(record.usage as object).sort(), ['cpuMs', 'memoryBytes', 'netBytes', 'netRequests']);

    const listed = await runCli(['list'], { env });
    assert.match(listed.stdout, /^NAME +LANGUAGE/);
    assert.match(listed.stdout, /^hello +sm +1 /m);
    assert.match(listed.stdout, /^sum +sm +1 +\w+ +500 /m);

    const stats = await runCli(['stats', '--json'], { env });
    assert.equal((JSON.parse(stats.stdout) as { perFunction: Record<string, { ok: number }> }).perFunction.sum?.ok, 52);

    assert.equal((await runCli(['remove', 'hello'], { env })).code, 0);
    const again = await runCli(['remove', 'hello'], { env });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /ERR_UNKNOWN_FUNCTION/);
    const unknown = await runCli(['execute', 'hello', 'x'], { env });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^ERR_UNKNOWN_FUNCTION: /);

    assert.equal(await engine.stop(), 0);
    const restarted = await startEngineProcess({ dir: dir.path, dataDir: engine.dataDir });
    try {
      const afterRestart = await runCli(['execute', 'sum', '100', '--socket', restarted.socketPath]);
      assert.equal(afterRestart.stdout, '5050');
      const names = (await runCli(['list', '--json', '--socket', restarted.socketPath])).stdout.trim().split('\n').map((line) => (JSON.parse(line) as { name: string }).name);
      assert.deepEqual(names, ['sum']);
    } finally {
      await restarted.stop();
    }
  } finally {
    await engine.stop();
  }
});

test('exit statuses: 1 for a failed function with its code on stderr, 2 for usage errors and no engine', async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path });
  const env = { SPRINGBOK_SOCKET: engine.socketPath };
  assert.equal((await runCli(['deploy', 'sm', 'spin', example('sm/spin.sm'), '--cpu-ms', '50'], { env })).code, 0);
  const spun = await runCli(['execute', 'spin'], { env });
  assert.equal(spun.code, 1);
  assert.match(spun.stderr, /^ERR_CPU_BUDGET: /);
  assert.equal(spun.stdout, '');

  const bad = join(dir.path, 'bad.sm');
  await writeFile(bad, 'push 1\njmp nowhere\n');
  const compile = await runCli(['deploy', 'sm', 'bad', bad], { env });
  assert.equal(compile.code, 1);
  assert.match(compile.stderr, /ERR_COMPILE: .*line 2/);

  assert.equal((await runCli(['deploy', 'sm'], { env })).code, 2);
  assert.equal((await runCli(['execute', 'spin', '-n', 'zero'], { env })).code, 2);
  assert.equal((await runCli(['deploy', 'sm', 'x', join(dir.path, 'missing.sm')], { env })).code, 2);
  assert.equal((await runCli(['frobnicate'], { env })).code, 2);
  const noEngine = await runCli(['list', '--socket', join(dir.path, 'none.sock')]);
  assert.equal(noEngine.code, 2);
  assert.match(noEngine.stderr, /cannot reach an engine/);
  for (const command of ['serve', 'deploy', 'execute', 'list', 'remove', 'stats']) {
    const help = await runCli([command, '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`^Usage: springbok ${command}`));
  }
});

test('a reader that closes the pipe early (| head) ends the CLI quietly with status 141, and the engine keeps serving', async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path });
  const env = { SPRINGBOK_SOCKET: engine.socketPath };
  assert.equal((await runCli(['deploy', 'sm', 'sum', example('sm/sum.sm')], { env })).code, 0);
  const quiet = (result: { code: number | null, signal: NodeJS.Signals | null, other: string }, what: string): void => {
    assert.doesNotMatch(result.other, /Unhandled|EPIPE|Error|\n +at /, `${what}: no stack trace`);
    assert.deepEqual({ code: result.code, signal: result.signal }, { code: 141, signal: null }, `${what}: ${result.other}`);
  };
  // ~3,000 JSON lines are far more than a pipe's buffer (64 KiB): the writes go on after the reader left.
  const many = await runCliReaderGone(['execute', 'sum', '10', '-n', '3000', '--json'], env, 'stdout', 10);
  assert.ok(many.kept >= 10, `read ${many.kept} bytes before closing`);
  quiet(many, 'execute -n --json | head -c 10');
  assert.equal(many.other, '');
  quiet(await runCliReaderGone(['list'], env, 'stdout', 0), 'list with stdout closed');
  quiet(await runCliReaderGone(['--help'], env, 'stdout', 0), '--help with stdout closed');
  const failed = await runCliReaderGone(['execute', 'nothing-here', 'x'], env, 'stderr', 0);
  assert.deepEqual({ code: failed.code, stdout: failed.other }, { code: 141, stdout: '' }, 'an error message to a closed stderr');
  assert.equal((await runCli(['execute', 'sum', '3'], { env })).stdout, '6');
});

test('redeploy under load: every invocation answers, from the old version or the new, none fails', async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path });
  const env = { SPRINGBOK_SOCKET: engine.socketPath };
  assert.equal((await runCli(['deploy', 'sm', 'f', example('sm/sum.sm')], { env })).code, 0);
  await using client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  const outputs = new Set<string>();
  let failures = 0;
  let stop = false;
  const load = Promise.all(Array.from({ length: 16 }, async () => {
    while (!stop) {
      const result = await client.invoke('f', '10');
      if (result.ok) outputs.add(`${result.version}:${result.output.toString()}`);
      else failures++;
    }
  }));
  for (let i = 0; i < 3; i++) {
    const redeployed = await runCli(['deploy', 'sm', 'f', example(i % 2 === 0 ? 'sm/hello.sm' : 'sm/sum.sm')], { env });
    assert.equal(redeployed.code, 0, redeployed.stderr);
  }
  const deadline = Date.now() + 10_000;
  while (!outputs.has('4:hello, 10') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  stop = true;
  await load;
  assert.equal(failures, 0);
  assert.ok(outputs.has('1:55'), [...outputs].join(' '));
  assert.ok(outputs.has('4:hello, 10'), [...outputs].join(' '));
  for (const seen of outputs) assert.match(seen, /^(1:55|2:hello, 10|3:55|4:hello, 10)$/);
});

test('a source larger than a frame is refused with a clear error, and the engine keeps serving', async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path });
  const env = { SPRINGBOK_SOCKET: engine.socketPath };
  const huge = join(dir.path, 'huge.sm');
  await writeFile(huge, Buffer.alloc(50 * 2 ** 20, 0x20));
  const refused = await runCli(['deploy', 'sm', 'huge', huge], { env });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^ERR_SOURCE_TOO_LARGE: the source \(52428800 bytes\)/);
  const ok = await runCli(['deploy', 'sm', 'sum', example('sm/sum.sm')], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await runCli(['execute', 'sum', '3'], { env })).stdout, '6');
});

test('access control: owner-only socket, deploy token for deploy and remove, execute without it', async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path, extraArgs: ['--deploy-token', 's3cret'] });
  assert.equal((await stat(engine.socketPath)).mode & 0o777, 0o600);
  const env = { SPRINGBOK_SOCKET: engine.socketPath };
  const refused = await runCli(['deploy', 'sm', 'sum', example('sm/sum.sm')], { env });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^ERR_UNAUTHORIZED: /);
  assert.equal((await runCli(['deploy', 'sm', 'sum', example('sm/sum.sm'), '--token', 'wrong'], { env })).code, 2);
  assert.equal((await runCli(['deploy', 'sm', 'sum', example('sm/sum.sm'), '--token', 's3cret'], { env })).code, 0);
  assert.equal((await runCli(['deploy', 'sm', 'hello', example('sm/hello.sm')], { env: { ...env, SPRINGBOK_TOKEN: 's3cret' } })).code, 0);
  assert.equal((await runCli(['execute', 'sum', '4'], { env })).stdout, '10');
  assert.equal((await runCli(['remove', 'sum'], { env })).code, 2);
  assert.equal((await runCli(['remove', 'sum', '--token', 's3cret'], { env })).code, 0);
  assert.match((await runCli(['list'], { env })).stdout, /^hello /m);
});
