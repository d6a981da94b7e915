// lua and lua54 through the real CLI and a real `springbok serve` child process.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { example, runCli, startEngineProcess, temporaryDir } from './support/engine-process.ts';

test('lua and lua54 functions deploy, run, hit their budgets and leave the engine serving', async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path });
  const env = { SPRINGBOK_SOCKET: engine.socketPath };
  const spin = join(dir.path, 'spin.lua');
  await writeFile(spin, 'return function () pcall(function () while true do end end) end\n');
  const bomb = join(dir.path, 'bomb.lua');
  await writeFile(bomb, 'return function () local t = {} local i = 0 while true do i = i + 1 t[i] = "s" .. i end end\n');
  for (const language of ['lua', 'lua54']) {
    const deployed = await runCli(['deploy', language, `fib-${language}`, example('lua/fib.lua')], { env });
    assert.equal(deployed.code, 0, deployed.stderr);
    const fib = await runCli(['execute', `fib-${language}`, '20'], { env });
    assert.equal(fib.code, 0, fib.stderr);
    assert.equal(fib.stdout, '6765');

    assert.equal((await runCli(['deploy', language, `spin-${language}`, spin, '--cpu-ms', '100'], { env })).code, 0);
    const spun = await runCli(['execute', `spin-${language}`, ''], { env });
    assert.equal(spun.code, 1);
    assert.match(spun.stderr, /ERR_CPU_BUDGET/);

    // A CPU budget far above what filling 16 MiB takes, so a loaded machine still meets the memory budget first.
    assert.equal((await runCli(['deploy', language, `bomb-${language}`, bomb, '--memory-mb', '16', '--cpu-ms', '30000', '--wall-ms', '60000'], { env })).code, 0);
    const bombed = await runCli(['execute', `bomb-${language}`, ''], { env });
    assert.equal(bombed.code, 1);
    assert.match(bombed.stderr, /ERR_MEMORY_BUDGET/);

    const again = await runCli(['execute', `fib-${language}`, '10'], { env });
    assert.equal(again.stdout, '55', again.stderr);

    const broken = join(dir.path, 'broken.lua');
    await writeFile(broken, 'return function (\n');
    const refused = await runCli(['deploy', language, `broken-${language}`, broken], { env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /function\.lua:2:/);
  }
});
