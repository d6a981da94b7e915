import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../engine/index.ts';
import { lua54Plugin } from '../plugins/lua54/index.ts';
import { smPlugin } from '../plugins/sm/index.ts';

// A pattern whose backtracking never ends in practice: one call into Lua's C pattern matcher that
// the count hook cannot see. Without the metered wasm it would hold the engine's thread for hours.
const kPatternBomb = `return function (input)
  if input == 'ok' then return 'fine' end
  return (("a"):rep(10000):find(".-.-.-.-b"))
end`;

test('lua54: a runaway call into the C library is stopped, the engine keeps serving, and the state is rebuilt', async () => {
  await using engine = await Engine.open({ plugins: [lua54Plugin(), smPlugin()] });
  await engine.deploy('bomb', 'lua54', Buffer.from(kPatternBomb), { cpuMs: 60_000, wallMs: 60_000 });
  await engine.deploy('echo', 'sm', Buffer.from('outin\n'));
  const startedAt = performance.now();
  const bombing = engine.invoke('bomb', Buffer.from('go'));
  const echoed = await engine.invoke('echo', Buffer.from('still here'));
  assert.equal(echoed.ok && Buffer.from(echoed.output).toString(), 'still here');
  const bombed = await bombing;
  const seconds = (performance.now() - startedAt) / 1000;
  assert.equal(!bombed.ok && bombed.error.code, 'ERR_CPU_BUDGET');
  assert.match(!bombed.ok ? bombed.error.message : '', /without returning to Lua code/);
  assert.ok(seconds < 5, `the runaway call held the thread for ${seconds.toFixed(2)} s despite a 60 s budget`);
  const after = await engine.invoke('bomb', Buffer.from('ok'));
  assert.equal(after.ok && Buffer.from(after.output).toString(), 'fine', 'the next invocation runs on a rebuilt state');
  const concurrent = await Promise.all([engine.invoke('bomb', Buffer.from('ok')), engine.invoke('bomb', Buffer.from('ok'))]);
  for (const result of concurrent) assert.equal(result.ok && Buffer.from(result.output).toString(), 'fine');
});
