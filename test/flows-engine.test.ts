import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../engine/index.ts';
import { hasMoreItemsThan } from '../engine/flows/array-scan.ts';
import type { FlowUsage } from '../engine/flows/flow-run.ts';
import type { InvokeResult } from '../engine/invocation.ts';
import { smPlugin } from '../plugins/sm/index.ts';
import { faultyPlugin } from './support/test-plugins.ts';

/**
 * Flows on an engine in this process (sm, and the test language's echo and wait): what the socket
 * tests cannot reach easily, the bytes a template passes, a drain, a cancel and the map's
 * concurrency bound.
 */

const kHello = Buffer.from('outs "hello, "\noutin\n');
const kSpin = Buffer.from('top:\n  jmp top\n');
const flowSource = (flow: unknown): Buffer => Buffer.from(JSON.stringify(flow));
const codeOf = (result: InvokeResult): string => result.ok ? 'ok' : result.error.code;
const textOf = (result: InvokeResult): string => result.ok ? Buffer.from(result.output).toString() : `${result.error.code}: ${result.error.message}`;

async function openEngine (): Promise<Engine> {
  const engine = await Engine.open({ plugins: [smPlugin(), faultyPlugin()] });
  await engine.deploy('hello', 'sm', kHello);
  await engine.deploy('spin', 'sm', kSpin, { cpuMs: 5000, wallMs: 10_000 });
  await engine.deploy('echo', 'faulty', Buffer.from('echo'), { memoryBytes: 2 ** 20 });
  await engine.deploy('wait', 'faulty', Buffer.from('wait'), { memoryBytes: 2 ** 20 });
  return engine;
}

test('templates: one reference passes any bytes on; JSON templates take text as strings and refuse bytes that are not UTF-8', async () => {
  await using engine = await openEngine();
  await engine.deploy('pass', 'flow', flowSource({ steps: [{ id: 'a', function: 'echo' }], output: '$a' }));
  const binary = new Uint8Array([0, 255, 254, 10, 0x80]);
  const passed = await engine.invoke('pass', binary);
  assert.deepEqual(passed.ok ? [...passed.output] : passed, [...binary]);

  await engine.deploy('wrap', 'flow', flowSource({ steps: [{ id: 'a', function: 'hello' }, { id: 'b', function: 'echo', input: { greeting: '$a', raw: '$input', n: 3 } }], output: ['$b', 'done'] }));
  assert.equal(textOf(await engine.invoke('wrap', Buffer.from('[1,2]'))), '[{"greeting":"hello, [1,2]","raw":[1,2],"n":3},"done"]');
  const refused = await engine.invoke('wrap', binary);
  assert.equal(codeOf(refused), 'ERR_INVALID_ARGUMENT');
  assert.match(textOf(refused), /step "b" \(function echo\): the output of step "a" is not UTF-8 text/);

  await engine.deploy('literal', 'flow', flowSource({ steps: [{ id: 'a', function: 'hello', input: 'ready' }], output: '$a' }));
  assert.equal(textOf(await engine.invoke('literal', new Uint8Array())), 'hello, ready', 'a literal string is given as its text');

  // A step nothing reads still runs (for its effect); the outputs read by two steps reach both.
  await engine.deploy('fork', 'flow', flowSource({ steps: [{ id: 'a', function: 'hello' }, { id: 'side', function: 'echo' }, { id: 'b', function: 'echo', input: '$a' }, { id: 'c', function: 'hello', input: '$a' }], output: { b: '$b', c: '$c' } }));
  const forked = await engine.invoke('fork', Buffer.from('x'));
  assert.equal(textOf(forked), '{"b":"hello, x","c":"hello, hello, x"}');
  assert.deepEqual((forked.usage as FlowUsage).steps.map((step) => step.state), ['done', 'done', 'done', 'done']);
});

test('a map step keeps to its concurrency', async () => {
  await using engine = await openEngine();
  await engine.deploy('waits', 'flow', flowSource({ steps: [{ id: 'each', map: 'wait', over: '$input', concurrency: 3 }], output: '$each' }));
  let most = 0;
  const sampler = setInterval(() => { most = Math.max(most, engine.list().find((fn) => fn.name === 'wait')!.inFlight); }, 2);
  const result = await engine.invoke('waits', Buffer.from(JSON.stringify(Array.from({ length: 12 }, (_, i) => i))));
  clearInterval(sampler);
  assert.equal(textOf(result), JSON.stringify(Array.from({ length: 12 }, () => 'waited')));
  assert.ok(most >= 1 && most <= 3, `at most 3 of wait in flight, saw ${most}`);
});

