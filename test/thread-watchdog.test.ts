import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, type InvokeResult } from '../engine/index.ts';
import { HttpServer } from '../dispatchers/http/http-server.ts';

/**
 * The scheduler-thread watchdog: a thread stuck in native code (the test plugin's "hang-thread"
 * blocks in Atomics.wait, as a plugin stuck in a C call or an isolate lock would) is seen as
 * stalled within about a second, new invocations go to the other thread, its own invocation fails
 * at its wall budget, /healthz answers 503 meanwhile, and after threadStuckMs the thread is replaced.
 */

const kTestPlugins = { url: new URL('./support/test-plugins.ts', import.meta.url).href, export: 'threadTestPlugins' };
const code = (result: InvokeResult): string => result.ok ? 'ok' : result.error.code;

async function waitFor (what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - started;
}

test('a scheduler thread stuck in native code is avoided, its invocation ends at its wall budget, and it is replaced', async () => {
  await using engine = await Engine.open({ workers: 2, pluginModule: kTestPlugins, threadStuckMs: 3000, onWarning: () => {} });
  const http = await HttpServer.start({ engine, host: '127.0.0.1', port: 0, maxSourceBytes: 1024, maxInputBytes: 1024 });
  try {
    const health = async (): Promise<number> => (await fetch(`http://127.0.0.1:${http.address.port}/healthz`)).status;
    await engine.deploy('hang', 'faulty', Buffer.from('hang-thread'), { wallMs: 500 });
    await engine.deploy('echo', 'faulty', Buffer.from('echo'));
    assert.equal(await health(), 200);

    const startedAt = performance.now();
    const hung = engine.invoke('hang', Buffer.from('x'));
    await waitFor('the stalled thread showing in health()', () => !engine.health().ok, 3000);
    assert.deepEqual(engine.health().threads?.map((thread) => thread.state).sort(), ['running', 'stalled']);
    assert.equal(await health(), 503);

    // Every tenant keeps being answered on the other thread, promptly, while one thread is stuck.
    for (let i = 0; i < 20; i++) {
      const before = performance.now();
      const result = await engine.invoke('echo', Buffer.from(`n${i}`));
      assert.equal(code(result), 'ok');
      assert.ok(performance.now() - before < 1000, `echo took ${performance.now() - before} ms beside a stuck thread`);
    }

    const result = await hung;
    const tookMs = performance.now() - startedAt;
    assert.equal(code(result), 'ERR_WALL_TIMEOUT', JSON.stringify(result));
    assert.match(result.ok ? '' : result.error.message, /has not answered/);
    assert.ok(tookMs < 500 + 2000, `the stuck invocation ended after ${tookMs} ms against a 500 ms wall budget`);

    // Replaced after threadStuckMs: two running threads again, and both take work.
    await waitFor('the stuck thread being replaced', () => engine.health().ok, 3000 + 5000);
    assert.deepEqual(engine.health().threads?.map((thread) => thread.state), ['running', 'running']);
    assert.equal(await health(), 200);
    const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => engine.invoke('echo', Buffer.from(`after${i}`))));
    assert.deepEqual(burst.map(code), Array(8).fill('ok'));
  } finally {
    await http.close();
  }
});

test('a thread that is only busy is not given up', async () => {
  // "wait" parks on a host promise: the thread's event loop runs all along, so its heartbeat moves.
  await using engine = await Engine.open({ workers: 1, pluginModule: kTestPlugins, threadStuckMs: 300, onWarning: () => {} });
  await engine.deploy('wait', 'faulty', Buffer.from('wait'));
  for (let i = 0; i < 30; i++) assert.equal(code(await engine.invoke('wait', Buffer.from(''))), 'ok');
  assert.equal(engine.health().ok, true);
});
