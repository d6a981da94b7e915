import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine, EngineError, type EngineOptions, type InvokeResult } from '../engine/index.ts';
import { smPlugin } from '../plugins/sm/index.ts';
import { faultyPlugin } from './support/test-plugins.ts';
import { temporaryDir } from './support/engine-process.ts';

const bytes = (text: string): Uint8Array => Buffer.from(text);
const text = (result: InvokeResult): string => {
  assert.equal(result.ok, true, result.ok ? '' : `${result.error.code}: ${result.error.message}`);
  return result.ok ? Buffer.from(result.output).toString('utf8') : '';
};
const kEcho = bytes('outin\n');
const kSpin = bytes('top:\n  jmp top\n');
const kThreadPlugins = new URL('./support/test-plugins.ts', import.meta.url).href;
const isCode = (code: string) => (error: unknown): boolean => error instanceof EngineError && error.code === code;

// The whole suite runs against both executors: everything on this thread, and two scheduler threads.
for (const executor of ['local', 'threads'] as const) {
  /** An engine of this executor with the sm language, or sm and the faulty test language. */
  const open = (languages: 'sm' | 'sm+faulty', options: Omit<EngineOptions, 'plugins' | 'workers' | 'pluginModule'>): Promise<Engine> => executor === 'local'
    ? Engine.open({ plugins: languages === 'sm' ? [smPlugin()] : [smPlugin(), faultyPlugin()], ...options })
    : Engine.open({ workers: 2, pluginModule: { url: kThreadPlugins, export: languages === 'sm' ? 'threadSmPlugins' : 'threadTestPlugins' }, ...options });

  describe(`engine on the ${executor} executor`, () => {
    test('deploy then invoke returns the output bytes exactly, with usage', async () => {
      await using engine = await open('sm', {});
      const info = await engine.deploy('echo', 'sm', kEcho);
      assert.equal(info.version, 1);
      assert.equal(info.language, 'sm');
      const input = Buffer.from([0, 1, 2, 255, 0xc3, 0x28]);
      const result = await engine.invoke('echo', input);
      assert.equal(result.ok, true);
      assert.deepEqual(result.ok && Buffer.from(result.output), input);
      assert.deepEqual(Object.keys(result.usage).sort(), ['cpuMs', 'memoryBytes', 'netBytes', 'netRequests']);
      assert.ok(result.usage.cpuMs >= 0);
    });

    test('an infinite loop stops with ERR_CPU_BUDGET near its budget, and the engine goes on', async () => {
      await using engine = await open('sm', {});
      await engine.deploy('spin', 'sm', kSpin, { cpuMs: 50 });
      await engine.deploy('echo', 'sm', kEcho);
      const result = await engine.invoke('spin', new Uint8Array());
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.error.code, 'ERR_CPU_BUDGET');
      assert.ok(result.usage.cpuMs >= 50, `stopped at ${result.usage.cpuMs} ms`);
      assert.equal(text(await engine.invoke('echo', bytes('still here'))), 'still here');
    });

    test('a short function is answered while a long one of another function is still running', async () => {
      await using engine = await open('sm', {});
      await engine.deploy('spin', 'sm', kSpin, { cpuMs: 2000 });
      await engine.deploy('echo', 'sm', kEcho);
      let spinSettled = false;
      const spinning = engine.invoke('spin', new Uint8Array()).then((result) => { spinSettled = true; return result; });
      await new Promise((resolve) => setTimeout(resolve, 20)); // let the spinner take its slices
      for (let i = 0; i < 5; i++) assert.equal(text(await engine.invoke('echo', bytes(`${i}`))), `${i}`);
      assert.equal(spinSettled, false, 'the short invocations waited for the long one');
      const stats = engine.stats();
      assert.equal(stats.perFunction.echo?.ok, 5);
      await engine.close();
      assert.equal(((await spinning) as { error?: { code: string } }).error?.code, 'ERR_CLOSED');
    });

    test('wall-clock budget covers waiting: ERR_WALL_TIMEOUT', async () => {
      await using engine = await open('sm', {});
      await engine.deploy('spin', 'sm', kSpin, { cpuMs: 60_000, wallMs: 100 });
      const result = await engine.invoke('spin', new Uint8Array());
      assert.equal(!result.ok && result.error.code, 'ERR_WALL_TIMEOUT');
      // CPU is charged as on-thread time per slice, so on a loaded machine it can pass the wall budget a little.
      assert.ok(result.usage.cpuMs > 0 && result.usage.cpuMs <= 200, `cpu ${result.usage.cpuMs}`);
    });

    test('queues are bounded per function and in total: ERR_QUEUE_FULL, then service resumes', async () => {
      await using engine = await open('sm', { maxInFlightPerFunction: 2, maxInFlight: 3 });
      await engine.deploy('spin', 'sm', kSpin, { cpuMs: 60_000 });
      await engine.deploy('echo', 'sm', kEcho);
      const controller = new AbortController();
      const running = [engine.invoke('spin', new Uint8Array(), { signal: controller.signal }), engine.invoke('spin', new Uint8Array(), { signal: controller.signal })];
      await assert.rejects(engine.invoke('spin', new Uint8Array()), isCode('ERR_QUEUE_FULL'));
      const third = engine.invoke('echo', bytes('x'));
      await assert.rejects(engine.invoke('echo', bytes('y')), isCode('ERR_QUEUE_FULL'));
      assert.equal(text(await third), 'x');
      controller.abort();
      for (const result of await Promise.all(running)) assert.equal(!result.ok && result.error.code, 'ERR_CANCELLED');
      assert.equal(text(await engine.invoke('echo', bytes('z'))), 'z');
    });

    test('an aborted signal cancels an invocation: ERR_CANCELLED', async () => {
      await using engine = await open('sm', {});
      await engine.deploy('spin', 'sm', kSpin, { cpuMs: 60_000 });
      const controller = new AbortController();
      const pending = engine.invoke('spin', new Uint8Array(), { signal: controller.signal });
      setTimeout(() => controller.abort(), 10);
      const result = await pending;
      assert.equal(!result.ok && result.error.code, 'ERR_CANCELLED');
      const early = await engine.invoke('spin', new Uint8Array(), { signal: AbortSignal.abort() });
      assert.equal(!early.ok && early.error.code, 'ERR_CANCELLED');
      assert.equal(engine.stats().inFlight, 0);
    });

    test('redeploy is atomic: the invocation in flight finishes on the old version, new ones run the new', async () => {
      await using engine = await open('sm', {});
      await engine.deploy('f', 'sm', kSpin, { cpuMs: 100 });
      const old = engine.invoke('f', new Uint8Array());
      const info = await engine.deploy('f', 'sm', kEcho);
      assert.equal(info.version, 2);
      const fresh = await engine.invoke('f', bytes('new'));
      assert.equal(text(fresh), 'new');
      assert.equal(fresh.version, 2);
      const oldResult = await old;
      assert.equal(oldResult.version, 1);
      assert.equal(!oldResult.ok && oldResult.error.code, 'ERR_CPU_BUDGET');
    });

    test('request errors reject with their codes', async () => {
      await using engine = await open('sm', { maxSourceBytes: 100 });
      await assert.rejects(engine.invoke('nope', new Uint8Array()), isCode('ERR_UNKNOWN_FUNCTION'));
      await assert.rejects(engine.deploy('../etc', 'sm', kEcho), isCode('ERR_INVALID_ARGUMENT'));
      await assert.rejects(engine.deploy('a/b', 'sm', kEcho), isCode('ERR_INVALID_ARGUMENT'));
      await assert.rejects(engine.deploy('x', 'cobol', kEcho), isCode('ERR_UNKNOWN_LANGUAGE'));
      await assert.rejects(engine.deploy('x', 'sm', new Uint8Array(101)), isCode('ERR_SOURCE_TOO_LARGE'));
      await assert.rejects(engine.deploy('x', 'sm', bytes('pusj 1\n')), isCode('ERR_COMPILE'));
      await assert.rejects(engine.deploy('x', 'sm', kEcho, { cpuMs: -1 }), isCode('ERR_INVALID_ARGUMENT'));
      await assert.rejects(engine.deploy('x', 'sm', kEcho, { cpuMs: 10, bogus: 1 } as never), isCode('ERR_INVALID_ARGUMENT'));
      assert.deepEqual(engine.list(), [], 'nothing half-deployed');
      assert.equal(await engine.remove('nope'), false);
    });

    test('a faulty plugin fails only its own invocations', async () => {
      await using engine = await open('sm+faulty', {});
      await engine.deploy('bug', 'faulty', bytes('throw'));
      await engine.deploy('nostart', 'faulty', bytes('no-start'));
      await engine.deploy('wait', 'faulty', bytes('wait'));
      await engine.deploy('echo', 'sm', kEcho);
      const bug = await engine.invoke('bug', new Uint8Array());
      assert.equal(!bug.ok && bug.error.code, 'ERR_INTERNAL');
      const nostart = await engine.invoke('nostart', new Uint8Array());
      assert.equal(!nostart.ok && nostart.error.code, 'ERR_INTERNAL');
      assert.equal(text(await engine.invoke('wait', new Uint8Array())), 'waited');
      assert.equal(text(await engine.invoke('echo', bytes('ok'))), 'ok');
    });

    test('functions survive a restart; one whose language is gone is kept as unavailable, not lost', async () => {
      await using dir = await temporaryDir();
      {
        await using engine = await open('sm+faulty', { dataDir: dir.path });
        await engine.deploy('echo', 'sm', kEcho, { cpuMs: 77 });
        await engine.deploy('echo', 'sm', kEcho, { cpuMs: 78 });
        await engine.deploy('other', 'faulty', bytes('echo'));
        await engine.deploy('gone', 'sm', kEcho);
        assert.equal(await engine.remove('gone'), true);
      }
      const warnings: string[] = [];
      {
        await using engine = await open('sm', { dataDir: dir.path, onWarning: (m) => warnings.push(m) });
        const list = engine.list();
        assert.deepEqual(list.map((f) => [f.name, f.version, f.state]), [['echo', 2, 'compiled'], ['other', 1, 'unavailable']]);
        assert.equal(list[0]!.budget.cpuMs, 78);
        assert.equal(text(await engine.invoke('echo', bytes('back'))), 'back');
        await assert.rejects(engine.invoke('other', new Uint8Array()), isCode('ERR_UNAVAILABLE'));
        assert.match(warnings.join('\n'), /other.*faulty/);
      }
      {
        await using engine = await open('sm+faulty', { dataDir: dir.path });
        assert.equal(text(await engine.invoke('other', bytes('again'))), 'again');
      }
    });

    test('leftover temporaries are swept and corrupt files are reported, not loaded', async () => {
      await using dir = await temporaryDir();
      {
        await using engine = await open('sm', { dataDir: dir.path });
        await engine.deploy('good', 'sm', kEcho);
      }
      const functions = join(dir.path, 'functions');
      await writeFile(join(functions, 'half.json.tmp-1-abc'), '{"format":1,"na');
      await writeFile(join(functions, 'bad.json'), '{"format":1,"name":"bad"');
      const warnings: string[] = [];
      await using engine = await open('sm', { dataDir: dir.path, onWarning: (m) => warnings.push(m) });
      assert.deepEqual(engine.list().map((f) => f.name), ['good']);
      assert.match(warnings.join('\n'), /bad\.json/);
      assert.deepEqual((await readdir(functions)).sort(), ['bad.json', 'good.json']);
    });

    test('close ends invocations in flight with ERR_CLOSED and refuses new work', async () => {
      const engine = await open('sm', {});
      await engine.deploy('spin', 'sm', kSpin, { cpuMs: 60_000 });
      const pending = engine.invoke('spin', new Uint8Array());
      await engine.close();
      const result = await pending;
      assert.equal(!result.ok && result.error.code, 'ERR_CLOSED');
      await assert.rejects(engine.invoke('spin', new Uint8Array()), isCode('ERR_CLOSED'));
      await assert.rejects(engine.deploy('x', 'sm', kEcho), isCode('ERR_CLOSED'));
    });

    test('drain lets invocations in flight finish and refuses new work with ERR_CLOSED; close ends it', async () => {
      const engine = await open('sm', {});
      await engine.deploy('spin', 'sm', kSpin, { cpuMs: 150, wallMs: 5000 });
      await engine.deploy('echo', 'sm', kEcho);
      const inFlight = engine.invoke('spin', new Uint8Array());
      const draining = engine.drain(10_000);
      await assert.rejects(engine.invoke('echo', bytes('late')), (error: unknown) => isCode('ERR_CLOSED')(error) && /draining/.test((error as Error).message));
      await assert.rejects(engine.deploy('new', 'sm', kEcho), isCode('ERR_CLOSED'));
      assert.equal(engine.health().ok, false, 'a draining engine reports itself unhealthy, so balancers stop sending');
      const result = await inFlight;
      // It ran to its own end (its CPU budget), not cut short by the drain.
      assert.equal(!result.ok && result.error.code, 'ERR_CPU_BUDGET');
      await draining;
      await engine.close();
      await assert.rejects(engine.invoke('echo', bytes('after')), isCode('ERR_CLOSED'));
    });

    test('drain ends at its deadline; what still runs is ended by close with ERR_CLOSED', async () => {
      const engine = await open('sm', {});
      await engine.deploy('spin', 'sm', kSpin, { cpuMs: 60_000, wallMs: 60_000 });
      const inFlight = engine.invoke('spin', new Uint8Array());
      const startedAt = performance.now();
      await engine.drain(200);
      const tookMs = performance.now() - startedAt;
      await engine.close();
      const result = await inFlight;
      assert.equal(!result.ok && result.error.code, 'ERR_CLOSED');
      assert.ok(tookMs >= 190 && tookMs < 5000, `drain took ${tookMs.toFixed(0)} ms for a 200 ms deadline`);
    });

    test('a memory budget below what a language can run in is refused at deploy, not rounded up', async () => {
      await using engine = await open('sm+faulty', {});
      await assert.rejects(engine.deploy('small', 'faulty', bytes('echo'), { memoryBytes: 512 * 1024 }), { code: 'ERR_INVALID_ARGUMENT', message: /below the least faulty can run in, 1048576 bytes/ });
      assert.equal((await engine.deploy('enough', 'faulty', bytes('echo'), { memoryBytes: 2 ** 20 })).budget.memoryBytes, 2 ** 20);
    });

    test('past the instance-memory ceiling idle instances are evicted and come back on their next call', async () => {
      // A ceiling smaller than any instance: each instance is evicted as soon as it is idle.
      await using engine = await open('sm', { maxInstanceMemoryBytes: 1 });
      await engine.deploy('a', 'sm', kEcho);
      await engine.deploy('b', 'sm', kEcho);
      assert.equal(text(await engine.invoke('a', bytes('1'))), '1');
      assert.equal(text(await engine.invoke('b', bytes('2'))), '2');
      // Threads report evictions with their next message; give them a moment.
      for (let i = 0; i < 50 && engine.list().some((f) => f.state !== 'evicted'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(engine.list().map((f) => [f.name, f.state, f.instances]), [['a', 'evicted', 0], ['b', 'evicted', 0]]);
      // Many calls at once of an evicted function: one restore, every answer right.
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => engine.invoke('a', bytes(`x${i}`))));
      assert.deepEqual(answers.map(text), Array.from({ length: 20 }, (_, i) => `x${i}`));
      for (let i = 0; i < 50 && engine.stats().instances.restores === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      const { instances } = engine.stats();
      assert.ok(instances.evictions >= 2, `evictions ${instances.evictions}`);
      assert.ok(instances.restores >= 1, `restores ${instances.restores}`);
    });

    test('under a ceiling that holds every instance nothing is evicted', async () => {
      await using engine = await open('sm', { maxInstanceMemoryBytes: 64 * 2 ** 20 });
      for (const name of ['a', 'b', 'c']) {
        await engine.deploy(name, 'sm', kEcho);
        assert.equal(text(await engine.invoke(name, bytes(name))), name);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(engine.list().map((f) => f.state), ['ready', 'ready', 'ready']);
      assert.equal(engine.stats().instances.evictions, 0);
      assert.equal(engine.stats().instances.live, 3);
    });

    test('a steady stream of short invocations does not starve a long-running function', async () => {
      await using engine = await open('sm', {});
      await engine.deploy('spin', 'sm', kSpin, { cpuMs: 100, wallMs: 5000 });
      await engine.deploy('echo', 'sm', kEcho);
      let done = false;
      const spinning = engine.invoke('spin', new Uint8Array()).finally(() => { done = true; });
      // Keep fresh work arriving: every finished echo is replaced at once by another.
      const stream = Promise.all(Array.from({ length: 8 }, async () => {
        while (!done) await engine.invoke('echo', bytes('x'));
      }));
      const result = await spinning;
      await stream;
      assert.equal(!result.ok && result.error.code, 'ERR_CPU_BUDGET', 'the long function got its 100 ms of CPU, not a wall timeout');
    });

    test('a malformed allow-list entry is refused at deploy, naming the entry', async () => {
      await using engine = await open('sm', {});
      const source = Buffer.from('push 1\nout\n');
      await assert.rejects(engine.deploy('f', 'sm', source, { allowHosts: ['example.com', 'http://example.com/path'] }), { code: 'ERR_INVALID_ARGUMENT', message: /entry "http:\/\/example\.com\/path" is not/ });
      await assert.rejects(engine.deploy('f', 'sm', source, { allowHosts: Array(257).fill('example.com') }), { code: 'ERR_INVALID_ARGUMENT', message: /at most 256 entries: got 257/ });
      // A trailing dot is the same host, fully qualified: accepted.
      await engine.deploy('f', 'sm', source, { allowHosts: ['localhost.', 'example.com.'] });
    });
  });
}