test('a drain lets an admitted flow start its remaining steps, and refuses new flows', async () => {
  await using engine = await openEngine();
  await engine.deploy('later', 'flow', flowSource({ steps: [{ id: 'first', function: 'wait' }, { id: 'second', function: 'hello', input: '$first' }], output: '$second' }));
  const running = engine.invoke('later', new Uint8Array());
  await new Promise((resolve) => setTimeout(resolve, 5));
  const drained = engine.drain(5000);
  await assert.rejects(engine.invoke('later', new Uint8Array()), { code: 'ERR_CLOSED' });
  assert.equal(textOf(await running), 'hello, waited');
  await drained;
});

test('a caller\'s cancel ends the flow and cancels its running step', async () => {
  await using engine = await openEngine();
  await engine.deploy('stuck', 'flow', flowSource({ steps: [{ id: 'forever', function: 'spin' }, { id: 'next', function: 'hello', input: '$forever' }], output: '$next' }));
  const controller = new AbortController();
  const running = engine.invoke('stuck', new Uint8Array(), { signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 30));
  controller.abort(new Error('the client went away'));
  const result = await running;
  assert.equal(codeOf(result), 'ERR_CANCELLED');
  assert.match(textOf(result), /flow cancelled by its caller: the client went away/);
  assert.deepEqual((result.usage as FlowUsage).steps.map((step) => step.state), ['cancelled', 'not-run']);
  for (let i = 0; i < 50 && engine.stats().perFunction.spin?.errors.ERR_CANCELLED !== 1; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(engine.stats().perFunction.spin?.errors.ERR_CANCELLED, 1);
  assert.equal(engine.stats().inFlight, 0);
});

test('a flow replacing a function takes it out of service, and a step refuses a flow', async () => {
  await using engine = await openEngine();
  await engine.deploy('outer', 'flow', flowSource({ steps: [{ id: 'a', function: 'echo' }], output: '$a' }));
  await engine.deploy('echo', 'flow', flowSource({ steps: [{ id: 'a', function: 'hello' }], output: '$a' }));
  assert.equal(textOf(await engine.invoke('echo', Buffer.from('x'))), 'hello, x', 'echo is now the flow');
  const nested = await engine.invoke('outer', Buffer.from('x'));
  assert.equal(codeOf(nested), 'ERR_INVALID_ARGUMENT');
  assert.match(textOf(nested), /step "a" \(function echo\): echo is a flow/);
  assert.equal(engine.list().find((fn) => fn.name === 'echo')?.language, 'flow');
  assert.equal(engine.stats().totals.invocations, 1, 'the engine\'s totals count the one step that ran (hello), not the flows');
});

test('a fan-out bomb is counted, not parsed: the scan stops past maxItems, and follows strings and nesting', async () => {
  const cases: [string, number, boolean][] = [
    ['[]', 0, false], ['[1,2]', 1, true], ['[1,2]', 2, false],
    [' [ "a,b", "c\\",d" ]', 1, true], [' [ "a,b", "c\\",d" ]', 2, false], ['["\\\\",1,2]', 2, true],
    ['[[1,2,3],{"a":1,"b":2}]', 2, false], ['[[1,2,3],{"a":1,"b":2}]', 1, true],
    ['{"a":1,"b":2,"c":3}', 1, false], ['"a,b,c"', 1, false], ['[1] , 3, 4', 1, false], ['["open', 0, false],
  ];
  for (const [text, limit, more] of cases) {
    assert.equal(hasMoreItemsThan(Buffer.from(text), limit), more, `${text} has more than ${limit} items: ${more}`);
    // The scan agrees with the parse wherever the parse succeeds.
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch { continue; }
    if (Array.isArray(parsed)) assert.equal(parsed.length > limit, more, text);
  }

  await using engine = await openEngine();
  await engine.deploy('bomb', 'flow', flowSource({ steps: [{ id: 'each', map: 'echo', over: '$input', maxItems: 10 }], output: '$each' }));
  // Two million items, and one at the end that is not even JSON: refused on the count, unparsed.
  const result = await engine.invoke('bomb', Buffer.from(`[${'1,'.repeat(2_000_000)}nonsense]`));
  assert.equal(textOf(result), 'ERR_INVALID_ARGUMENT: step "each" (function echo): map over more than 10 items is refused (the step\'s maxItems)');
  assert.equal(engine.stats().perFunction.echo?.invocations ?? 0, 0);
});
