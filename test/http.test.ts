import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { SpringbokClient } from '../dispatchers/client.ts';
import { splitTarget } from '../dispatchers/http/router.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { example, httpBase, startEngineProcess, temporaryDir } from './support/engine-process.ts';

const kToken = 'http-test-token';
const auth = { authorization: `Bearer ${kToken}` };
const toolchain = findToolchain();

/** The curl-equivalent of `curl -X PUT --data-binary @FILE URL?language=...`. */
async function deploy (base: string, name: string, language: string, source: string | Uint8Array, query = ''): Promise<Response> {
  return fetch(`${base}/functions/${name}?language=${language}${query}`, { method: 'PUT', headers: auth, body: source });
}

async function invoke (base: string, name: string, input: string): Promise<Response> {
  return fetch(`${base}/functions/${name}`, { method: 'POST', body: input });
}

async function errorOf (response: Response): Promise<{ error: { code: string, message: string }, usage?: Record<string, number> }> {
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  return await response.json() as { error: { code: string, message: string }, usage?: Record<string, number> };
}

test('HTTP: a request target splits into the path and query the URL parser gives, with or without the shortcut', () => {
  const base = 'http://localhost';
  const tricky = ['/functions/f', '/functions/f?', '/functions/f?a=1&b=%zz', '//functions/f', '/functions/../healthz', '/functions/./f', '/functions/%66',
    '/functions/f/a?x#frag', "/functions/f?it's", '/functions/é', '/functions/a b', '/functions\\f', '/', '/?', '/healthz?x=/..'];
  // Besides the cases above, every target of up to three characters after the slash from an alphabet of the characters that matter.
  const alphabet = ['/', '.', '?', '%', '2', 'e', 'a', "'", '~', '!', '(', '*', '+', ';', '=', ':', '@', '-', '_', '#', ' ', '"', '<', '`', '{', '|', '\\', '^', '['];
  const generated = [''];
  for (let length = 1; length <= 3; length++) {
    for (const prefix of generated.filter((text) => text.length === length - 1)) generated.push(...alphabet.map((c) => prefix + c));
  }
  let compared = 0;
  for (const target of [...tricky, ...generated.map((text) => `/${text}`)]) {
    let url: URL;
    try {
      url = new URL(target, base);
    } catch {
      assert.throws(() => splitTarget(target), TypeError, target);
      continue;
    }
    assert.deepEqual(splitTarget(target), { pathname: url.pathname, search: url.search }, target);
    compared++;
  }
  assert.ok(compared > 20_000, `${compared} targets compared`);
});

