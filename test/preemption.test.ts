import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { Engine } from '../engine/index.ts';
import { kRoot } from './support/engine-process.ts';

/**
 * A scheduler thread ends the slice in progress when the main thread sends it work (engine/preemption.ts).
 * With one thread and a 50 ms slice, a light function called again and again beside a CPU hog would
 * wait out nearly a whole hog slice per call (its answer goes out, the hog's slice starts, the next
 * call arrives); preempted, it waits for the hog's next clock check.
 */
const kThreadPlugins = new URL('./support/test-plugins.ts', import.meta.url).href;
const kSliceMs = 50;

test('a light function beside a CPU hog on a one-thread engine waits for the hog\'s next clock check, not its 50 ms slice', async () => {
  await using engine = await Engine.open({ workers: 1, sliceMs: kSliceMs, pluginModule: { url: kThreadPlugins, export: 'threadSmPlugins' } });
  await engine.deploy('hog', 'sm', await readFile(`${kRoot}/examples/sm/spin.sm`), { cpuMs: 60_000, wallMs: 60_000 });
  await engine.deploy('light', 'sm', await readFile(`${kRoot}/examples/sm/hello.sm`));
  const controller = new AbortController();
  const hog = engine.invoke('hog', new Uint8Array(), { signal: controller.signal });
  try {
    const latenciesMs: number[] = [];
    for (let i = 0; i < 40; i++) {
      const startedAt = performance.now();
      const result = await engine.invoke('light', Buffer.from('x'));
      latenciesMs.push(performance.now() - startedAt);
      assert.equal(result.ok, true);
    }
    latenciesMs.sort((a, b) => a - b);
    const median = latenciesMs[latenciesMs.length >> 1]!;
    // Without preemption the median is close to the slice (~50 ms); preempted it is well under a millisecond here.
    assert.ok(median < kSliceMs / 3, `median ${median.toFixed(2)} ms beside a hog (slice ${kSliceMs} ms)`);
  } finally {
    controller.abort(new Error('test over'));
    await hog;
  }
});
