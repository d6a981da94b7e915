import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { example, runCli, startEngineProcess, temporaryDir } from './support/engine-process.ts';

test('js and quickjs through the real CLI and a `springbok serve` process: examples, budgets, and the engine serves on', async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path });
  const env = { SPRINGBOK_SOCKET: engine.socketPath };
  for (const language of ['js', 'quickjs']) {
    const deployed = await runCli(['deploy', language, 'fib', example('js/fib.js'), '--cpu-ms', '2000'], { env });
    assert.equal(deployed.code, 0, deployed.stderr);
    const fib = await runCli(['execute', 'fib', '20'], { env });
    assert.equal(fib.code, 0, fib.stderr);
    assert.equal(fib.stdout, '6765');

    const spin = join(dir.path, 'spin.js');
    await writeFile(spin, 'export default function () { while (true) {} }');
    assert.equal((await runCli(['deploy', language, 'spin', spin, '--cpu-ms', '100'], { env })).code, 0);
    const spun = await runCli(['execute', 'spin', ''], { env });
    assert.equal(spun.code, 1);
    assert.match(spun.stderr, /^ERR_CPU_BUDGET: /);

    const bomb = join(dir.path, 'bomb.js');
    await writeFile(bomb, 'export default function () { const a = []; for (;;) a.push([a.length]); }');
    assert.equal((await runCli(['deploy', language, 'bomb', bomb, '--memory-mb', '16', '--cpu-ms', '10000'], { env })).code, 0);
    const bombed = await runCli(['execute', 'bomb', ''], { env });
    assert.equal(bombed.code, 1);
    assert.match(bombed.stderr, /^ERR_MEMORY_BUDGET: /);

    const bad = join(dir.path, 'bad.js');
    await writeFile(bad, 'export default function ( {');
    const rejected = await runCli(['deploy', language, 'bad', bad], { env });
    assert.equal(rejected.code, 1);
    assert.match(rejected.stderr, /ERR_COMPILE/);

    const again = await runCli(['execute', 'fib', '10', '-n', '20'], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /20 ok, 0 failed/);
  }
  assert.equal(await engine.stop(), 0, engine.stderr());
});