test('HTTP: deploy, execute, list and delete functions of sm, lua, js and c', { timeout: 120_000 }, async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path, extraArgs: ['--http', '127.0.0.1:0', '--deploy-token', kToken] });
  const base = httpBase(engine);
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);

  const cases: { name: string, language: string, file: string, input: string, output: string }[] = [
    { name: 'hello', language: 'sm', file: 'sm/hello.sm', input: 'world', output: 'hello, world' },
    { name: 'lua-fib', language: 'lua', file: 'lua/fib.lua', input: '10', output: '55' },
    { name: 'js-fib', language: 'js', file: 'js/fib.js', input: '10', output: '55' },
  ];
  if (!('missing' in toolchain)) cases.push({ name: 'c-words', language: 'c', file: 'c/words.c', input: 'hello big world', output: 'OLLEH GIB DLROW' });

  for (const fn of cases) {
    const deployed = await deploy(base, fn.name, fn.language, await readFile(example(fn.file)), '&cpu-ms=500&memory-mb=32');
    assert.equal(deployed.status, 200, await deployed.clone().text());
    const { function: info } = await deployed.json() as { function: { name: string, language: string, version: number, budget: { cpuMs: number, memoryBytes: number } } };
    assert.equal(info.name, fn.name);
    assert.equal(info.language, fn.language);
    assert.equal(info.version, 1);
    assert.equal(info.budget.cpuMs, 500);
    assert.equal(info.budget.memoryBytes, 32 * 2 ** 20);

    const executed = await invoke(base, fn.name, fn.input);
    assert.equal(executed.status, 200, await executed.clone().text());
    assert.equal(executed.headers.get('content-type'), 'application/octet-stream');
    assert.equal(await executed.text(), fn.output, fn.language);
    assert.ok(Number(executed.headers.get('x-springbok-cpu-ms')) >= 0);
    assert.ok(Number(executed.headers.get('x-springbok-memory-bytes')) >= 0);
    assert.equal(executed.headers.get('x-springbok-net-requests'), '0');
    assert.equal(executed.headers.get('x-springbok-net-bytes'), '0');
    assert.equal(executed.headers.get('x-springbok-version'), '1');
  }

  // Binary-safe: every byte value goes in and comes back (hello.sm copies its input).
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const binary = await fetch(`${base}/functions/hello`, { method: 'POST', body: bytes });
  assert.deepEqual(new Uint8Array(await binary.arrayBuffer()), Uint8Array.from([...Buffer.from('hello, '), ...bytes]));

  // ctx.invoke's and kv's grants deploy with the CLI's names, repeatable and comma-separated.
  const callerSource = 'export default async function (input, ctx) { await ctx.kv.put("seen", input, { namespace: "shared" }); return await ctx.invoke("hello", input); }';
  const caller = await deploy(base, 'caller', 'js', callerSource, '&allow-invoke=hello,other*&kv=shared:rw&kv=more:ro&kv-bytes=4096&invoke-calls=2');
  assert.equal(caller.status, 200, await caller.clone().text());
  const { function: callerInfo } = await caller.json() as { function: { budget: { allowInvoke: string[], kv: string[], kvBytes: number, invokeCalls: number } } };
  assert.deepEqual([callerInfo.budget.allowInvoke, callerInfo.budget.kv, callerInfo.budget.kvBytes, callerInfo.budget.invokeCalls], [['hello', 'other*'], ['shared:rw', 'more:ro'], 4096, 2]);
  const called = await invoke(base, 'caller', 'ada');
  assert.equal(await called.text(), 'hello, ada');
  assert.deepEqual(['kv-reads', 'kv-writes', 'invoke-calls'].map((name) => called.headers.get(`x-springbok-${name}`)), ['0', '1', '1']);
  assert.ok(Number(called.headers.get('x-springbok-kv-bytes')) > 0);
  assert.equal((await invoke(base, 'hello', 'x')).headers.has('x-springbok-kv-reads'), false);
  assert.equal((await fetch(`${base}/functions/caller`, { method: 'DELETE', headers: auth })).status, 200);

  const listed = await fetch(`${base}/functions`);
  assert.equal(listed.status, 200);
  const { functions } = await listed.json() as { functions: { name: string }[] };
  assert.deepEqual(functions.map((fn) => fn.name), cases.map((fn) => fn.name).sort());
  const described = await fetch(`${base}/functions/hello`);
  assert.equal(((await described.json()) as { function: { language: string } }).function.language, 'sm');

  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { ok: boolean }).ok, true);

  for (const fn of cases) {
    const removed = await fetch(`${base}/functions/${fn.name}`, { method: 'DELETE', headers: auth });
    assert.equal(removed.status, 200);
    assert.deepEqual(await removed.json(), { removed: true });
  }
  const gone = await invoke(base, 'hello', 'x');
  assert.equal(gone.status, 404);
  assert.equal((await errorOf(gone)).error.code, 'ERR_UNKNOWN_FUNCTION');
  const again = await fetch(`${base}/functions/hello`, { method: 'DELETE', headers: auth });
  assert.equal(again.status, 404);
  assert.equal(await engine.stop(), 0);
});

