import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../engine/index.ts';
import { luaPlugin } from '../plugins/lua/index.ts';
import { lua54Plugin } from '../plugins/lua54/index.ts';
import { smPlugin } from '../plugins/sm/index.ts';

/**
 * Library calls do their work inside one Lua instruction, where the count hook sees nothing. Each
 * row repeats (or makes once) such a call on a big string or table; it must end with a budget
 * error within 2× its CPU budget (+1 s slack for a loaded 2-core machine), and a light function
 * must keep answering meanwhile. Before the library metering, fengari ran these rows 1.5–20 s.
 */
const kCpuMs = 200;
const kRows: Record<string, string> = {
  'string.rep of 2e8 bytes': "local s = string.rep('x', 2e8) return #s",
  'string.rep in a loop': "local n = 0 for i = 1, 1e9 do n = n + #string.rep('ab', 1e6) end return n",
  'plain string.find on a big string': "local s = string.rep('a', 4e6) local n = 0 for i = 1, 1e9 do if s:find('ab', 1, true) then n = n + 1 end end return n",
  'string.upper on a big string': "local s = string.rep('a', 4e6) local n = 0 for i = 1, 1e9 do n = n + #s:upper() end return n",
  'table.concat of a big table': "local t = {} for i = 1, 2e5 do t[i] = 'x' end local n = 0 for i = 1, 1e9 do n = n + #table.concat(t) end return n",
  'table.sort of a big table': 'local t = {} for i = 1, 2e5 do t[i] = (i * 7919) % 100003 end for i = 1, 1e9 do table.sort(t) end',
  '.. of a big string': "local s = string.rep('a', 4e6) local n = 0 for i = 1, 1e9 do n = n + #(s .. 'x') end return n",
};

for (const language of ['lua', 'lua54']) {
  test(`${language}: library calls on big arguments end at the CPU budget while a light function answers`, async () => {
    await using engine = await Engine.open({ plugins: [luaPlugin(), lua54Plugin(), smPlugin()] });
    await engine.deploy('echo', 'sm', Buffer.from('outin\n'));
    for (const [row, body] of Object.entries(kRows)) {
      const name = `attack-${Object.keys(kRows).indexOf(row)}`;
      await engine.deploy(name, language, Buffer.from(`return function () ${body} end`), { cpuMs: kCpuMs, memoryBytes: 1 << 30, wallMs: 120_000 });
      const startedAt = performance.now();
      const attack = engine.invoke(name, Buffer.from(''));
      const echoStartedAt = performance.now();
      const echoed = await engine.invoke('echo', Buffer.from('still here'));
      const echoMs = performance.now() - echoStartedAt;
      assert.equal(echoed.ok && Buffer.from(echoed.output).toString(), 'still here', row);
      assert.ok(echoMs < 1_500, `${row}: the light function took ${echoMs.toFixed(0)} ms`);
      const result = await attack;
      const elapsedMs = performance.now() - startedAt;
      assert.ok(!result.ok, `${row}: finished instead of being stopped`);
      assert.ok(['ERR_CPU_BUDGET', 'ERR_MEMORY_BUDGET'].includes(result.error.code), `${row}: ${result.error.code} ${result.error.message}`);
      assert.ok(result.usage.cpuMs <= 2 * kCpuMs + 1_000, `${row}: used ${result.usage.cpuMs.toFixed(0)} ms of CPU against ${kCpuMs}`);
      assert.ok(elapsedMs <= 2 * kCpuMs + 1_000, `${row}: took ${elapsedMs.toFixed(0)} ms against a CPU budget of ${kCpuMs}`);
    }
  });
}

test('lua: a library call that cannot fit the memory budget is refused before it runs', async () => {
  await using engine = await Engine.open({ plugins: [luaPlugin()] });
  await engine.deploy('upper', 'lua', Buffer.from("return function () local s = string.rep('a', 6e6) local t = s:upper() local u = s:lower() return #t + #u end"), { cpuMs: 5_000, memoryBytes: 16 << 20 });
  const result = await engine.invoke('upper', Buffer.from(''));
  assert.equal(!result.ok && result.error.code, 'ERR_MEMORY_BUDGET');
});

test('lua: metered library functions keep their results (string.rep by doubling, method calls, errors)', async () => {
  await using engine = await Engine.open({ plugins: [luaPlugin()] });
  const source = `return function ()
    assert(string.rep('ab', 3, ',') == 'ab,ab,ab')
    assert(('xyz'):rep(1) == 'xyz' and ('x'):rep(0) == '' and ('q'):rep(5) == 'qqqqq')
    assert(('Hello'):upper() == 'HELLO' and ('Hello'):lower() == 'hello' and ('abc'):reverse() == 'cba')
    assert(select('#', ('abc'):byte(1, -1)) == 3 and string.char(72, 105) == 'Hi')
    assert(string.format('%q', 'a"b') == '"a\\\\"b"')
    local ok, message = pcall(string.rep)
    assert(not ok and message:find('bad argument #1 to'), message)
    local t = { 3, 1, 2 } table.sort(t) assert(table.concat(t, ' ') == '1 2 3')
    assert(('needle in haystack'):find('in', 1, true) == 8)
    return 'ok'
  end`;
  await engine.deploy('results', 'lua', Buffer.from(source));
  const result = await engine.invoke('results', Buffer.from(''));
  assert.equal(result.ok ? Buffer.from(result.output).toString() : result.error.message, 'ok');
});
