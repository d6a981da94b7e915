import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Engine } from '../engine/index.ts';
import { assertSnippetAnswers, bytes, kJsEngines, kSnippetRunner, output, type SnippetCase } from './support/js-snippets.ts';

/**
 * The fetch group of web globals of both JavaScript engines (plugins/js-common/web-fetch.ts:
 * Headers, URLSearchParams, URL, Request, Response, fetch, Blob), through the real Engine. Each
 * case is a snippet run inside the guest; where Node's own globals follow the standard, the expected
 * answer is what the same snippet gives in Node, otherwise it is written out. fetch goes to a real
 * loopback server the function's allow-list names.
 */

/** WHATWG URL parsing vectors: input, base (null: none), the href the standard gives (null: a TypeError). */
const kUrlVectors: [string, string | null, string | null][] = [
  ['http://example.com/a/../b/./c', null, 'http://example.com/b/c'],
  ['HTTP://EXAMPLE.COM:80/', null, 'http://example.com/'],
  ['https://example.com:443/x', null, 'https://example.com/x'],
  ['http://example.com:8080', null, 'http://example.com:8080/'],
  ['http://0x7f.1/', null, 'http://127.0.0.1/'],
  ['http://127.1/', null, 'http://127.0.0.1/'],
  ['http://2130706433/', null, 'http://127.0.0.1/'],
  ['http://0177.0.0.1/', null, 'http://127.0.0.1/'],
  ['http://192.168.0.257/', null, null],
  ['http://1.2.3.4.5/', null, null],
  ['http://[::1]/', null, 'http://[::1]/'],
  ['http://[0:0:0:0:0:0:0:1]:81/', null, 'http://[::1]:81/'],
  ['http://[::ffff:192.168.0.1]/', null, 'http://[::ffff:c0a8:1]/'],
  ['http://[1:0:0:2::3:0]/', null, 'http://[1::2:0:0:3:0]/'],
  ['http://[::1/', null, null],
  ['http://[::1]x/', null, null],
  ['http://a b/', null, null],
  ['http://ex%41mple.com/', null, 'http://example.com/'],
  ['http://example.com/a b/\u00fc?q=a b&x=\u00fc#f g', null, 'http://example.com/a%20b/%C3%BC?q=a%20b&x=%C3%BC#f%20g'],
  ['http://example.com/%7e/%zz', null, 'http://example.com/%7e/%zz'],
  ['http://example.com/%2e%2E/x', null, 'http://example.com/x'],
  ['http://h/p?%zz&a=%E2%82%AC', null, 'http://h/p?%zz&a=%E2%82%AC'],
  ['//other.com/x', 'https://base.com/a', 'https://other.com/x'],
  ['?q', 'http://h/p/f?x#y', 'http://h/p/f?q'],
  ['#frag', 'http://h/p/f?x#y', 'http://h/p/f?x#frag'],
  ['../../../x', 'http://h/a/b/c', 'http://h/x'],
  ['x/../y/.', 'http://h/a/b', 'http://h/a/y/'],
  ['', 'http://h/p?q#f', 'http://h/p?q'],
  ['/abs', 'http://h/p', 'http://h/abs'],
  ['rel', 'mailto:x@y', null],
  ['rel', null, null],
  ['http://h:65536/', null, null],
  ['http://h:0/', null, 'http://h:0/'],
  ['http://user:pa ss@h/', null, 'http://user:pa%20ss@h/'],
  ['http:\\\\h\\a\\b', null, 'http://h/a/b'],
  ['  http://h/ \n', null, 'http://h/'],
  ['ws://h:80/', null, 'ws://h/'],
  ['wss://h:443/', null, 'wss://h/'],
  ['file:///C:/a/../b', null, 'file:///C:/b'],
  ['file://host/share', null, 'file://host/share'],
  ['mailto:Someone@Example.com', null, 'mailto:Someone@Example.com'],
  ['data:text/plain,hello world', null, 'data:text/plain,hello world'],
  ['javascript:alert(1)', null, 'javascript:alert(1)'],
  ['foo://h/%7e a', null, 'foo://h/%7e%20a'],
  ['http://m\u00fcnchen.de/', null, 'http://xn--mnchen-3ya.de/'],
];

