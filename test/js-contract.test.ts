import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Engine, EngineError, type InvokeResult } from '../engine/index.ts';
import type { Budget } from '../engine/budget.ts';
import type { LanguagePlugin } from '../engine/plugin.ts';
import { jsPlugin } from '../plugins/js/index.ts';
import { quickjsPlugin } from '../plugins/quickjs/index.ts';
import { example } from './support/engine-process.ts';

/**
 * The JavaScript function contract (doc/js.md, "Contract (both engines)"), run unchanged against
 * every JavaScript engine: the same sources, through the real in-process Engine, must give the
 * same answers.
 */

/** Every JavaScript engine the contract runs against. */
const kJsEngines: (() => LanguagePlugin)[] = [() => jsPlugin(), () => quickjsPlugin()];

const bytes = (text: string): Uint8Array => Buffer.from(text);
const text = (result: InvokeResult): string => {
  assert.equal(result.ok, true, result.ok ? '' : `${result.error.code}: ${result.error.message}`);
  return result.ok ? Buffer.from(result.output).toString('utf8') : '';
};
const failure = (result: InvokeResult): { code: string, message: string } => {
  assert.equal(result.ok, false, result.ok ? `expected a failure, got ${Buffer.from(result.output).toString()}` : '');
  return result.ok ? { code: '', message: '' } : result.error;
};

async function withFunction (plugin: LanguagePlugin, source: string, budget: Partial<Budget>, body: (invoke: (input: string) => Promise<InvokeResult>, engine: Engine) => Promise<void>): Promise<void> {
  // The fetch test's server is on loopback, which the engine's deny list refuses unless the operator opens it.
  await using engine = await Engine.open({ plugins: [plugin], netAllowPrivate: ['127.0.0.1'] });
  await engine.deploy('f', plugin.language, bytes(source), budget);
  await body((input) => engine.invoke('f', bytes(input)), engine);
}

const kOrders = JSON.stringify([
  { id: 1, customer: 'ada', items: [{ sku: 'a', qty: 2, price: 3.5 }, { sku: 'b', qty: 1, price: 10 }] },
  { id: 2, customer: 'bob', items: [{ sku: 'c', qty: 5, price: 1 }] },
  { id: 3, customer: 'ada', items: [{ sku: 'a', qty: 1, price: 3.5 }] },
]);
const kLog = [
  '10.0.0.1 - - [10/Oct/2025:13:55:36 +0000] "GET /index.html HTTP/1.1" 200 2326',
  '10.0.0.2 - - [10/Oct/2025:13:55:37 +0000] "GET /index.html?x=1 HTTP/1.1" 200 100',
  '10.0.0.3 - - [10/Oct/2025:13:55:38 +0000] "POST /api HTTP/1.1" 500 -',
  'garbage line',
].join('\n');
const kShapes = JSON.stringify([{ kind: 'circle', r: 1 }, { kind: 'square', side: 2 }, { kind: 'rectangle', w: 1, h: 3 }]);

const kExamples: { file: string, input: string, expected: string }[] = [
  { file: 'fib.js', input: '20', expected: '6765' },
  { file: 'json-transform.js', input: kOrders, expected: JSON.stringify({ customers: [{ customer: 'ada', orders: 2, total: 20.5 }, { customer: 'bob', orders: 1, total: 5 }] }) },
  { file: 'sha256.js', input: 'héllo, wörld 🌍', expected: createHash('sha256').update('héllo, wörld 🌍').digest('hex') },
  { file: 'sha256.js', input: 'x'.repeat(1000), expected: createHash('sha256').update('x'.repeat(1000)).digest('hex') },
  { file: 'regex-parse.js', input: kLog, expected: JSON.stringify({ statusClasses: { '2xx': 2, '5xx': 1 }, topPaths: [['/index.html', 2], ['/api', 1]], bytes: 2426, malformed: 1 }) },
  { file: 'async-chain.js', input: 'ab cde', expected: JSON.stringify({ results: ['0:BA', '1:EDC'], lengths: [2, 3], steps: 2 }) },
  { file: 'shapes.js', input: kShapes, expected: JSON.stringify({ shapes: ['circle with area 3.14', 'square with area 4.00', 'rectangle with area 3.00'], total: 10.14, squaresAreRectangles: 2 }) },
];

