// Both Lua plugins take each function's state prepared from a spare (plugins/lua-common/state-pool.ts):
// a state bound from a spare must be indistinguishable from one built for the function alone,
// with its budgets counted from its own start, and a state must never serve two functions.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { Engine, type InvokeResult } from '../engine/index.ts';
import { EngineError } from '../engine/errors.ts';
import { luaPlugin } from '../plugins/lua/index.ts';
import { FengariState } from '../plugins/lua/lua-state.ts';
import { LuaStatePool, type PreparedLuaState } from '../plugins/lua-common/state-pool.ts';
import { wrapSource } from '../plugins/lua-common/source.ts';
import { WasmoonState } from '../plugins/lua54/lua-state.ts';
import { lua54Plugin } from '../plugins/lua54/index.ts';

const kMiB = 2 ** 20;
const bytes = (text: string): Uint8Array => Buffer.from(text);
const open = (options: { maxInstanceMemoryBytes?: number } = {}): Promise<Engine> => Engine.open({ plugins: [luaPlugin(), lua54Plugin()], ...options });
// Long enough for a taken spare to be replaced (20 ms later, then a few ms to prepare) on a busy machine.
const kRefillWaitMs = 300;

function outputOf (result: InvokeResult): string {
  assert.equal(result.ok, true, result.ok ? '' : `${result.error.code}: ${result.error.message}`);
  return result.ok ? Buffer.from(result.output).toString('utf8') : '';
}

function errorCodeOf (result: InvokeResult): string {
  assert.equal(result.ok, false, result.ok ? `unexpected output ${Buffer.from(result.output).toString()}` : '');
  return result.ok ? '' : result.error.code;
}

// What a function can see of the state around it: the names in its globals and in the libraries.
const kVisibleNames = `local out = {}
for _, t in ipairs({ _G, string, table, math, os, coroutine }) do
  local names = {}
  for k in pairs(t) do names[#names + 1] = tostring(k) end
  table.sort(names)
  out[#out + 1] = table.concat(names, ',')
end
return table.concat(out, ';')`;

// A string.rep that fits a 1 MiB budget and one just past it, in KiB (the thresholds were the same before spares):
// lua54 holds string.rep's buffer and its result at once; fengari's estimate has a 1/16 margin.
const kNearAndPastKiB = { lua: [900, 1100], lua54: [500, 520] } as const;