test('HTTP: error statuses carry the code, usage and headers; the token guards deploy and delete', { timeout: 120_000 }, async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path, extraArgs: ['--http', '0', '--deploy-token', kToken, '--max-source-bytes', '4096', '--max-input-bytes', '1024', '--max-in-flight-per-function', '1'] });
  const base = httpBase(engine);

  // Token: missing, wrong, then right.
  const spin = await readFile(example('sm/spin.sm'));
  const anonymous = await fetch(`${base}/functions/spin?language=sm`, { method: 'PUT', body: spin });
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer');
  assert.equal((await errorOf(anonymous)).error.code, 'ERR_UNAUTHORIZED');
  const wrong = await fetch(`${base}/functions/spin?language=sm`, { method: 'PUT', body: spin, headers: { authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
  assert.equal((await deploy(base, 'spin', 'sm', spin, '&cpu-ms=30&wall-ms=60000')).status, 200);
  const unguardedDelete = await fetch(`${base}/functions/spin`, { method: 'DELETE' });
  assert.equal(unguardedDelete.status, 401);
  await unguardedDelete.body?.cancel();

  // Budget error: 422 with the code, the usage in the body and in the headers.
  const spun = await invoke(base, 'spin', '');
  assert.equal(spun.status, 422);
  const spunBody = await errorOf(spun);
  assert.equal(spunBody.error.code, 'ERR_CPU_BUDGET');
  assert.ok(spunBody.usage!.cpuMs! >= 30);
  assert.ok(Number(spun.headers.get('x-springbok-cpu-ms')) >= 30);

  // Function error: 500; memory budget: 422.
  assert.equal((await deploy(base, 'bomb', 'sm', await readFile(example('sm/alloc-bomb.sm')), '&memory-mb=1')).status, 200);
  const bombed = await invoke(base, 'bomb', '');
  assert.equal(bombed.status, 422);
  assert.equal((await errorOf(bombed)).error.code, 'ERR_MEMORY_BUDGET');
  assert.equal((await deploy(base, 'throws', 'js', 'export default function () { throw new Error("no") }')).status, 200);
  const thrown = await invoke(base, 'throws', '');
  assert.equal(thrown.status, 500);
  assert.equal((await errorOf(thrown)).error.code, 'ERR_FUNCTION');

  // Deploy errors: compile 422, unknown language 400, bad budget value 400, bad parameter 400, source too large 413.
  const broken = await deploy(base, 'broken', 'sm', 'push 1\njmp nowhere\n');
  assert.equal(broken.status, 422);
  assert.equal((await errorOf(broken)).error.code, 'ERR_COMPILE');
  const cobol = await deploy(base, 'old', 'cobol', 'x');
  assert.equal(cobol.status, 400);
  assert.equal((await errorOf(cobol)).error.code, 'ERR_UNKNOWN_LANGUAGE');
  const badBudget = await deploy(base, 'x', 'sm', 'outin', '&cpu-ms=lots');
  assert.equal(badBudget.status, 400);
  assert.match((await errorOf(badBudget)).error.message, /cpu-ms/);
  const outOfRange = await deploy(base, 'x', 'sm', 'outin', '&cpu-ms=0');
  assert.equal(outOfRange.status, 400);
  assert.equal((await errorOf(outOfRange)).error.code, 'ERR_INVALID_ARGUMENT');
  const unknownParameter = await deploy(base, 'x', 'sm', 'outin', '&cpu=5');
  assert.equal(unknownParameter.status, 400);
  assert.match((await errorOf(unknownParameter)).error.message, /"cpu"/);
  const noLanguage = await fetch(`${base}/functions/x`, { method: 'PUT', headers: auth, body: 'outin' });
  assert.equal(noLanguage.status, 400);
  assert.match((await errorOf(noLanguage)).error.message, /language/);
  const badName = await deploy(base, 'no%20spaces', 'sm', 'outin');
  assert.equal(badName.status, 400);
  await badName.body?.cancel();
  const huge = await deploy(base, 'big', 'sm', 'x'.repeat(5000));
  assert.equal(huge.status, 413);
  assert.equal((await errorOf(huge)).error.code, 'ERR_SOURCE_TOO_LARGE');

  // Input too large: 413; wrong method 405; unknown path 404.
  assert.equal((await deploy(base, 'hello', 'sm', await readFile(example('sm/hello.sm')))).status, 200);
  const bigInput = await invoke(base, 'hello', 'x'.repeat(2000));
  assert.equal(bigInput.status, 413);
  assert.equal((await errorOf(bigInput)).error.code, 'ERR_FRAME_TOO_LARGE');
  // The same without a content-length (chunked): refused once the chunks pass the limit, the answer written before the connection is dropped.
  const chunked = await fetch(`${base}/functions/hello`, { method: 'POST', body: new Blob(['x'.repeat(2000)]).stream(), duplex: 'half' });
  assert.equal(chunked.status, 413);
  assert.equal((await errorOf(chunked)).error.code, 'ERR_FRAME_TOO_LARGE');
  const patched = await fetch(`${base}/functions/hello`, { method: 'PATCH' });
  assert.equal(patched.status, 405);
  assert.ok(patched.headers.get('allow')?.includes('POST'));
  await patched.body?.cancel();
  const nowhere = await fetch(`${base}/nowhere`);
  assert.equal(nowhere.status, 404);
  await nowhere.body?.cancel();

  // A request the HTTP parser cannot read gets a bare 400, and the engine goes on.
  const raw = createConnection({ host: new URL(base).hostname, port: Number(new URL(base).port) });
  raw.end('NOT HTTP AT ALL\r\n\r\n');
  let answer = '';
  raw.on('data', (chunk: Buffer) => { answer += chunk.toString(); });
  await once(raw, 'close');
  assert.match(answer, /^HTTP\/1\.1 400 /);

  // The engine is still up and answering.
  assert.equal(await (await invoke(base, 'hello', 'again')).text(), 'hello, again');
  assert.equal(await engine.stop(), 0);
});

test('HTTP: a client that disconnects mid-invocation cancels it (ERR_CANCELLED in the stats)', { timeout: 60_000 }, async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path, extraArgs: ['--http', '127.0.0.1:0', '--max-in-flight-per-function', '1'] });
  const base = httpBase(engine);
  const spin = await readFile(example('sm/spin.sm'));
  assert.equal((await fetch(`${base}/functions/spin?language=sm&cpu-ms=60000&wall-ms=60000`, { method: 'PUT', body: spin })).status, 200);
  const controller = new AbortController();
  const hanging = fetch(`${base}/functions/spin`, { method: 'POST', body: '', signal: controller.signal }).catch((error: unknown) => error);
  const inFlight = async (): Promise<number> => ((await (await fetch(`${base}/functions/spin`)).json()) as { function: { inFlight: number } }).function.inFlight;
  await waitFor(async () => await inFlight() === 1);
  const full = await invoke(base, 'spin', '');
  assert.equal(full.status, 503);
  assert.equal(full.headers.get('retry-after'), '1');
  assert.equal((await errorOf(full)).error.code, 'ERR_QUEUE_FULL');
  controller.abort();
  await hanging;
  await waitFor(async () => await inFlight() === 0);
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  const stats = await client.stats();
  await client.close();
  assert.equal(stats.perFunction.spin?.errors.ERR_CANCELLED, 1);
  assert.equal(await engine.stop(), 0);
});