for (const makePlugin of kJsEngines) {
  const language = makePlugin().language;

  test(`${language}: every example in examples/js gives the expected output`, async () => {
    await using engine = await Engine.open({ plugins: [makePlugin()] });
    for (const { file, input, expected } of kExamples) {
      const name = file.replace(/\.js$/, '');
      await engine.deploy(name, language, await readFile(example(`js/${file}`)), { cpuMs: 5000 });
      assert.equal(text(await engine.invoke(name, bytes(input))), expected, file);
    }
  });

  test(`${language}: output rules: string as is, Uint8Array as bytes, anything else JSON, undefined empty`, async () => {
    await withFunction(makePlugin(), `export default function (input) {
      if (input === 'bytes') return new Uint8Array([0, 1, 255]);
      if (input === 'undefined') return undefined;
      if (input === 'number') return 42;
      if (input === 'object') return { a: [1, 'two'] };
      return 'é' + input;
    }`, {}, async (invoke) => {
      assert.deepEqual([...((await invoke('bytes')) as { output: Uint8Array }).output], [0, 1, 255]);
      assert.equal(text(await invoke('undefined')), '');
      assert.equal(text(await invoke('number')), '42');
      assert.equal(text(await invoke('object')), '{"a":[1,"two"]}');
      assert.equal(text(await invoke('ü')), 'éü');
    });
  });

  test(`${language}: invalid UTF-8 input arrives with U+FFFD; console.log goes to the invocation's log`, async () => {
    await using engine = await Engine.open({ plugins: [makePlugin()] });
    await engine.deploy('f', language, bytes('export default function (input) { console.log("got", input.length, { k: [1] }); return input; }'));
    const result = await engine.invoke('f', new Uint8Array([0x61, 0xff, 0x62]));
    assert.equal(text(result), 'a\uFFFDb');
    assert.deepEqual(result.logs, ['got 3 {"k":[1]}']);
  });

  test(`${language}: a syntax error, an import or a missing default export fails the deploy with ERR_COMPILE`, async () => {
    await using engine = await Engine.open({ plugins: [makePlugin()] });
    const isCompileError = (pattern: RegExp) => (error: unknown): boolean => error instanceof EngineError && error.code === 'ERR_COMPILE' && pattern.test(error.message);
    await assert.rejects(engine.deploy('f', language, bytes('export default function ( {')), isCompileError(/syntax error.*\(1:/));
    await assert.rejects(engine.deploy('f', language, bytes('import fs from "node:fs"; export default () => fs')), isCompileError(/import/));
    await assert.rejects(engine.deploy('f', language, bytes('export default async () => import("node:fs")')), isCompileError(/dynamic import/));
    await assert.rejects(engine.deploy('f', language, bytes('export function f () {}')), isCompileError(/default export/));
    assert.deepEqual(engine.list(), []);
  });

  test(`${language}: an exception is ERR_FUNCTION with its message; a non-function default export too`, async () => {
    await withFunction(makePlugin(), 'export default async function (input) { await null; throw new TypeError("bad input: " + input); }', {}, async (invoke) => {
      assert.deepEqual(failure(await invoke('x')), { code: 'ERR_FUNCTION', message: 'TypeError: bad input: x' });
    });
    await withFunction(makePlugin(), 'export default 42;', {}, async (invoke) => {
      const error = failure(await invoke(''));
      assert.equal(error.code, 'ERR_FUNCTION');
      assert.match(error.message, /default export is not a function/);
    });
  });

  test(`${language}: ctx.fetch is a catchable rejection with the engine's code`, async () => {
    await withFunction(makePlugin(), `export default async function (input, ctx) {
      try { await ctx.fetch('https://example.com/', { method: 'POST', headers: { a: 'b' }, body: 'hi' }); return 'fetched'; }
      catch (error) { return { code: error.code, caught: error instanceof Error }; }
    }`, {}, async (invoke) => {
      assert.equal(text(await invoke('')), '{"code":"ERR_NETWORK_BUDGET","caught":true}');
    });
  });

  test(`${language}: ctx.fetch to an allowed host delivers status, headers and body bytes; the request carries its body`, async () => {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        response.setHeader('x-echo', String(request.headers['x-test']));
        response.end(Buffer.concat([Buffer.from(`${request.method} `), ...chunks, Buffer.from([0xff])]));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await withFunction(makePlugin(), `export default async function (input, ctx) {
        const response = await ctx.fetch(input, { method: 'POST', headers: { 'x-test': 'yes' }, body: new Uint8Array([104, 105]) });
        const again = await ctx.fetch(input, { method: 'PUT', body: 'ok' });
        return JSON.stringify({ status: response.status, echo: response.headers['x-echo'], bytes: [...response.body], again: again.body.length, isBytes: response.body instanceof Uint8Array });
      }`, { allowHosts: [`127.0.0.1:${port}`] }, async (invoke) => {
        assert.deepEqual(JSON.parse(text(await invoke(`http://127.0.0.1:${port}/x`))), { status: 200, echo: 'yes', bytes: [80, 79, 83, 84, 32, 104, 105, 255], again: 7, isBytes: true });
      });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test(`${language}: while(true){} stops with ERR_CPU_BUDGET near its 100 ms budget, also after an await`, async () => {
    await withFunction(makePlugin(), `export default async function (input, ctx) {
      if (input === 'after-await') { try { await ctx.fetch('https://example.com/'); } catch {} }
      while (true) {}
    }`, { cpuMs: 100 }, async (invoke) => {
      for (const input of ['sync', 'after-await']) {
        const result = await invoke(input);
        assert.equal(failure(result).code, 'ERR_CPU_BUDGET', input);
        assert.ok(result.usage.cpuMs >= 90 && result.usage.cpuMs < 1000, `${input}: stopped at ${result.usage.cpuMs} ms`);
      }
    });
  });

  test(`${language}: an async function awaiting forever ends with ERR_WALL_TIMEOUT`, async () => {
    await withFunction(makePlugin(), 'export default async function () { await new Promise(() => {}); }', { wallMs: 300 }, async (invoke) => {
      assert.equal(failure(await invoke('')).code, 'ERR_WALL_TIMEOUT');
    });
  });

  test(`${language}: bombs and one huge allocation under 16 MiB fail with ERR_MEMORY_BUDGET; the engine serves on and its memory comes back`, async () => {
    const bombs: Record<string, string> = {
      array: 'const a = []; for (;;) a.push([1, 2, 3]);',
      string: 'let s = "x"; const keep = []; for (;;) { s += s; keep.push(s + "!"); if (s.length > 1e6) s = String(Math.random()); }',
      arrayBuffer: 'const keep = []; for (;;) keep.push(new ArrayBuffer(1 << 20));',
      hugeArray: 'return new Array(5e7).fill(0).length;',
      hugeArrayBuffer: 'return new ArrayBuffer(1e9).byteLength;',
      // V8 allocates this array in one piece; QuickJS makes it sparse, so the loop is what fills its memory.
      hugeDenseArray: 'const a = [].constructor(3e7); for (let i = 0; i < a.length; i++) a[i] = i; return a.length;',
    };
    await using engine = await Engine.open({ plugins: [makePlugin()] });
    await engine.deploy('echo', language, bytes('export default (input) => input'));
    assert.equal(text(await engine.invoke('echo', bytes('warm'))), 'warm');
    const rssBeforeBytes = process.memoryUsage().rss;
    for (const [name, body] of Object.entries(bombs)) {
      await engine.deploy(name, language, bytes(`export default function () { ${body} }`), { memoryBytes: 16 * 2 ** 20, cpuMs: 10_000 });
      const result = await engine.invoke(name, bytes(''));
      assert.equal(failure(result).code, 'ERR_MEMORY_BUDGET', `${name}: ${JSON.stringify(result)}`);
      assert.equal(text(await engine.invoke('echo', bytes(name))), name, `the engine serves after ${name}`);
      await engine.remove(name);
    }
    // Discarded isolates are freed by isolated-vm's threads: give them a moment (generous; polled).
    let grownBytes = Infinity;
    for (let i = 0; i < 40 && grownBytes > 100 * 2 ** 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      grownBytes = process.memoryUsage().rss - rssBeforeBytes;
    }
    assert.ok(grownBytes < 100 * 2 ** 20, `the engine's memory grew by ${Math.round(grownBytes / 2 ** 20)} MiB and stayed there`);
  });

  test(`${language}: escape attempts find nothing of the host`, async () => {
    await withFunction(makePlugin(), `export default function (input, ctx) {
      const g = Function('return this')();
      const found = {
        process: typeof process, require: typeof require, globalProcess: typeof g.process, module: typeof module,
        ctxChain: typeof ctx.fetch.constructor('return typeof process')() === 'string' ? ctx.fetch.constructor('return typeof process')() : 'x',
        logChain: console.log.constructor('return typeof require')(),
        sab: typeof SharedArrayBuffer, atomics: typeof Atomics, wasm: typeof WebAssembly,
        frozenCtx: Object.isFrozen(ctx),
      };
      Object.prototype.polluted = 'yes';
      Array.prototype.push = () => 0;
      JSON.stringify = () => 'hijacked';
      return JSON.parse('{}').polluted === 'yes' ? found : 'no pollution?';
    }`, {}, async (invoke) => {
      const result = await invoke('');
      // The prelude encodes output with the JSON.stringify it captured first, so the hijack changes nothing.
      assert.deepEqual(JSON.parse(text(result)), { process: 'undefined', require: 'undefined', globalProcess: 'undefined', module: 'undefined', ctxChain: 'undefined', logChain: 'undefined', sab: 'undefined', atomics: 'undefined', wasm: 'undefined', frozenCtx: true });
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(typeof JSON.stringify, 'function');
      assert.equal(JSON.stringify([1]), '[1]');
    });
    await withFunction(makePlugin(), `export default function (input, ctx) {
      const g = Function('return this')();
      return [typeof process, typeof require, typeof g.process, typeof ctx.fetch.constructor('return typeof process')(), console.log.constructor('return typeof require')(), typeof SharedArrayBuffer, typeof Atomics, typeof WebAssembly, Object.isFrozen(ctx)].join(',');
    }`, {}, async (invoke) => {
      assert.equal(text(await invoke('')), 'undefined,undefined,undefined,string,undefined,undefined,undefined,undefined,true');
      assert.equal(text(await invoke('')), 'undefined,undefined,undefined,string,undefined,undefined,undefined,undefined,true', 'and again, in the reused context');
    });
  });

  test(`${language}: deep recursion is a catchable stack overflow, and a huge output is refused`, async () => {
    await withFunction(makePlugin(), `export default function (input) {
      if (input === 'output') return 'x'.repeat(12 * 2 ** 20);
      const down = (n) => down(n + 1) + 1;
      try { down(0); } catch (error) { return 'caught ' + error.name; }
    }`, { memoryBytes: 64 * 2 ** 20 }, async (invoke) => {
      assert.match(text(await invoke('recurse')), /^caught (RangeError|InternalError)$/);
      assert.equal(failure(await invoke('output')).code, 'ERR_OUTPUT_TOO_LARGE');
      assert.match(text(await invoke('recurse')), /^caught/);
    });
    await withFunction(makePlugin(), 'export default function f (input) { return f(input) + 1; }', {}, async (invoke) => {
      assert.equal(failure(await invoke('')).code, 'ERR_FUNCTION');
    });
  });

  test(`${language}: concurrent invocations of one function each get their own answer`, async () => {
    await withFunction(makePlugin(), 'export default async function (input) { for (let i = 0; i < 3; i++) await null; return input + "!"; }', {}, async (invoke) => {
      const inputs = Array.from({ length: 50 }, (_, i) => `n${i}`);
      const results = await Promise.all(inputs.map((input) => invoke(input)));
      assert.deepEqual(results.map(text), inputs.map((input) => `${input}!`));
    });
  });
}

test('js: an isolate disposed for memory is replaced for the next invocation, state reset', async () => {
  await withFunction(jsPlugin(), `let calls = 0;
    export default function (input) {
      calls++;
      if (input === 'bomb') { const a = []; for (;;) a.push({ calls }); }
      return String(calls);
    }`, { memoryBytes: 16 * 2 ** 20 }, async (invoke) => {
    assert.equal(text(await invoke('')), '1');
    assert.equal(text(await invoke('')), '2', 'one context per function version: module state persists between invocations');
    assert.equal(failure(await invoke('bomb')).code, 'ERR_MEMORY_BUDGET');
    assert.equal(text(await invoke('')), '1', 'a new isolate, loaded afresh');
  });
});
