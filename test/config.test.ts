import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configKey, envName } from '../dispatchers/cli/config.ts';
import { example, httpBase, runCli, startEngineProcess, temporaryDir } from './support/engine-process.ts';
import { readFile } from 'node:fs/promises';

test('option names: SPRINGBOK_ and the flag in capitals; the file key is the flag in camelCase', () => {
  assert.equal(envName('max-in-flight-per-function'), 'SPRINGBOK_MAX_IN_FLIGHT_PER_FUNCTION');
  assert.equal(configKey('max-in-flight-per-function'), 'maxInFlightPerFunction');
  assert.equal(configKey('http'), 'http');
});

test('serve options: a flag beats the environment, which beats the config file, which beats the default', { timeout: 60_000 }, async () => {
  await using dir = await temporaryDir();
  const configPath = join(dir.path, 'springbok.json');
  await writeFile(configPath, JSON.stringify({
    http: '127.0.0.1:0', // only in the file: the engine must serve HTTP
    cpuMs: 300, // also in the environment and as a flag
    wallMs: 3000, // also in the environment
    memoryMb: 5, // only here
    allowHost: ['file.example'],
  }));
  await using engine = await startEngineProcess({
    dir: dir.path,
    extraArgs: ['--config', configPath, '--cpu-ms', '100'],
    env: { SPRINGBOK_CPU_MS: '200', SPRINGBOK_WALL_MS: '2000', SPRINGBOK_ALLOW_HOST: 'env.example, other.example' },
  });
  const base = httpBase(engine);
  const deployed = await fetch(`${base}/functions/hello?language=sm`, { method: 'PUT', body: await readFile(example('sm/hello.sm')) });
  assert.equal(deployed.status, 200);
  const { budget } = ((await deployed.json()) as { function: { budget: Record<string, unknown> } }).function;
  assert.equal(budget.cpuMs, 100, 'flag beats environment and file');
  assert.equal(budget.wallMs, 2000, 'environment beats file');
  assert.equal(budget.memoryBytes, 5 * 2 ** 20, 'file beats default');
  assert.equal(budget.netRequests, 16, 'default when given nowhere');
  assert.deepEqual(budget.allowHosts, ['env.example', 'other.example'], 'a list in the environment is comma-separated');
  assert.equal(await engine.stop(), 0);
});

test('a bad option stops serve with exit status 2 and a message naming the option where it was given', { timeout: 60_000 }, async () => {
  await using dir = await temporaryDir();
  const write = async (name: string, content: string): Promise<string> => {
    const path = join(dir.path, name);
    await writeFile(path, content);
    return path;
  };
  const args = ['serve', '--socket', join(dir.path, 'never.sock'), '--data-dir', join(dir.path, 'data')];
  const cases: { args?: string[], env?: NodeJS.ProcessEnv, expected: RegExp }[] = [
    { env: { SPRINGBOK_MAX_IN_FLIGHT: 'lots' }, expected: /^SPRINGBOK_MAX_IN_FLIGHT must be an integer from 1 to 10000000: got "lots"/ },
    { args: ['--http', 'nowhere'], expected: /^--http must be HOST:PORT/ },
    { args: ['--slice-ms', '0'], expected: /^--slice-ms must be a number from 0.05 to 1000: got "0"/ },
    { args: ['--config', await write('zero.json', '{"maxInFlight": 0}')], expected: /^"maxInFlight" in \S+zero\.json must be an integer from 1/ },
    { args: ['--config', await write('typo.json', '{"maxInflight": 5}')], expected: /unknown option "maxInflight"/ },
    { args: ['--config', await write('cpu.json', '{"cpuMs": 0}')], expected: /^"cpuMs" in \S+cpu\.json: budget\.cpuMs must be an integer from 1/ },
    { env: { SPRINGBOK_CONFIG: await write('broken.json', '{"http": ') }, expected: /broken\.json is not valid JSON/ },
    { args: ['--config', join(dir.path, 'missing.json')], expected: /missing\.json cannot be read/ },
    // The flag wins even over a bad environment value: nothing else is looked at.
    { args: ['--max-in-flight=0'], env: { SPRINGBOK_MAX_IN_FLIGHT: '5' }, expected: /^--max-in-flight must be an integer/ },
  ];
  const results = await Promise.all(cases.map((c) => runCli([...args, ...(c.args ?? [])], { env: c.env ?? {} })));
  for (const [i, result] of results.entries()) {
    assert.equal(result.code, 2, `case ${i}: ${result.stderr}`);
    assert.match(result.stderr, cases[i]!.expected, `case ${i}`);
    assert.doesNotMatch(result.stdout, /springbok ready/);
  }
});