for (const language of ['lua', 'lua54'] as const) {
  describe(language, () => {
    test('a function bound to a spare sees nothing of the function before it, and the same names as the first function of a fresh engine', async () => {
      await using fresh = await open();
      await fresh.deploy('names', language, bytes(`return function () ${kVisibleNames} end`));
      const freshNames = outputOf(await fresh.invoke('names', new Uint8Array()));
      assert.match(freshNames, /(^|,)print(,|;)/);

      await using engine = await open();
      // A leaves traces everywhere it can: its globals at top level and during a call, the libraries.
      await engine.deploy('a', language, bytes(`leaked_at_top = 'a'
string.leaked = 'a'
return function () leaked_in_call = 'a'; table.leaked = 'a'; math.pi = 3; return leaked_at_top end`));
      assert.equal(outputOf(await engine.invoke('a', new Uint8Array())), 'a');
      await sleep(kRefillWaitMs); // B's state is the spare prepared after A's cold start took the first one
      await engine.deploy('b', language, bytes(`return function ()
  assert(leaked_at_top == nil and leaked_in_call == nil, 'a global of A is visible')
  assert(string.leaked == nil and table.leaked == nil and math.pi ~= 3, 'a library change of A is visible')
  ${kVisibleNames}
end`));
      assert.equal(outputOf(await engine.invoke('b', new Uint8Array())), freshNames);
      assert.equal(outputOf(await engine.invoke('a', new Uint8Array())), 'a', 'A still answers from its own state');
    });

    test('the memory budget counts from the function\'s own start: near it works, past it fails, after a function that used much', async () => {
      await using engine = await open();
      await engine.deploy('big', language, bytes("return function () local s = string.rep('x', 3 * 1024 * 1024) return tostring(#s) end"), { memoryBytes: 16 * kMiB });
      assert.equal(outputOf(await engine.invoke('big', new Uint8Array())), String(3 * kMiB));
      await sleep(kRefillWaitMs);
      const holding = (kib: number): string => `return function () local s = string.rep('x', ${kib} * 1024) return tostring(math.floor(collectgarbage('count'))) .. ' ' .. #s end`;
      const [nearKiB, pastKiB] = kNearAndPastKiB[language];
      await engine.deploy('near', language, bytes(holding(nearKiB)), { memoryBytes: kMiB });
      const [countKiB] = outputOf(await engine.invoke('near', new Uint8Array())).split(' ');
      // The function holds its string and not much besides: nothing of the state's setup.
      assert.ok(Number(countKiB) >= nearKiB * 0.95 && Number(countKiB) < nearKiB + 64, `accounted ${countKiB} KiB`);
      await sleep(kRefillWaitMs);
      await engine.deploy('past', language, bytes(holding(pastKiB)), { memoryBytes: kMiB });
      assert.equal(errorCodeOf(await engine.invoke('past', new Uint8Array())), 'ERR_MEMORY_BUDGET');
      assert.equal(outputOf(await engine.invoke('near', new Uint8Array())).split(' ')[1], String(nearKiB * 1024), 'the function near its budget keeps working');
    });

    test('a syntax error is still ERR_COMPILE at deploy, and the next deploy works', async () => {
      await using engine = await open();
      await assert.rejects(engine.deploy('bad', language, bytes('return function () return end end')), (error: unknown) => error instanceof EngineError && error.code === 'ERR_COMPILE');
      await engine.deploy('good', language, bytes('return function (input) return "ok " .. input end'));
      assert.equal(outputOf(await engine.invoke('good', bytes('x'))), 'ok x');
    });

    test('the CPU budget still stops a loop on a state from a spare', async () => {
      await using engine = await open();
      await engine.deploy('first', language, bytes('return function () return "1" end'));
      assert.equal(outputOf(await engine.invoke('first', new Uint8Array())), '1');
      await sleep(kRefillWaitMs);
      await engine.deploy('loop', language, bytes('return function () while true do end end'), { cpuMs: 100 });
      assert.equal(errorCodeOf(await engine.invoke('loop', new Uint8Array())), 'ERR_CPU_BUDGET');
      assert.equal(outputOf(await engine.invoke('first', new Uint8Array())), '1');
    });

    test('an evicted function comes back on a new state, answers right, and sees nothing of its neighbour', async () => {
      const oneInstance = (language === 'lua' ? luaPlugin() : lua54Plugin()).memory!.idleInstanceBytes!;
      await using engine = await open({ maxInstanceMemoryBytes: Math.floor(oneInstance * 1.5) });
      const source = (name: string): Uint8Array => bytes(`mark_${name} = true
return function (input) assert(mark_a == nil or mark_b == nil, 'both marks in one state') return '${name} ' .. input end`);
      await engine.deploy('a', language, source('a'), { memoryBytes: kMiB });
      await engine.deploy('b', language, source('b'), { memoryBytes: kMiB });
      for (const round of [1, 2, 3]) {
        assert.equal(outputOf(await engine.invoke('a', bytes(String(round)))), `a ${round}`);
        await sleep(kRefillWaitMs);
        assert.equal(outputOf(await engine.invoke('b', bytes(String(round)))), `b ${round}`);
        await sleep(kRefillWaitMs);
      }
      const { instances } = engine.stats();
      assert.ok(instances.evictions >= 5 && instances.restores >= 4, `evictions ${instances.evictions}, restores ${instances.restores}`);
    });
  });
}

for (const [language, prepare] of [['lua', () => FengariState.prepare()], ['lua54', () => WasmoonState.prepare()]] as const) {
  test(`${language}: the pool hands each state out once; a state that fails to bind is closed, and the next one binds`, async () => {
    const pool = new LuaStatePool<PreparedLuaState & { factoryRef: number }>(prepare);
    try {
      const chunk = wrapSource(bytes('return function () return 1 end'));
      const first = await pool.bound(chunk, kMiB);
      await sleep(kRefillWaitMs);
      const second = await pool.bound(chunk, kMiB);
      assert.notEqual(first, second);
      assert.throws(() => first.bind(chunk, kMiB), /bound to one function only/);
      // The wrapper is only ever given a source that parsed alone: here it is not, so binding fails.
      await assert.rejects(pool.bound(bytes('return function ('), kMiB), (error: unknown) => error instanceof EngineError && error.code === 'ERR_COMPILE');
      const third = await pool.bound(chunk, kMiB);
      assert.ok(third !== first && third !== second && third.factoryRef > 0);
      for (const state of [first, second, third]) state.close();
    } finally {
      pool.close();
    }
  });
}
