import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Engine } from '../engine/index.ts';
import { assertSnippetAnswers, bytes, failure, kJsEngines, kSnippetRunner, output, type SnippetCase } from './support/js-snippets.ts';

/**
 * Streams (plugins/js-common/web-streams.ts), stream bodies (web-body.ts), FormData and File
 * (web-form-data.ts) on both JavaScript engines, through the real Engine. Each snippet's expected
 * answer is what the same snippet gives with Node's own globals, which follow the same standards.
 * Then: the streams group is built only when a stream is asked for, a stream body goes out through
 * fetch to a real loopback server, and a huge or endless stream or multipart body meets the
 * function's memory or CPU budget.
 */

const kStreamCases: SnippetCase[] = [
  { name: 'a reader, for await, pipeThrough, pipeTo and tee', code: `
    const numbers = () => new ReadableStream({ start (c) { for (const n of [1, 2, 3]) c.enqueue(n); c.close(); } });
    const reader = numbers().getReader(), read = [];
    for (let step = await reader.read(); !step.done; step = await reader.read()) read.push(step.value);
    const iterated = [];
    for await (const n of numbers()) iterated.push(n);
    const piped = [];
    await numbers().pipeThrough(new TransformStream({ transform (n, c) { c.enqueue(n * 10); } })).pipeTo(new WritableStream({ write (n) { piped.push(n); } }));
    const [a, b] = numbers().tee(), both = [];
    for await (const n of b) both.push('b' + n);
    for await (const n of a) both.push('a' + n);
    return [read, iterated, piped, both];` },
  { name: 'Response.body is a stream of the body; reading it marks the body used', code: `
    const response = new Response('h\u00e9llo');
    const before = response.bodyUsed, body = response.body, same = body === response.body, reader = body.getReader(), got = [];
    for (let step = await reader.read(); !step.done; step = await reader.read()) got.push(...step.value);
    let again;
    try { await response.text(); again = 'read'; } catch (error) { again = error.name; }
    const read = new Response('x');
    await read.text();
    return [before, same, got, response.bodyUsed, again, new Response(null).body, new Response('').body instanceof ReadableStream, Object.prototype.toString.call(body), read.body instanceof ReadableStream, read.body.locked, read.bodyUsed];` },
  { name: 'Blob.stream() streams a copy of the blob\'s bytes', code: `
    const bytes = new Uint8Array([1, 2, 3]), blob = new Blob([bytes]), got = [];
    bytes[0] = 9;
    for await (const chunk of blob.stream()) got.push(...chunk);
    return [got, blob.size];` },
  { name: 'a body stream takes a BYOB reader', code: `
    const reader = new Response('abcdef').body.getReader({ mode: 'byob' });
    const first = await reader.read(new Uint8Array(4));
    return [...first.value];` },
  { name: 'a stream as a body: read whole, cloned (tee) and moved into a Request', code: `
    const make = () => new ReadableStream({ start (c) { c.enqueue(new TextEncoder().encode('ab')); c.enqueue(new Uint8Array([99])); c.close(); } });
    const response = new Response(make()), copy = response.clone();
    const request = new Request('https://example.com/', { method: 'POST', body: make(), duplex: 'half' });
    const moved = new Request(request);
    return [await response.text(), await copy.text(), await moved.text(), request.bodyUsed, response.headers.get('content-type')];` },
  { name: 'a stream chunk that is not bytes fails the read with a TypeError', code: `
    try { await new Response(new ReadableStream({ start (c) { c.enqueue('text'); c.close(); } })).text(); return 'read'; } catch (error) { return error.name; }` },
  { name: 'a locked or read stream cannot become a body', code: `
    const locked = new ReadableStream();
    locked.getReader();
    const read = new ReadableStream({ start (c) { c.enqueue(new Uint8Array(1)); } });
    await read.getReader().read();
    const names = [];
    for (const stream of [locked, read]) { try { new Response(stream); names.push('accepted'); } catch (error) { names.push(error.name); } }
    return names;` },
  { name: 'TextEncoderStream and TextDecoderStream, fatal errors the stream', code: `
    const encoded = new Response(new Response('caf\u00e9 \ud83e\udd8c').body.pipeThrough(new TextDecoderStream()).pipeThrough(new TextEncoderStream()));
    const bad = new ReadableStream({ start (c) { c.enqueue(new Uint8Array([0x61, 0xff])); c.close(); } }).pipeThrough(new TextDecoderStream('utf-8', { fatal: true }));
    let failure;
    try { for await (const text of bad) failure = text; } catch (error) { failure = error.name; }
    return [await encoded.text(), failure, new TextDecoderStream().encoding, new TextEncoderStream().encoding];` },
];

