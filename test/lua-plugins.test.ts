// The lua (fengari) and lua54 (wasmoon) plugins through the real in-process Engine: examples,
// budgets, sandbox escapes, preemption and fetch, each on both engines.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { Engine, type InvokeResult } from '../engine/index.ts';
import type { Budget } from '../engine/budget.ts';
import { luaPlugin } from '../plugins/lua/index.ts';
import { lua54Plugin } from '../plugins/lua54/index.ts';

const bytes = (text: string): Uint8Array => Buffer.from(text);
const kMiB = 2 ** 20;

function outputOf (result: InvokeResult): string {
  assert.equal(result.ok, true, result.ok ? '' : `${result.error.code}: ${result.error.message}`);
  return result.ok ? Buffer.from(result.output).toString('utf8') : '';
}

function errorOf (result: InvokeResult): { code: string, message: string } {
  assert.equal(result.ok, false, result.ok ? `unexpected output ${Buffer.from(result.output).toString()}` : '');
  return result.ok ? { code: '', message: '' } : result.error;
}

async function example (name: string): Promise<Uint8Array> {
  return readFile(new URL(`../examples/lua/${name}`, import.meta.url));
}

for (const language of ['lua', 'lua54'] as const) {
  describe(`${language}`, () => {
    let counter = 0;
    /** Deploys `source` under a fresh name and invokes it once. */
    async function once (engine: Engine, source: string | Uint8Array, input = '', budget: Partial<Budget> = {}): Promise<InvokeResult> {
      const name = `f${counter++}`;
      await engine.deploy(name, language, typeof source === 'string' ? bytes(source) : source, budget);
      return engine.invoke(name, bytes(input));
    }
    const open = (): Promise<Engine> => Engine.open({ plugins: [luaPlugin(), lua54Plugin()] });

    test('examples run unchanged', async () => {
      await using engine = await open();
      assert.equal(outputOf(await once(engine, await example('fib.lua'), '20')), '6765');
      const counted = await once(engine, await example('wordcount.lua'), 'the cat and the hat and the bat');
      assert.equal(outputOf(counted), '8');
      assert.deepEqual(counted.logs, ['the\t3', 'and\t2', 'bat\t1']);
      assert.equal(outputOf(await once(engine, await example('sort.lua'), '5, 3 10 -1,2')), '-1\n2\n3\n5\n10');
      assert.equal(outputOf(await once(engine, await example('build-string.lua'), '12')), '1,2,3,4,5,6,7,8,9,10,11,12');
      assert.equal(outputOf(await once(engine, await example('json.lua'), 'hi "you"')), '{"count":2,"input":"hi \\"you\\"","ok":true,"words":[{"length":2,"word":"hi"},{"length":5,"word":"\\"you\\""}]}');
      assert.equal(outputOf(await once(engine, await example('generator.lua'), '10')), '2 3 5 7 11 13 17 19 23 29');
    });

    test('input and output are bytes; nil is empty output; other results are errors', async () => {
      await using engine = await open();
      assert.equal(outputOf(await once(engine, 'return function (input) return #input .. ":" .. input end', 'héllo')), '6:héllo');
      assert.equal(outputOf(await once(engine, 'return function () end')), '');
      assert.equal(outputOf(await once(engine, 'return function () return 1.5 end')), '1.5');
      assert.match(errorOf(await once(engine, 'return function () return {} end')).message, /returned a table: return a string, a number or nil/);
      assert.match(errorOf(await once(engine, 'return 42')).message, /the chunk must return a function \(input, ctx\); it returned a number/);
      const failed = errorOf(await once(engine, 'local function f()\n  error("boom")\nend\nreturn function () f() end'));
      assert.equal(failed.code, 'ERR_FUNCTION');
      assert.match(failed.message, /^function\.lua:2: boom\nstack traceback:/);
      assert.match(errorOf(await once(engine, 'return function () error({}) end')).message, /error object is a table value/);
    });

    test('syntax errors and binary chunks are refused at deploy with ERR_COMPILE', async () => {
      await using engine = await open();
      await assert.rejects(engine.deploy('bad', language, bytes('return function ()\n  local x = = 1\nend')), (error: { code?: string, message: string }) => {
        assert.equal(error.code, 'ERR_COMPILE');
        assert.match(error.message, /^function\.lua:2: unexpected symbol near '='/);
        return true;
      });
      await assert.rejects(engine.deploy('bin', language, Uint8Array.of(0x1b, 0x4c, 0x75, 0x61, 0x53)), { code: 'ERR_COMPILE', message: /binary \(precompiled\) Lua chunks are not accepted/ });
      // A valid chunk cannot close the wrapper function and run code outside it.
      await assert.rejects(engine.deploy('escape', language, bytes('end print("outside") return function (_ENV, ...)')), { code: 'ERR_COMPILE' });
    });

    test('globals do not leak between invocations; the chunk runs per invocation', async () => {
      await using engine = await open();
      await engine.deploy('g', language, bytes('counter = (counter or 0) + 1\nlocal seen = leaked\nreturn function () leaked = "yes"; string.extra = 1; return counter .. tostring(seen) .. tostring(string.extra) end'));
      assert.equal(outputOf(await engine.invoke('g', bytes(''))), '1nil1');
      assert.equal(outputOf(await engine.invoke('g', bytes(''))), '1nil1');
    });

    test('escape attempts fail with clear errors', async () => {
      await using engine = await open();
      const cases: Array<[string, RegExp]> = [
        ['return os.execute("id")', /os\.execute is not available/],
        ['return io.open("/etc/passwd")', /io is not available/],
        ['return require("os")', /require is not available/],
        ['return dofile("/etc/passwd")', /dofile is not available/],
        ['return debug.sethook()', /debug is not available/],
        ['return string.dump(print)', /string\.dump is not available/],
        ['return ("x"):dump()', /string\.dump is not available/],
        ['return package.loadlib("x", "y")', /package is not available/],
        ['return collectgarbage("stop")', /collectgarbage\('stop'\) is not available/],
        ['return setmetatable({}, {__gc = function () end})', /__gc metamethods are not available/],
        ['return assert(load("\\27Lua"))', /attempt to load a binary chunk/],
        ['return assert(load(string.dump(print)))', /string\.dump is not available/],
        ['return coroutine.yield()', /attempt to yield from outside a coroutine/],
      ];
      for (const [body, message] of cases) {
        const error = errorOf(await once(engine, `return function () ${body} end`));
        assert.equal(error.code, 'ERR_FUNCTION', body);
        assert.match(error.message, message, body);
      }
      // What is left works and sees only the sandbox.
      assert.equal(outputOf(await once(engine, 'return function () return type(os.time()) .. type(os.clock()) .. tostring(rawget(_G, "io")) .. tostring(load("return x", "c", "t", {x = 7})()) end')), 'numbernumbernil7');
    });

    test('string metatable changes stay inside their invocation', async () => {
      await using engine = await open();
      await engine.deploy('tamper', language, bytes('return function () getmetatable("").__index.shout = function (s) return s:upper() .. "!" end; local mt = getmetatable(""); mt.__index = {upper = function () return "pwned" end}; mt.__add = function () return "pwned" end; return ("a"):upper() .. ("b"):shout() end'));
      await engine.deploy('victim', language, bytes('return function () return ("a"):upper() .. tostring(("x").shout) .. tostring(getmetatable("").__index.shout) end'));
      assert.equal(outputOf(await engine.invoke('tamper', bytes(''))), 'AB!');
      assert.equal(outputOf(await engine.invoke('victim', bytes(''))), 'Anilnil');
      assert.equal(outputOf(await engine.invoke('tamper', bytes(''))), 'AB!');
    });

    test('while true do end, also inside pcall, stops with ERR_CPU_BUDGET; the engine keeps serving', async () => {
      await using engine = await open();
      for (const body of ['while true do end', 'return pcall(function () while true do end end)', 'while true do pcall(function () while true do end end) end']) {
        const result = await once(engine, `return function () ${body} end`, '', { cpuMs: 100 });
        assert.equal(errorOf(result).code, 'ERR_CPU_BUDGET', body);
        assert.ok(result.usage.cpuMs >= 100 && result.usage.cpuMs < 1000, `${body}: ${result.usage.cpuMs} ms`);
      }
      assert.equal(outputOf(await once(engine, 'return function (s) return s end', 'still here')), 'still here');
    });

    test('non-yieldable code still ends at its CPU budget, even under pcall', async () => {
      await using engine = await open();
      const cases = [
        'local t = {} for i = 1, 50 do t[i] = i end table.sort(t, function (a, b) while true do end end)',
        'pcall(table.sort, {3, 2, 1}, function () while true do end end) while true do end',
        'while true do pcall(string.gsub, "abc", "%w", function () while true do end end) end',
        'local o = setmetatable({}, {__tostring = function () while true do end end}) return tostring(o)',
        'local co = coroutine.wrap(function () while true do end end) co()',
        'pcall(error, "caught") while true do end',
        'while true do pcall(error, "caught") end',
        'table.sort({3, 2, 1}, function () while true do pcall(error, "caught") end end)',
        'while true do xpcall(error, function () while true do end end) end',
        'local co = coroutine.create(function () while true do pcall(function () while true do end end) end end) while true do coroutine.resume(co) end',
      ];
      for (const body of cases) {
        const result = await once(engine, `return function () ${body} end`, '', { cpuMs: 100 });
        assert.equal(errorOf(result).code, 'ERR_CPU_BUDGET', body);
        assert.ok(result.usage.cpuMs < 2000, `${body}: ${result.usage.cpuMs} ms`);
      }
      // Short non-yieldable sections are fine: the slice just ends at the next yieldable point.
      assert.equal(outputOf(await once(engine, 'return function () local t = {} for i = 1, 2000 do t[i] = (i * 7919) % 2003 end table.sort(t, function (a, b) return a > b end) return t[1] end', '', { cpuMs: 5000 })), '2002');
    });

    test('table and string bombs stop with ERR_MEMORY_BUDGET at 16 MiB; the engine keeps serving', async () => {
      await using engine = await open();
      const bombs = [
        'local t = {} local i = 0 while true do i = i + 1 t[i] = i end',
        'local t = {} local i = 0 while true do i = i + 1 t[i] = {i} end',
        'local t = {} local i = 0 while true do i = i + 1 t[i] = "string number " .. i end',
        'local s = "x" while true do s = s .. s end',
        'return string.rep("x", 1e9)',
        'local t = {} while true do local ok = pcall(function () t[#t + 1] = string.rep("y", 1e5) .. #t end) end',
      ];
      for (const body of bombs) {
        const result = await once(engine, `return function () ${body} end`, '', { memoryBytes: 16 * kMiB, cpuMs: 20_000 });
        assert.equal(errorOf(result).code, 'ERR_MEMORY_BUDGET', body);
        assert.ok(result.usage.memoryBytes <= 1.8 * 16 * kMiB, `${body}: ${result.usage.memoryBytes} bytes`);
      }
      assert.equal(outputOf(await once(engine, 'return function () local t = {} for i = 1, 1000 do t[i] = i end return #t end', '', { memoryBytes: 16 * kMiB })), '1000');
    });

    test('two long loops and a short function: the short one answers while the loops run', async () => {
      await using engine = await open();
      await engine.deploy('loop', language, bytes('return function () local n = 0 while true do n = n + 1 end end'), { cpuMs: 60_000, wallMs: 60_000 });
      await engine.deploy('short', language, bytes('return function (s) return "short " .. s end'));
      const controller = new AbortController();
      const settled: string[] = [];
      const loops = [1, 2].map((i) => engine.invoke('loop', bytes(''), { signal: controller.signal }).then((result) => { settled.push(`loop${i}`); return result; }));
      const startedAt = performance.now();
      for (let i = 0; i < 3; i++) assert.equal(outputOf(await engine.invoke('short', bytes(`${i}`))), `short ${i}`);
      const elapsedMs = performance.now() - startedAt;
      assert.deepEqual(settled, [], 'a loop ended before the short function answered');
      assert.ok(elapsedMs < 2000, `short invocations took ${elapsedMs} ms beside two loops`);
      controller.abort();
      for (const result of await Promise.all(loops)) assert.equal(errorOf(result).code, 'ERR_CANCELLED');
    });

    test('ctx.fetch yields to the engine and its refusal is a catchable Lua error', async () => {
      await using engine = await open();
      const result = await once(engine, 'return function (_, ctx) local ok, err = pcall(ctx.fetch, "http://example.com/", {method = "POST", body = "x", headers = {a = "b"}}) print(err) return tostring(ok) end');
      assert.equal(outputOf(result), 'false');
      assert.match(result.logs[0] ?? '', /^ERR_NETWORK_BUDGET: /);
      const uncaught = errorOf(await once(engine, 'return function (_, ctx) return ctx:fetch("http://example.com/").body end'));
      // The engine reports an invocation that failed after a refused request as the network breach.
      assert.equal(uncaught.code, 'ERR_NETWORK_BUDGET');
      assert.match(uncaught.message, /function\.lua:1: ERR_NETWORK_BUDGET/);
      assert.match(errorOf(await once(engine, 'return function (_, ctx) return coroutine.wrap(function () return ctx.fetch("http://x/") end)() end')).message, /cannot be called inside a coroutine/);
    });

    test('print goes to the invocation log', async () => {
      await using engine = await open();
      const result = await once(engine, 'return function () print("a", 1, nil, true) print() end');
      assert.deepEqual(result.logs, ['a\t1\tnil\ttrue', '']);
    });
  });
}

test('integer semantics: fengari is 32-bit, Lua 5.4 is 64-bit', async () => {
  await using engine = await Engine.open({ plugins: [luaPlugin(), lua54Plugin()] });
  const source = bytes('return function () return math.maxinteger end');
  await engine.deploy('a', 'lua', source);
  await engine.deploy('b', 'lua54', source);
  assert.equal(outputOf(await engine.invoke('a', bytes(''))), '2147483647');
  assert.equal(outputOf(await engine.invoke('b', bytes(''))), '9223372036854775807');
});