const kCases: SnippetCase[] = [
  // URL
  { name: 'URL parsing vectors (a TypeError where the standard says failure)', code: `return ${JSON.stringify(kUrlVectors)}.map(([input, base]) => {
      try { return new URL(input, base === null ? undefined : base).href; } catch (e) { return e instanceof TypeError ? null : 'not a TypeError: ' + e.name; }
    });`, expected: kUrlVectors.map((v) => v[2]) },
  { name: 'URL components', code: `const u = new URL('https://us%65r:pa%20ss@[::1]:8080/p/a/t/h?query=1&b#hash'); const f = new URL('file:///tmp/x'); const m = new URL('mailto:a@b');
    return [u.href, u.origin, u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, u.search, u.hash, f.origin, f.host, m.origin, m.pathname, new URL('blob:https://a.com/uuid').origin, new URL('data:,x').origin];` },
  { name: 'URL setters', code: `const u = new URL('http://h/p?q#f'); const out = [];
    u.search = 'a=1 2'; out.push(u.href); u.search = ''; out.push(u.href); u.hash = 'x y'; out.push(u.href); u.hash = ''; out.push(u.href);
    u.pathname = '/a b/../c'; out.push(u.href); u.port = '8080'; out.push(u.href); u.port = '80'; out.push(u.href); u.port = 'x'; out.push(u.href);
    u.hostname = 'other.org'; out.push(u.href); u.host = 'h2:81'; out.push(u.href); u.username = 'me'; u.password = 'pw'; out.push(u.href);
    u.protocol = 'https'; out.push(u.href); u.protocol = 'mailto'; out.push(u.href); u.href = 'ws://w/'; out.push(u.href, u.origin);
    let bad; try { u.href = 'nope'; } catch (e) { bad = e.name; } out.push(bad, u.href);
    return out;` },
  { name: 'URL statics and serialization', code: `const u = new URL('http://h/x');
    return [URL.canParse('http://x'), URL.canParse('x'), URL.canParse('x', 'http://h/'), URL.parse('nope'), URL.parse('y', 'http://h/a').href, String(u), u.toJSON(), JSON.stringify({ u }), Object.prototype.toString.call(u), new URL(u).href, new URL('x', u).href];` },
  { name: 'invalid URLs throw a TypeError naming the input; URL needs an argument', code: `const out = [];
    for (const call of [() => new URL('nope'), () => new URL(), () => new URL('/x', 'also-relative')]) { try { call(); out.push('no error'); } catch (e) { out.push(e instanceof TypeError); } }
    return out;` },
  { name: 'a URL longer than 64 Ki characters is refused with a TypeError (the host parses at most that)', code: `const out = [new URL('http://h/' + 'a'.repeat(60000)).pathname.length];
    try { new URL('http://h/' + 'a'.repeat(70000)); out.push('parsed'); } catch (e) { out.push(e.name); }
    try { new URL('/x', 'http://h/' + 'a'.repeat(70000)); out.push('parsed'); } catch (e) { out.push(e.name); }
    out.push(URL.canParse('http://h/' + 'a'.repeat(70000)));
    return out;`, expected: [60001, 'TypeError', 'TypeError', false] },
  { name: 'searchParams is live both ways', code: `const u = new URL('http://h/?a=1&b=2'); const p = u.searchParams;
    p.append('c', 'x y'); const one = u.href; u.search = '?z=9'; const two = [...p]; p.delete('z'); const three = u.href; u.href = 'http://h/?k=v'; const four = p.get('k');
    return [one, two, three, four, u.searchParams === p];` },
  // URLSearchParams
  { name: 'URLSearchParams parsing', code: `return ['?a=1&b=2', 'a=b=c', '&&a&=&b=', '%zz=%4', '+%20+=%2B', 'a=%E2%82%AC&%F0%9F%98%80', '%EF%BB%BFx=1', '%FF=%C3', 'a\\ud800=1'].map((s) => [...new URLSearchParams(s)]);` },
  { name: 'URLSearchParams serialization encodes as application/x-www-form-urlencoded', code: `return [new URLSearchParams({ 'a b': 'c&d=e', '*-._': "~!'()+", '\\u00e9\\u20ac': '\\ud83d\\ude00', 'x': '\\ud800' }).toString(), new URLSearchParams([['=', '&'], ['%', '%20']]).toString(), new URLSearchParams('a=%7E').toString()];` },
  { name: 'URLSearchParams methods', code: `const p = new URLSearchParams('b=2&a=1&b=3&c=4');
    const out = [p.size, p.get('b'), p.getAll('b'), p.get('x'), p.has('a'), p.has('b', '3'), p.has('b', '9')];
    p.append('a', '0'); p.set('b', 'x'); out.push(p.toString()); p.delete('a', '1'); out.push(p.toString()); p.sort(); out.push(p.toString()); p.delete('c'); out.push(p.toString(), p.size);
    const seen = []; p.forEach((value, key, self) => seen.push([key, value, self === p])); out.push(seen, [...p.keys()], [...p.values()], Object.prototype.toString.call(p.entries()));
    return out;` },
  { name: 'URLSearchParams from records, sequences and another URLSearchParams', code: `const out = [];
    out.push([...new URLSearchParams({ a: 1, b: [2, 3] })], [...new URLSearchParams([['x', 'y'], new Set(['k', 'v'])])], [...new URLSearchParams(new URLSearchParams('q=1'))], [...new URLSearchParams(new Map([['m', 'n']]))]);
    try { new URLSearchParams([['only']]); out.push('no error'); } catch (e) { out.push(e.name); }
    return out;` },
  // Headers
  { name: 'Headers are case-insensitive, combine values and iterate sorted', code: `const h = new Headers({ 'Content-Type': 'text/plain', 'X-B': '1' });
    h.append('x-b', '2'); h.append('Set-Cookie', 'a=1'); h.append('set-cookie', 'b=2'); h.append('A-First', ' padded\\t ');
    const out = [h.get('CONTENT-type'), h.get('x-b'), h.has('X-b'), h.get('missing'), h.get('set-cookie'), h.getSetCookie(), [...h], [...h.keys()], [...h.values()]];
    h.set('x-B', '3'); h.delete('content-type'); out.push([...h]);
    const seen = []; h.forEach((value, key, self) => seen.push([key, value, self === h])); out.push(seen, Object.prototype.toString.call(h), Object.prototype.toString.call(h.entries()));
    return out;` },
  { name: 'Headers refuse invalid names and values with a TypeError', code: `const out = [];
    for (const call of [(h) => h.append('bad name', 'v'), (h) => h.append('', 'v'), (h) => h.append('x', 'a\\nb'), (h) => h.append('x', 'a\\rb'), (h) => h.append('x', 'a\\u0000b'), (h) => h.append('x', '\\u20ac'),
      (h) => h.set('(x)', 'v'), (h) => h.get('a:b'), (h) => h.append('x'), () => new Headers([['a']]), () => new Headers(5), (h) => h.append('x', 'ok \\u00ff')]) {
      const h = new Headers(); try { call(h); out.push([...h]); } catch (e) { out.push(e.name); }
    }
    return out;` },
  { name: 'Headers from records, pairs, iterables and other Headers', code: `const base = new Headers([['a', '1'], ['b', '2'], ['a', '3']]);
    return [[...new Headers(base)], [...new Headers(new Map([['M', 'n']]))], [...new Headers({ z: 1, y: true })], [...new Headers([new Set(['k', 'v'])])], new Headers(base).get('a')];` },
  // Response
  { name: 'Response status, headers and text body', code: `const r = new Response('h\\u00e9llo', { status: 201, statusText: 'Created', headers: { 'X-A': '1' } });
    const text = await r.text(); return [r.status, r.ok, r.statusText, r.headers.get('content-type'), r.headers.get('x-a'), r.type, r.url, r.redirected, text, r.bodyUsed];` },
  { name: 'a second read of a body rejects with a TypeError', code: `const r = new Response('x'); await r.text(); const out = [r.bodyUsed];
    for (const read of ['text', 'json', 'arrayBuffer', 'bytes', 'blob']) { try { await r[read](); out.push('read'); } catch (e) { out.push(e.name); } }
    let clone; try { r.clone(); clone = 'cloned'; } catch (e) { clone = e.name; }
    const empty = new Response(); out.push(clone, await empty.text(), await empty.text(), empty.bodyUsed);
    return out;` },
  { name: 'bodies from strings, buffers, views, URLSearchParams and Blobs', code: `const buf = new Uint8Array([1, 2, 3, 4, 5]);
    const out = [];
    out.push([...new Uint8Array(await new Response(buf.buffer).arrayBuffer())], [...await new Response(buf.subarray(1, 3)).bytes()], [...await new Response(new DataView(buf.buffer, 3)).bytes()]);
    const p = new Response(new URLSearchParams('a=1 2&b=\\u20ac')); out.push(p.headers.get('content-type'), await p.text());
    const b = new Response(new Blob(['{"k":'], { type: 'Application/JSON' }).slice(0, 5)); out.push(b.headers.get('content-type'));
    const j = new Response('{"k":[1,2]}'); out.push(await j.json(), (await new Response('abc').blob()).size, await (await new Response('abc', { headers: { 'content-type': 'text/x' } }).blob()).type);
    const kept = new Uint8Array([9]); const r = new Response(kept); kept[0] = 0; out.push([...await r.bytes()]);
    return out;` },
  { name: 'Response statics', code: `const j = Response.json({ a: [1] }, { status: 202, headers: { 'x-k': 'v' } }); const e = Response.error(); const r = Response.redirect('http://h/x y', 307);
    const out = [j.status, j.headers.get('content-type'), j.headers.get('x-k'), await j.text(), e.type, e.status, e.ok, r.status, r.headers.get('location')];
    try { r.headers.set('x', 'y'); out.push('mutable'); } catch (err) { out.push(err.name); }
    for (const call of [() => Response.redirect('http://h/', 200), () => Response.redirect('relative'), () => Response.json(undefined), () => new Response('x', { status: 204 }), () => new Response(null, { status: 600 }), () => new Response(null, { status: 199 }), () => new Response(null, { statusText: 'a\\nb' })]) {
      try { call(); out.push('no error'); } catch (err) { out.push(err.name); }
    }
    return out;` },
  { name: 'Response.clone copies the body', code: `const r = new Response('twice', { status: 203 }); const c = r.clone(); return [await r.text(), await c.text(), c.status, r.bodyUsed, c.bodyUsed];` },
  // Request
  { name: 'Request fields, method normalization and bodies', code: `const r = new Request('http://h/a?b#c', { method: 'post', body: 'data', headers: { 'X-Y': 'z' } });
    const out = [r.url, r.method, r.headers.get('x-y'), r.headers.get('content-type'), r.redirect, r.signal.aborted, await r.text(), r.bodyUsed];
    out.push(new Request('http://h/', { method: 'patch' }).method, new Request('http://h/', { method: 'Custom' }).method, new Request('http://h/').method);
    for (const call of [() => new Request('http://h/', { method: 'GET', body: 'x' }), () => new Request('http://h/', { method: 'HEAD', body: 'x' }), () => new Request('http://h/', { method: 'CONNECT' }), () => new Request('http://h/', { method: 'bad method' }),
      () => new Request('/relative'), () => new Request('http://user:pw@h/'), () => new Request('http://h/', { signal: {} }), () => new Request()]) {
      try { call(); out.push('no error'); } catch (e) { out.push(e.name); }
    }
    return out;` },
  { name: 'a Request from a Request takes its body; clone and signal', code: `const a = new Request('http://h/', { method: 'PUT', body: 'moved' }); const b = new Request(a); const out = [a.bodyUsed, b.method, await b.text()];
    try { new Request(a); out.push('no error'); } catch (e) { out.push(e.name); }
    const controller = new AbortController(); const c = new Request('http://h/', { signal: controller.signal }); const d = c.clone();
    controller.abort('why'); out.push(c.signal.aborted, c.signal.reason, d.signal.aborted, c.signal !== controller.signal);
    const e = new Request('http://h/', { method: 'POST', body: new URLSearchParams('x=1') }); out.push(e.headers.get('content-type'), await e.clone().text());
    return out;` },
  // Blob
  { name: 'Blob parts, size, type and slices', code: `const b = new Blob(['ab', new Uint8Array([99, 100]), new Blob(['e\\u00e9'])], { type: 'Text/Plain' });
    return [b.size, b.type, await b.text(), [...new Uint8Array(await b.arrayBuffer())], await b.slice(1, 3).text(), await b.slice(-3).text(), b.slice(2, 1).size, b.slice(0, 1, 'X/Y').type, new Blob([], { type: '\\u00e9' }).type, new Blob().size, [...await b.slice(4).bytes()], Object.prototype.toString.call(b)];` },
];