const kFormCases: SnippetCase[] = [
  { name: 'FormData: append, set, delete, get, getAll, has, a Blob as a File, iteration', code: `
    const form = new FormData();
    form.append('a', '1'); form.append('a', '2'); form.append('b', new Blob(['x'], { type: 'text/plain' })); form.append('c', 3);
    form.set('a', 'three'); form.delete('missing');
    const b = form.get('b');
    return [[...form.keys()], [...form.values()].map(String), form.getAll('a'), b instanceof File, b.name, b.type, form.has('c'), form.get('none'), Object.prototype.toString.call(form)];` },
  { name: 'File: name, type, size, lastModified, text', code: `
    const file = new File(['ab', new Uint8Array([99])], 'n.txt', { type: 'TEXT/plain', lastModified: 42 });
    return [file.name, file.type, file.size, file.lastModified, await file.text(), file instanceof Blob, typeof new File([], 'x').lastModified];` },
  { name: 'a FormData body is multipart/form-data and reads back', code: `
    const form = new FormData();
    form.append('text', 'caf\u00e9');
    form.append('file', new File([new Uint8Array([0, 1, 2, 255])], 'data.bin', { type: 'application/x-test' }));
    form.append('renamed', new Blob(['z']), 'z.txt');
    const response = new Response(form), back = await response.formData(), file = back.get('file');
    return [response.headers.get('content-type').startsWith('multipart/form-data; boundary='), back.get('text'), file.name, file.type, [...new Uint8Array(await file.arrayBuffer())], back.get('renamed').name, back.get('renamed').type];` },
  { name: 'formData() of a urlencoded Request, and of a body of neither kind', code: `
    const request = new Request('https://example.com/', { method: 'POST', body: new URLSearchParams({ a: 'b c', d: '\u2713' }) });
    let plain;
    try { await new Response('a=1').formData(); plain = 'parsed'; } catch (error) { plain = error.name; }
    return [[...await request.formData()], plain];` },
];

for (const [language, plugin] of kJsEngines) {
  test(`${language}: streams, stream bodies and text streams answer as Node's`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('run', language, bytes(kSnippetRunner));
    await assertSnippetAnswers(engine, 'run', kStreamCases);
  });

  test(`${language}: FormData, File and formData() answer as Node's`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('run', language, bytes(kSnippetRunner));
    await assertSnippetAnswers(engine, 'run', kFormCases);
  });

  test(`${language}: the streams are built only when a stream is asked for (bodies read as bytes and FormData do not)`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('lazy', language, bytes(`export default async function () {
      const unbuilt = () => typeof Object.getOwnPropertyDescriptor(globalThis, 'ReadableStream').get === 'function';
      const atStart = unbuilt();
      await new Response('x').text();
      await new Request('https://example.com/', { method: 'POST', body: 'y' }).arrayBuffer();
      await new Response(new FormData()).formData();
      const afterBytes = unbuilt();
      new Response('z').body;
      return JSON.stringify([atStart, afterBytes, unbuilt()]);
    }`));
    assert.equal(output(await engine.invoke('lazy', bytes(''))), '[true,true,false]');
  });

  test(`${language}: a function that replaces the stream methods still reads its stream bodies whole`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('tamper', language, bytes(`export default async function () {
      const body = new ReadableStream({ start (c) { c.enqueue(new Uint8Array([104, 105])); c.close(); } });
      ReadableStream.prototype.getReader = () => { throw new Error('replaced getReader'); };
      ReadableStreamDefaultReader.prototype.read = () => { throw new Error('replaced read'); };
      const text = await new Response(body).text();
      let own;
      try { new ReadableStream().getReader(); own = 'unchanged'; } catch (error) { own = error.message; }
      return JSON.stringify([text, own]);
    }`));
    assert.equal(output(await engine.invoke('tamper', bytes(''))), '["hi","replaced getReader"]');
  });

  test(`${language}: fetch sends a stream body read whole, through the metered path`, async () => {
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => response.end(`${request.method} ${request.headers['content-length'] ?? 'chunked'} ${Buffer.concat(chunks).toString('utf8')}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await using engine = await Engine.open({ plugins: [plugin()], netAllowPrivate: ['127.0.0.1'] });
      await engine.deploy('send', language, bytes(`export default async function (url) {
        const body = new ReadableStream({ start (c) { c.enqueue(new TextEncoder().encode('streamed ')); c.enqueue(new TextEncoder().encode('body')); c.close(); } });
        const response = await fetch(url, { method: 'PUT', body, duplex: 'half' });
        const chunks = [];
        for await (const chunk of response.body) chunks.push(new TextDecoder().decode(chunk));
        return chunks.join('');
      }`), { allowHosts: [host] });
      const result = await engine.invoke('send', bytes(`http://${host}/`));
      assert.equal(output(result), 'PUT 13 streamed body');
      assert.equal(result.usage.netRequests, 1);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test(`${language}: a huge stream or multipart body meets the memory budget, an endless stream the CPU budget`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    const limits = { cpuMs: 5000, wallMs: 30_000, memoryBytes: 32 * 2 ** 20 };
    const sources: Record<string, string> = {
      stream: 'export default async function () { const r = new Response(new ReadableStream({ pull (c) { c.enqueue(new Uint8Array(1 << 20)); } })); return (await r.arrayBuffer()).byteLength; }',
      multipart: 'export default async function () { const part = new Blob([new Uint8Array(1 << 20)]), form = new FormData(); for (let i = 0; i < 64; i++) form.append("f" + i, part); return (await new Response(form).arrayBuffer()).byteLength; }',
      worker: 'export default { fetch () { return new Response(new ReadableStream({ pull (c) { c.enqueue(new Uint8Array(1 << 16)); } })); } }',
    };
    for (const [name, source] of Object.entries(sources)) {
      await engine.deploy(name, language, bytes(source), limits);
      const error = failure(await engine.invoke(name, bytes('')));
      assert.equal(error.code, 'ERR_MEMORY_BUDGET', `${name}: ${error.code} ${error.message}`);
      assert.match(error.message, /memory/, name);
    }
    await engine.deploy('endless', language, bytes('export default async function () { let n = 0; for await (const x of new ReadableStream({ pull (c) { c.enqueue(1); } })) n += x; return n; }'), { cpuMs: 300, wallMs: 30_000 });
    const result = await engine.invoke('endless', bytes(''));
    assert.equal(failure(result).code, 'ERR_CPU_BUDGET');
    assert.ok(result.usage.cpuMs >= 280, `${result.usage.cpuMs} ms of CPU charged`);
  });
}
