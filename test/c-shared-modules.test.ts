import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { kDefaultBudget } from '../engine/budget.ts';
import { cPlugin } from '../plugins/wasm/index.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { temporaryDir } from './support/engine-process.ts';

/**
 * A C function is compiled once per process: the plugin instance that compiles it (one per
 * scheduler thread) offers the module to the others (plugins/wasm/shared-modules.ts), which take it
 * instead of compiling again. Shown without timing: the second plugin is given an aborted signal,
 * which any compile of its own would obey.
 */
const found = findToolchain();
const skip = 'missing' in found ? found.missing : false;
const source = (text: string): Uint8Array => Buffer.from(`#include <springbok.h>\nint handler(const char *input, size_t len) { sb_output("${text}", ${text.length}); return 0; }\n`);

test('a module compiled by one plugin instance is taken by another without compiling, and only for the same source', { skip }, async () => {
  await using dir = await temporaryDir();
  const first = cPlugin();
  const second = cPlugin();
  try {
    await first.compile(source('shared'), { signal: new AbortController().signal, cacheDir: dir.path });
    const aborted = AbortSignal.abort(new Error('no compiling here'));
    let artifact: unknown;
    for (let attempt = 0; artifact === undefined && attempt < 100; attempt++) {
      await sleep(20); // the module crosses over a BroadcastChannel
      artifact = await second.compile(source('shared'), { signal: aborted }).catch(() => undefined);
    }
    assert.notEqual(artifact, undefined, 'the second instance compiled (or failed) instead of taking the module');
    await assert.rejects(second.compile(source('other'), { signal: aborted }), { code: 'ERR_COMPILE' });
    // The module it took makes a sandbox like its own would.
    const sandbox = await second.instantiate(artifact, { ...kDefaultBudget, cpuMs: 100, wallMs: 1000, memoryBytes: 1 << 20, netRequests: 0, netBytes: 0, netRateBytesPerSec: 0, allowHosts: [] });
    await sandbox.close();
  } finally {
    await first.close?.();
    await second.close?.();
  }
});