async function waitFor (condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One sample of the Prometheus text format: `name{label="value",...} number`. */
interface Sample { readonly name: string, readonly labels: Readonly<Record<string, string>>, readonly value: number }

/**
 * A small parser of the Prometheus text exposition format (version 0.0.4): `# TYPE` lines and
 * samples with quoted, escaped label values. Throws on any line it cannot read, so the test fails
 * on output a real scraper would reject.
 */
function parsePrometheusText (text: string): { types: Map<string, string>, samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (type !== null) types.set(type[1]!, type[2]!);
      else if (!/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* /.test(line)) throw new Error(`bad comment line: ${line}`);
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (match === null) throw new Error(`bad sample line: ${line}`);
    const labels: Record<string, string> = {};
    const labelText = match[2] ?? '';
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;
    let at = 0;
    while (at < labelText.length) {
      labelPattern.lastIndex = at;
      const label = labelPattern.exec(labelText);
      if (label === null) throw new Error(`bad labels in: ${line}`);
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => c === 'n' ? '\n' : c);
      at = labelPattern.lastIndex;
    }
    const raw = match[3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    // The exposition format takes NaN in any case (prom-client writes "Nan" for a gauge with no samples yet).
    if (Number.isNaN(value) && raw.toLowerCase() !== 'nan') throw new Error(`bad value in: ${line}`);
    samples.push({ name: match[1]!, labels, value });
  }
  return { types, samples };
}

function sampleValue (samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))?.value;
}

