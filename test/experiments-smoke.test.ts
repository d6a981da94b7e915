import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { kRoot, temporaryDir } from './support/engine-process.ts';

/**
 * Every benchmark executable in experiments/ runs in its --quick mode (the smoke run CI does),
 * exits 0 and writes a JSON result naming itself. The figures themselves are not asserted: timing
 * belongs to the benchmarks, on a quiet machine.
 */
const experiments = (await readdir(join(kRoot, 'experiments'))).filter((file) => file.endsWith('.ts')).sort();
const needsToolchain = new Set(['c-wasm.ts', 'network-rate.ts']);
const toolchain = findToolchain();

for (const file of experiments) {
  test(`experiments/${file} --quick`, { skip: needsToolchain.has(file) && 'missing' in toolchain ? toolchain.missing : false }, async () => {
    await using dir = await temporaryDir();
    const out = join(dir.path, 'result.json');
    const child = spawn(process.execPath, [join(kRoot, 'experiments', file), '--quick', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const [code] = await once(child, 'close') as [number | null];
    assert.equal(code, 0, output.slice(-3000));
    const result = JSON.parse(await readFile(out, 'utf8')) as { experiment?: string, quick?: boolean };
    assert.equal(result.experiment, file.replace(/\.ts$/, ''));
    assert.equal(result.quick, true);
  });
}