/** A loopback server: GET /json answers JSON, /slow answers after 300 ms, anything else echoes the request. */
async function echoServer (): Promise<Server & AsyncDisposable> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url === '/json') {
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ hello: 'w\u00f6rld', list: [1, 2] }));
      } else if (request.url === '/slow') {
        setTimeout(() => response.end('late'), 300);
      } else {
        response.statusCode = 203;
        response.setHeader('x-method', String(request.method));
        response.setHeader('x-echo', String(request.headers['x-test']));
        response.setHeader('x-type', String(request.headers['content-type']));
        response.end(Buffer.concat(chunks));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(server, { [Symbol.asyncDispose]: async () => { server.closeAllConnections(); server.close(); } });
}

for (const [language, plugin] of kJsEngines) {
  test(`${language}: fetch globals answer as the standard says`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('run', language, bytes(kSnippetRunner));
    await assertSnippetAnswers(engine, 'run', kCases);
  });

  test(`${language}: the global fetch returns a real Response, through the same metered path as ctx.fetch`, async () => {
    await using server = await echoServer();
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await using engine = await Engine.open({ plugins: [plugin()], netAllowPrivate: ['127.0.0.1'] });
    await engine.deploy('f', language, bytes(`export default async function (base, ctx) {
      const json = await fetch(base + '/json');
      const data = await json.json();
      const posted = await fetch(new Request(base + '/echo', { method: 'POST', headers: { 'X-Test': 'yes' }, body: new URLSearchParams('a=1 2') }));
      const viaCtx = await ctx.fetch(base + '/echo', { method: 'PUT', body: 'ctx' });
      return JSON.stringify([json.status, json.ok, json.headers.get('Content-Type'), json.url, json.type, data, json.bodyUsed,
        posted.status, posted.headers.get('x-method'), posted.headers.get('x-echo'), posted.headers.get('x-type'), await posted.text(), viaCtx.status, json instanceof Response]);
    }`), { allowHosts: [`127.0.0.1:${(server.address() as AddressInfo).port}`] });
    const result = await engine.invoke('f', bytes(base));
    assert.deepEqual(JSON.parse(output(result)), [200, true, 'application/json', `${base}/json`, 'basic', { hello: 'w\u00f6rld', list: [1, 2] }, true,
      203, 'POST', 'yes', 'application/x-www-form-urlencoded;charset=UTF-8', 'a=1+2', 203, true]);
    assert.equal(result.usage.netRequests, 3, 'fetch and ctx.fetch count alike');
  });

  test(`${language}: fetch and ctx.fetch of the same request count the same requests and bytes`, async () => {
    await using server = await echoServer();
    const port = (server.address() as AddressInfo).port;
    await using engine = await Engine.open({ plugins: [plugin()], netAllowPrivate: ['127.0.0.1'] });
    const budget = { allowHosts: [`127.0.0.1:${port}`] };
    await engine.deploy('global', language, bytes(`export default async function (url) { const r = await fetch(url, { method: 'POST', headers: { 'x-test': 'same' }, body: new Uint8Array([1, 2, 3]) }); return r.status + ' ' + (await r.bytes()).length; }`), budget);
    await engine.deploy('ctx', language, bytes(`export default async function (url, ctx) { const r = await ctx.fetch(url, { method: 'POST', headers: { 'x-test': 'same' }, body: new Uint8Array([1, 2, 3]) }); return r.status + ' ' + r.body.length; }`), budget);
    const url = `http://127.0.0.1:${port}/echo`;
    const viaGlobal = await engine.invoke('global', bytes(url));
    const viaCtx = await engine.invoke('ctx', bytes(url));
    assert.equal(output(viaGlobal), '203 3');
    assert.equal(output(viaCtx), '203 3');
    assert.equal(viaGlobal.usage.netRequests, 1);
    assert.equal(viaGlobal.usage.netRequests, viaCtx.usage.netRequests);
    assert.ok(viaGlobal.usage.netBytes > 100, `${viaGlobal.usage.netBytes} bytes counted`);
    assert.equal(viaGlobal.usage.netBytes, viaCtx.usage.netBytes);
  });

  test(`${language}: a refused fetch rejects with TypeError('fetch failed') and the engine's error as cause; aborts reject with the reason`, async () => {
    await using server = await echoServer();
    const port = (server.address() as AddressInfo).port;
    await using engine = await Engine.open({ plugins: [plugin()], netAllowPrivate: ['127.0.0.1'] });
    await engine.deploy('f', language, bytes(`export default async function (base) {
      const out = [];
      try { await fetch('https://example.com/'); out.push('fetched'); } catch (e) { out.push([e instanceof TypeError, e.message, e.cause.code, typeof e.cause.message]); }
      try { await fetch(base + '/echo', { signal: AbortSignal.abort() }); out.push('fetched'); } catch (e) { out.push([e.name, e instanceof DOMException]); }
      const controller = new AbortController();
      const slow = fetch(base + '/slow', { signal: controller.signal });
      controller.abort('stop');
      try { await slow; out.push('fetched'); } catch (e) { out.push(e); }
      try { await fetch('not a url'); out.push('fetched'); } catch (e) { out.push(e.name); }
      try { await fetch(base + '/echo', { redirect: 'manual' }); out.push('fetched'); } catch (e) { out.push(e.name); }
      return JSON.stringify(out);
    }`), { allowHosts: [`127.0.0.1:${port}`] });
    const result = await engine.invoke('f', bytes(`http://127.0.0.1:${port}`));
    assert.deepEqual(JSON.parse(output(result)), [[true, 'fetch failed', 'ERR_NETWORK_BUDGET', 'string'], ['AbortError', true], 'stop', 'TypeError', 'TypeError']);
    // The refused request was never made; the aborted one was (its answer came too late for the function).
    assert.equal(result.usage.netRequests, 1);
  });

  test(`${language}: fetch at the top level of a module rejects with a TypeError`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('f', language, bytes(`const early = fetch('https://example.com/').then(() => 'fetched', (e) => e.name + ': ' + e.message);
      export default async function () { return early; }`));
    assert.match(output(await engine.invoke('f', bytes(''))), /^TypeError: fetch: only an invocation can fetch/);
  });

  test(`${language}: a function that replaces builtins does not change the fetch globals for its next invocation`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    const source = `export default async function (input) {
        if (input === 'tamper') {
          const broken = () => { throw new Error('tampered'); };
          Array.prototype.push = broken; Array.prototype.sort = broken; Array.prototype[Symbol.iterator] = broken; Array.prototype.join = broken;
          String.prototype.toLowerCase = broken; String.prototype.toUpperCase = broken; String.prototype.charCodeAt = () => 0; String.prototype.slice = broken; String.prototype.indexOf = broken;
          JSON.parse = broken; JSON.stringify = broken; Object.create = broken; Reflect.ownKeys = broken; Object.keys = () => [];
          WeakMap.prototype.get = () => undefined; WeakMap.prototype.set = broken; Uint8Array.prototype.set = broken; Object.getPrototypeOf(Uint8Array.prototype).set = broken;
          Reflect.apply = broken; Function.prototype.call = broken; Object.defineProperty = broken; Promise.prototype.then = broken;
          Object.prototype.status = 999; Object.prototype.headers = { polluted: 'yes' };
          return 'tampered';
        }
        const h = new Headers({ 'B': '1', 'A': '2' }); h.append('b', '3');
        const pairs = []; const it = h.entries(); for (let s = it.next(); !s.done; s = it.next()) pairs[pairs.length] = s.value[0] + '=' + s.value[1];
        const p = new URLSearchParams('x=1 2&y=%E2%82%AC'); p.sort();
        const u = new URL('../b?c=d', 'HTTP://H.com/a/z');
        const r = new Response('{"k":1}', { __proto__: null, headers: { 'Content-Type': 'application/json' } });
        const body = await r.json();
        // Written without the builtins replaced above.
        const plain = new Response();
        return plain.status + '|' + plain.headers.has('polluted') + '|' + pairs.length + '|' + pairs[0] + '|' + pairs[1] + '|' + h.get('B') + '|' + p.toString() + '|' + p.get('y') + '|' + u.href + '|' + u.searchParams.get('c') + '|' + body.k + '|' + r.headers.get('content-type') + '|' + await new Blob(['a', 'b']).text();
      }`;
    const expected = ['200', 'false', '2', 'a=2', 'b=1, 3', '1, 3', 'x=1+2&y=%E2%82%AC', '\u20ac', 'http://h.com/b?c=d', 'd', '1', 'application/json', 'ab'].join('|');
    // The globals are built on first use: once before the builtins are replaced, once after.
    for (const calls of [['check', 'tamper', 'check'], ['tamper', 'check', 'check']]) {
      const name = `tamper-${calls[0]}`;
      await engine.deploy(name, language, bytes(source));
      for (const call of calls) assert.equal(output(await engine.invoke(name, bytes(call))), call === 'tamper' ? 'tampered' : expected, `${name}: ${call}`);
    }
  });

  test(`${language}: huge bodies and header values end with ERR_MEMORY_BUDGET, URL parsing loops with ERR_CPU_BUDGET; the engine serves on`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('echo', language, bytes('export default (input) => input'));
    const bombs: Record<string, [string, string]> = {
      // Bytes, not a string: QuickJS encodes a 1 MiB string in 1-2 s of CPU on a loaded machine, and the
      // 16 it takes to fill the budget came near the CPU budget (bodyOnce encodes one huge string).
      body: ['ERR_MEMORY_BUDGET', 'const b = new Uint8Array(2 ** 20); const keep = []; for (;;) keep.push(new Response(b));'],
      bodyOnce: ['ERR_MEMORY_BUDGET', 'return (await new Response("\\u20ac".repeat(2 ** 23)).arrayBuffer()).byteLength;'],
      headers: ['ERR_MEMORY_BUDGET', 'const s = "v".repeat(2 ** 16); const h = new Headers(); for (let i = 0; ; i++) h.append("x-" + i, s + i);'],
      blob: ['ERR_MEMORY_BUDGET', 'let b = new Blob(["x".repeat(2 ** 16)]); for (;;) b = new Blob([b, b]);'],
      url: ['ERR_CPU_BUDGET', 'const long = "http://h/" + "a/".repeat(30000); for (;;) new URL(long);'],
    };
    for (const [name, [code, body]] of Object.entries(bombs)) {
      await engine.deploy(name, language, bytes(`let calls = 0; export default async function (input) { calls++; if (input === 'count') return String(calls); ${body} }`), { memoryBytes: 16 * 2 ** 20, cpuMs: name === 'url' ? 300 : 20_000, wallMs: 30_000 });
      const result = await engine.invoke(name, bytes('go'));
      assert.equal(result.ok ? 'ok' : result.error.code, code, `${name}: ${result.ok ? 'finished' : result.error.message}`);
      if (code === 'ERR_CPU_BUDGET') assert.ok(result.usage.cpuMs >= 250 && result.usage.cpuMs < 3000, `${name}: stopped at ${result.usage.cpuMs} ms of CPU`);
      assert.equal(output(await engine.invoke('echo', bytes(`after ${name}`))), `after ${name}`);
      assert.match(output(await engine.invoke(name, bytes('count'))), /^[12]$/);
    }
  });
}