test('HTTP: /metrics is Prometheus text whose counters match the invocations made', { timeout: 60_000 }, async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path, extraArgs: ['--http', '127.0.0.1:0'] });
  const base = httpBase(engine);
  assert.equal((await fetch(`${base}/functions/hello?language=sm`, { method: 'PUT', body: await readFile(example('sm/hello.sm')) })).status, 200);
  assert.equal((await fetch(`${base}/functions/spin?language=sm&cpu-ms=20`, { method: 'PUT', body: await readFile(example('sm/spin.sm')) })).status, 200);
  assert.equal((await fetch(`${base}/functions/fib?language=lua`, { method: 'PUT', body: await readFile(example('lua/fib.lua')) })).status, 200);
  const httpCalls = 7;
  for (let i = 0; i < httpCalls; i++) assert.equal((await invoke(base, 'hello', String(i))).status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await invoke(base, 'spin', '')).status, 422);
  // Invocations over the socket count too: the counters are the engine's, not the HTTP front's.
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  for (let i = 0; i < 3; i++) assert.equal((await client.invoke('hello', 'socket')).ok, true);
  const listed = await client.list();
  await client.close();

  const response = await fetch(`${base}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const { types, samples } = parsePrometheusText(await response.text());

  assert.equal(types.get('springbok_invocations_total'), 'counter');
  assert.equal(types.get('springbok_http_invoke_duration_seconds'), 'histogram');
  assert.equal(types.get('springbok_in_flight'), 'gauge');
  assert.equal(sampleValue(samples, 'springbok_invocations_total', { function: 'hello' }), httpCalls + 3);
  assert.equal(sampleValue(samples, 'springbok_invocations_total', { function: 'spin' }), 2);
  assert.equal(sampleValue(samples, 'springbok_invocations_total', { function: 'fib' }), 0);
  assert.equal(sampleValue(samples, 'springbok_invocation_errors_total', { function: 'spin', code: 'ERR_CPU_BUDGET' }), 2);
  assert.equal(sampleValue(samples, 'springbok_invocation_errors_total', { function: 'hello' }), undefined);
  assert.ok(sampleValue(samples, 'springbok_function_cpu_seconds_total', { function: 'spin' })! >= 0.04);
  assert.ok(sampleValue(samples, 'springbok_function_peak_memory_bytes', { function: 'hello' })! > 0);

  // The histogram: HTTP invocations only, cumulative buckets ending in +Inf = count.
  assert.equal(sampleValue(samples, 'springbok_http_invoke_duration_seconds_count', { function: 'hello' }), httpCalls);
  const buckets = samples.filter((sample) => sample.name === 'springbok_http_invoke_duration_seconds_bucket' && sample.labels.function === 'hello');
  assert.ok(buckets.length > 5);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'buckets are cumulative');
  assert.equal(buckets.at(-1)!.labels.le, '+Inf');
  assert.equal(buckets.at(-1)!.value, httpCalls);
  assert.ok(sampleValue(samples, 'springbok_http_invoke_duration_seconds_sum', { function: 'hello' })! > 0);

  // Queues and instances: nothing in flight now; hello and spin have run (their sandboxes live), fib has not.
  assert.equal(sampleValue(samples, 'springbok_in_flight'), 0);
  assert.equal(sampleValue(samples, 'springbok_function_in_flight', { function: 'hello' }), 0);
  assert.equal(sampleValue(samples, 'springbok_scheduler_lanes_ready'), 0);
  assert.ok(sampleValue(samples, 'springbok_scheduler_slices_total')! > 0);
  const smInstances = listed.filter((fn) => fn.language === 'sm').reduce((sum, fn) => sum + fn.instances, 0);
  assert.ok(smInstances >= 2, 'hello and spin each have a sandbox on at least one scheduler thread');
  assert.equal(sampleValue(samples, 'springbok_instances_live', { language: 'sm' }), smInstances);
  assert.equal(sampleValue(samples, 'springbok_instances_live', { language: 'lua' }), 0);
  assert.equal(sampleValue(samples, 'springbok_functions', { language: 'lua', state: 'compiled' }), 1);
  assert.ok(sampleValue(samples, 'process_resident_memory_bytes')! > 0);

  // A removed function's series go away.
  assert.equal((await fetch(`${base}/functions/spin`, { method: 'DELETE' })).status, 200);
  const after = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
  assert.equal(sampleValue(after.samples, 'springbok_invocations_total', { function: 'spin' }), undefined);
  assert.equal(sampleValue(after.samples, 'springbok_http_invoke_duration_seconds_count', { function: 'spin' }), undefined);
  assert.equal(sampleValue(after.samples, 'springbok_invocations_total', { function: 'hello' }), httpCalls + 3);
  assert.equal(await engine.stop(), 0);
});
