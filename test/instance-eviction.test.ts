import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, type InvokeResult } from '../engine/index.ts';
import { jsPlugin } from '../plugins/js/index.ts';
import { luaPlugin } from '../plugins/lua/index.ts';
import { lua54Plugin } from '../plugins/lua54/index.ts';
import { quickjsPlugin } from '../plugins/quickjs/index.ts';

// Eviction under the instance-memory ceiling (engine/instance-ledger.ts) with real engines whose
// instances hold state: an evicted function comes back as a fresh instance (module state from
// scratch), the busy one is never evicted, and the ceiling holds the charged total.

const kMiB = 2 ** 20;
const text = (result: InvokeResult): string => {
  assert.equal(result.ok, true, result.ok ? '' : `${result.error.code}: ${result.error.message}`);
  return result.ok ? Buffer.from(result.output).toString() : '';
};
// Lua runs each invocation's chunk in a fresh environment (doc/lua.md), so its counter is always 1;
// JavaScript module state lives as long as the instance.
const kCounters: Record<string, { source: string, memoryBytes: number, secondCall: string }> = {
  lua: { source: 'local n = 0\nreturn function (input) n = n + 1; return n end', memoryBytes: 1 * kMiB, secondCall: '1' },
  lua54: { source: 'local n = 0\nreturn function (input) n = n + 1; return n end', memoryBytes: 1 * kMiB, secondCall: '1' },
  quickjs: { source: 'let n = 0; export default () => String(++n);', memoryBytes: 16 * kMiB, secondCall: '2' },
  js: { source: 'let n = 0; export default () => String(++n);', memoryBytes: 8 * kMiB, secondCall: '2' },
};

for (const [language, { source, memoryBytes, secondCall }] of Object.entries(kCounters)) {
  test(`${language}: under a ceiling of one instance, calling B evicts idle A; A comes back fresh, and the charge never passes the ceiling`, async () => {
    const plugins = [luaPlugin(), lua54Plugin(), quickjsPlugin(), jsPlugin()];
    const oneInstance = plugins.find((plugin) => plugin.language === language)!.memory!.idleInstanceBytes!;
    // Room for one idle instance, not two.
    await using engine = await Engine.open({ plugins, maxInstanceMemoryBytes: Math.floor(oneInstance * 1.5) });
    await engine.deploy('a', language, Buffer.from(source), { memoryBytes });
    await engine.deploy('b', language, Buffer.from(source), { memoryBytes });
    assert.equal(text(await engine.invoke('a', new Uint8Array())), '1');
    assert.equal(text(await engine.invoke('a', new Uint8Array())), secondCall, 'module state as the language keeps it in a live instance');
    assert.equal(text(await engine.invoke('b', new Uint8Array())), '1');
    assert.deepEqual(engine.list().map((f) => [f.name, f.state]), [['a', 'evicted'], ['b', 'ready']]);
    assert.ok(engine.stats().instances.chargedBytes <= oneInstance * 1.5);
    assert.equal(text(await engine.invoke('a', new Uint8Array())), '1', 'a restored instance starts from scratch');
    assert.deepEqual(engine.list().map((f) => [f.name, f.state]), [['a', 'ready'], ['b', 'evicted']]);
    const { instances } = engine.stats();
    assert.deepEqual([instances.live, instances.evictions, instances.restores], [1, 2, 1]);
  });
}

test('a busy instance is not evicted: both run at once over the ceiling, then the older idle one goes', async () => {
  const plugin = luaPlugin();
  const oneInstance = plugin.memory!.idleInstanceBytes!;
  await using engine = await Engine.open({ plugins: [plugin], maxInstanceMemoryBytes: Math.floor(oneInstance * 1.5) });
  await engine.deploy('slow', 'lua', Buffer.from('return function (input) local t = os.clock() while os.clock() - t < 0.2 do end return "slow" end'), { memoryBytes: kMiB, cpuMs: 2000 });
  await engine.deploy('quick', 'lua', Buffer.from('return function (input) return "quick" end'), { memoryBytes: kMiB });
  const slow = engine.invoke('slow', new Uint8Array());
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(text(await engine.invoke('quick', new Uint8Array())), 'quick');
  assert.equal(text(await slow), 'slow', 'the busy instance ran to its end');
  // Now slow is idle and the total is over the ceiling: the least recently used idle one is evicted.
  assert.equal(engine.list().filter((f) => f.state === 'evicted').length, 1);
  assert.ok(engine.stats().instances.chargedBytes <= oneInstance * 1.5);
});

test('an instance whose state grew is charged for it, and evicts others to stay under the ceiling', async () => {
  const plugin = jsPlugin();
  const idle = plugin.memory!.idleInstanceBytes!;
  // Two idle instances (2 × 1.5 MiB) and one whose heap grew to ~21 MiB (charged ~14 MiB above js's 8 MiB minimum) do not fit.
  await using engine = await Engine.open({ plugins: [plugin], maxInstanceMemoryBytes: 16.5 * kMiB });
  for (const name of ['small-1', 'small-2']) await engine.deploy(name, 'js', Buffer.from('export default () => "small";'), { memoryBytes: 64 * kMiB });
  // 20 MiB of module state, kept alive by the instance.
  await engine.deploy('big', 'js', Buffer.from('const kept = []; export default () => { for (let i = 0; i < 20; i++) kept.push(new Array(2 ** 17).fill(i)); return "big"; };'), { memoryBytes: 64 * kMiB });
  assert.equal(text(await engine.invoke('small-1', new Uint8Array())), 'small');
  assert.equal(text(await engine.invoke('small-2', new Uint8Array())), 'small');
  assert.equal(engine.stats().instances.chargedBytes, 2 * idle);
  assert.equal(text(await engine.invoke('big', new Uint8Array())), 'big');
  const { instances } = engine.stats();
  assert.ok(instances.chargedBytes <= 16.5 * kMiB, `charged ${instances.chargedBytes}`);
  assert.ok(instances.chargedBytes > 12 * kMiB, `the grown instance is charged for its heap: ${instances.chargedBytes}`);
  assert.ok(instances.evictions >= 1, 'the grown instance made room by evicting an idle one');
  assert.equal(engine.list().find((f) => f.name === 'big')?.state, 'ready');
});

test('calls racing evictions and restores: under a ceiling of two instances, six functions called eight at a time all answer right', async () => {
  const plugins = [luaPlugin(), lua54Plugin(), quickjsPlugin()];
  const largest = Math.max(...plugins.map((plugin) => plugin.memory!.idleInstanceBytes!));
  await using engine = await Engine.open({ plugins, maxInstanceMemoryBytes: 2 * largest });
  const functions = [
    ['lua-a', 'lua'], ['lua-b', 'lua'], ['lua54-a', 'lua54'], ['lua54-b', 'lua54'], ['qjs-a', 'quickjs'], ['qjs-b', 'quickjs'],
  ] as const;
  for (const [name, language] of functions) {
    const source = language === 'quickjs'
      ? `export default (input) => '${name}:' + input;`
      : `return function (input) return '${name}:' .. input end`;
    await engine.deploy(name, language, Buffer.from(source), { memoryBytes: language === 'quickjs' ? 16 * kMiB : kMiB });
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < 240) {
      const call = next++;
      // A fixed stride through the names: consecutive calls land on different functions, so most evict another.
      const [name] = functions[(call * 5) % functions.length]!;
      assert.equal(text(await engine.invoke(name, Buffer.from(String(call)))), `${name}:${call}`);
      assert.ok(engine.stats().instances.chargedBytes <= 2 * largest + 8 * largest, 'the charge stays near the ceiling (busy instances are never evicted)');
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const { instances } = engine.stats();
  assert.ok(instances.evictions > 20 && instances.restores > 20, `evictions ${instances.evictions}, restores ${instances.restores}`);
  assert.ok(instances.chargedBytes <= 2 * largest, 'once idle, the ceiling holds');
});
