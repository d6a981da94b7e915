import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../engine/index.ts';
import { assertSnippetAnswers, bytes, kJsEngines, kSnippetRunner, output, type SnippetCase } from './support/js-snippets.ts';

/**
 * The web-standard globals of both JavaScript engines (plugins/js-common/web-globals.ts), through
 * the real Engine. Each case is a snippet run inside the guest; where Node's own globals follow the
 * standard, the expected answer is what the same snippet gives in Node, otherwise it is written out.
 */

const kCases: SnippetCase[] = [
  // TextEncoder
  { name: 'encode multi-byte text and lone surrogates', code: String.raw`const e = new TextEncoder();
    return [e.encoding, Array.from(e.encode('h\u00e9llo \u20ac\ud834\udd1e')), Array.from(e.encode()), Array.from(e.encode('\ud800x\udc00\udbff')), e.encode('a') instanceof Uint8Array, Array.from(e.encode(12))];` },
  { name: 'known UTF-8 vectors', code: String.raw`const e = new TextEncoder(); return [Array.from(e.encode('\u20ac')), Array.from(e.encode('\ud83d\ude00')), Array.from(e.encode('\ud800'))];`, expected: [[0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xef, 0xbf, 0xbd]] },
  { name: 'encodeInto stops before a character that does not fit', code: String.raw`const d = new Uint8Array(5); const r = new TextEncoder().encodeInto('a\u20acb\u20ac', d);
    const s = new TextEncoder().encodeInto('ab\ud834\udd1e', new Uint8Array(4)); return [r.read, r.written, Array.from(d), s.read, s.written];` },
  // TextDecoder
  { name: 'decode valid UTF-8 and the decoder attributes', code: 'const d = new TextDecoder(); return [d.encoding, d.fatal, d.ignoreBOM, d.decode(new Uint8Array([104, 195, 169, 226, 130, 172, 240, 157, 132, 158])), d.decode(), new TextDecoder("utf-8", { fatal: true }).fatal];' },
  { name: 'invalid sequences become U+FFFD as the standard counts them', code: 'return new TextDecoder().decode(new Uint8Array([0xff, 0x61, 0xe2, 0x82, 0x61, 0xf0, 0x9f, 0x98, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xe0, 0x80, 0x62, 0xe2, 0x82]));' },
  { name: 'fatal decoding throws a TypeError', code: `const names = [];
    for (const input of [[0x61, 0xff], [0xe2, 0x82], [0xed, 0xa0, 0x80]]) { try { new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(input)); names.push('no error'); } catch (e) { names.push(e.name, e instanceof TypeError); } }
    return names;` },
  { name: 'streaming joins characters split across chunks', code: `const d = new TextDecoder();
    const parts = [d.decode(new Uint8Array([0x61, 0xe2]), { stream: true }), d.decode(new Uint8Array([0x82]), { stream: true }), d.decode(new Uint8Array([0xac, 0xf0, 0x9f]), { stream: true }), d.decode(new Uint8Array([0x98]), { stream: true }), d.decode(new Uint8Array([0x80]))];
    const cut = d.decode(new Uint8Array([0xe2, 0x82]), { stream: true }) + d.decode();
    return [parts, cut, d.decode(new Uint8Array([0x62]))];` },
  { name: 'the BOM is dropped once at the start unless ignoreBOM', code: `const bom = new Uint8Array([0xef, 0xbb, 0xbf, 0x61]); const d = new TextDecoder();
    const streamed = d.decode(new Uint8Array([0xef, 0xbb]), { stream: true }) + d.decode(new Uint8Array([0xbf, 0x62, 0xef, 0xbb, 0xbf]), { stream: true }) + d.decode();
    return [d.decode(bom), d.decode(bom), new TextDecoder('utf-8', { ignoreBOM: true }).decode(bom).length, streamed.length, streamed.charCodeAt(1)];` },
  { name: 'labels: UTF-8 aliases only', code: `const name = (label) => { try { return new TextDecoder(label).encoding; } catch (e) { return e.name; } };
    return [name(' UTF8 '), name('unicode-1-1-utf-8'), name('x-unicode20utf8'), name('klingon'), name('utf-16le'), name('latin1')];`, expected: ['utf-8', 'utf-8', 'utf-8', 'RangeError', 'RangeError', 'RangeError'] },
  { name: 'decode takes an ArrayBuffer, a DataView and a view with an offset', code: `const b = new TextEncoder().encode('xabcx'); const d = new TextDecoder();
    let wrong; try { d.decode('abc'); } catch (e) { wrong = e.name; }
    return [d.decode(b.buffer), d.decode(new DataView(b.buffer, 1, 3)), d.decode(b.subarray(1, 4)), wrong];` },
  { name: 'a long text round-trips across the decoder pieces', code: String.raw`const s = 'ab\u20ac\ud834\udd1e'.repeat(50000); const b = new TextEncoder().encode(s); return [b.length, new TextDecoder().decode(b) === s];` },
  // atob / btoa
  { name: 'btoa and atob vectors', code: String.raw`return [btoa(''), btoa('f'), btoa('fo'), btoa('foo'), btoa('foobar'), btoa('\xff\xfe\x00'), atob('Zm9vYmFy'), atob(' Zm9v\nYg '), atob('Zm9vYg'), atob('Zm9vYg=='), atob('YQ'), atob(''), atob(null), btoa(12)];` },
  { name: 'btoa and atob errors are InvalidCharacterError DOMExceptions', code: String.raw`const names = [];
    for (const call of [() => btoa('\u20ac'), () => atob('Zm9vY'), () => atob('Zm9v=Yg'), () => atob('Zm9vYg='), () => atob('@@@@'), () => atob('Zm9vYg==='), () => atob('\u00e9AAA'), () => atob()]) {
      try { call(); names.push('no error'); } catch (e) { names.push([e.name, e instanceof DOMException ? e.code : null, e instanceof Error]); }
    }
    return names;` },
  { name: 'all 256 byte values round-trip', code: 'let s = ""; for (let i = 0; i < 256; i++) s += String.fromCharCode(i); return [atob(btoa(s)) === s, btoa(s).length];' },
  // structuredClone
  { name: 'structuredClone keeps cycles and shared references', code: `const o = { name: 'o' }; o.self = o; const arr = [o, o]; o.arr = arr;
    const c = structuredClone(o); return [c !== o, c.name, c.self === c, c.arr[0] === c, c.arr[1] === c, c.arr !== arr, Array.isArray(c.arr)];` },
  { name: 'structuredClone of Map, Set, Date and RegExp', code: `const key = { k: 1 }; const m = new Map([[key, 'v'], ['k2', key]]); const s = new Set([key, 1]);
    const c = structuredClone({ m, s, d: new Date(86400000), r: /a+b/gi }); const ck = [...c.m.keys()][0];
    return [c.m instanceof Map, c.m.get(ck), c.m.get('k2') === ck, c.s.has(ck), c.s.size, c.d instanceof Date, c.d.getTime(), c.r instanceof RegExp, c.r.source, c.r.flags, ck !== key, ck.k];` },
  { name: 'structuredClone of ArrayBuffer, typed arrays and DataView', code: `const buf = new ArrayBuffer(16); const u8 = new Uint8Array(buf, 2, 4); u8.set([1, 2, 3, 4]); const dv = new DataView(buf, 4, 8);
    const c = structuredClone({ u8, dv, buf, f: new Float64Array([1.5, -2]), big: new BigInt64Array([5n]) });
    return [c.u8 instanceof Uint8Array, c.u8.byteOffset, Array.from(c.u8), c.u8.buffer === c.buf, c.dv instanceof DataView, c.dv.buffer === c.buf, c.dv.byteOffset, c.dv.byteLength, c.buf.byteLength, c.buf !== buf, Array.from(c.f), String(c.big[0]), c.big instanceof BigInt64Array];` },
  { name: 'structuredClone of errors, boxed primitives, primitives and class instances', code: `class P { constructor () { this.x = 1; } get y () { return 2; } }
    const e = structuredClone(new RangeError('bad')); const p = structuredClone(new P()); const a = [1, , 3]; a.length = 5; const ca = structuredClone(a);
    return [e instanceof RangeError, e.name, e.message, structuredClone(new TypeError('t')) instanceof TypeError, Object.prototype.toString.call(structuredClone(Object(3))), structuredClone(Object('s')).valueOf(),
      structuredClone(1), structuredClone('s'), structuredClone(null), structuredClone(undefined) === undefined, String(structuredClone(10n)),
      Object.getPrototypeOf(p) === Object.prototype, p.x, p.y, ca.length, 1 in ca, ca[2], Array.isArray(ca)];` },
  { name: 'structuredClone refuses what it cannot clone with DataCloneError', code: `const names = [];
    for (const v of [() => 1, Symbol('s'), { f () {} }, [Symbol('t')], new WeakMap(), new WeakSet()]) { try { structuredClone(v); names.push('no error'); } catch (e) { names.push([e.name, e.code, e instanceof DOMException]); } }
    try { structuredClone(); } catch (e) { names.push(e.name); }
    return names;` },
  // crypto
  { name: 'getRandomValues fills integer arrays in place', code: `const a = new Uint8Array(32); const r = crypto.getRandomValues(a); const b = new Uint32Array(8); crypto.getRandomValues(b);
    const big = crypto.getRandomValues(new Uint8Array(65536)); const seen = new Set(big);
    return [r === a, a.some((x) => x !== 0), b.some((x) => x !== 0), big.length, seen.size > 200, crypto.getRandomValues(new BigUint64Array(2)).length, crypto.getRandomValues(new Uint8Array(0)).length];` },
  { name: 'getRandomValues: the 65,536-byte limit and integer arrays only', code: `const names = [];
    for (const make of [() => new Uint8Array(65537), () => new Uint32Array(16385), () => new Float32Array(4), () => new Float64Array(1), () => new DataView(new ArrayBuffer(4))]) { try { crypto.getRandomValues(make()); names.push('ok'); } catch (e) { names.push(e.name); } }
    return names;` },
  { name: 'getRandomValues of a plain array is a TypeError', code: 'try { crypto.getRandomValues([1, 2]); return "no error"; } catch (e) { return e.name; }', expected: 'TypeError' },
  { name: 'randomUUID is a v4 UUID and two differ', code: 'const a = crypto.randomUUID(), b = crypto.randomUUID(); return [/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(a), a !== b, a.length];' },
  // queueMicrotask, DOMException
  { name: 'queueMicrotask runs in order with promise reactions', code: `const order = []; queueMicrotask(() => order.push('a')); Promise.resolve().then(() => order.push('b')); queueMicrotask(() => order.push('c')); order.push('sync');
    let wrong; try { queueMicrotask(1); } catch (e) { wrong = e.name; }
    return new Promise((resolve) => queueMicrotask(() => queueMicrotask(() => resolve([order, wrong]))));` },
  { name: 'DOMException names, messages and codes', code: `const e = new DOMException('m', 'AbortError');
    return [e.name, e.message, e.code, e instanceof Error, e instanceof DOMException, new DOMException().name, new DOMException('x').message, new DOMException('x').code, new DOMException('q', 'QuotaExceededError').code];` },
  // Event, EventTarget, AbortController, AbortSignal
  { name: 'EventTarget dispatch, once, handleEvent, removal and preventDefault', code: `const t = new EventTarget(); const seen = [];
    const l = (e) => seen.push(['l', e.type, e.target === t, e.currentTarget === t, e.eventPhase]);
    t.addEventListener('ping', l); t.addEventListener('ping', l);
    t.addEventListener('ping', { handleEvent (e) { seen.push(['obj', this !== t, e.type]); } });
    t.addEventListener('ping', () => seen.push('once'), { once: true });
    t.addEventListener('ping', (ev) => ev.preventDefault());
    t.addEventListener('other', () => seen.push('other'));
    const e = new Event('ping', { cancelable: true }); const r1 = t.dispatchEvent(e); const r2 = t.dispatchEvent(new Event('ping'));
    t.removeEventListener('ping', l); t.dispatchEvent(new Event('ping'));
    const s = new EventTarget(); const stops = []; s.addEventListener('x', (ev) => { stops.push(1); ev.stopImmediatePropagation(); }); s.addEventListener('x', () => stops.push(2)); s.dispatchEvent(new Event('x'));
    let twice; try { t.dispatchEvent({ type: 'ping' }); } catch (err) { twice = err.name; }
    return [seen, r1, r2, e.defaultPrevented, e.eventPhase, e.currentTarget, e.target === t, e.isTrusted, e.bubbles, e.cancelable, e.type, stops, twice, Event.AT_TARGET];` },
  { name: 'AbortController aborts once, fires abort and throws its reason', code: `const c = new AbortController(); const s = c.signal; const seen = [];
    s.addEventListener('abort', (e) => seen.push([e.type, s.aborted, e.isTrusted]));
    s.onabort = () => seen.push('onabort');
    const before = [s.aborted, s.reason]; c.abort(); c.abort('again');
    let thrown; try { s.throwIfAborted(); } catch (e) { thrown = [e.name, e instanceof DOMException, e.code]; }
    let illegal; try { new AbortSignal(); } catch (e) { illegal = e.name; }
    const t = new EventTarget(); const d = new AbortController(); let n = 0; t.addEventListener('x', () => n++, { signal: d.signal });
    t.dispatchEvent(new Event('x')); d.abort(new Error('why')); t.dispatchEvent(new Event('x'));
    return [before, s.aborted, s.reason.name, seen, thrown, AbortSignal.abort('why').reason, AbortSignal.abort().reason.name, illegal, n, d.signal.reason.message, s instanceof EventTarget, typeof AbortSignal.timeout];`,
  expected: [[false, null], true, 'AbortError', [['abort', true, true], 'onabort'], ['AbortError', true, 20], 'why', 'AbortError', 'TypeError', 1, 'why', true, 'function'] },
  { name: 'capturing listeners run first at the target', code: `const t = new EventTarget(); const order = [];
    t.addEventListener('x', () => order.push('bubble')); t.addEventListener('x', () => order.push('capture'), { capture: true }); t.dispatchEvent(new Event('x'));
    return order;`, expected: ['capture', 'bubble'] },
  { name: 'a throwing listener or microtask is reported and the others still run', code: `const t = new EventTarget(); const order = [];
    t.addEventListener('x', () => { throw new TypeError('listener broke'); }); t.addEventListener('x', () => order.push('second')); t.dispatchEvent(new Event('x'));
    queueMicrotask(() => { throw new RangeError('microtask broke'); });
    return new Promise((resolve) => queueMicrotask(() => resolve(order)));`, expected: ['second'] },
];

/** What the snippet answers in Node (its own web globals), as the guest's runner would encode it. */

for (const [language, plugin] of kJsEngines) {
  test(`${language}: web globals answer as the standard says`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    // The answers are checked here, not the budget: on a loaded machine a case took over the default second of CPU on quickjs.
    await engine.deploy('run', language, bytes(kSnippetRunner), { cpuMs: 10_000, wallMs: 30_000 });
    await assertSnippetAnswers(engine, 'run', kCases);
  });

  test(`${language}: uncaught errors of listeners and microtasks go to the log`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('run', language, bytes(kSnippetRunner));
    const result = await engine.invoke('run', bytes(kCases.find((c) => c.name.startsWith('a throwing listener'))!.code));
    assert.equal(output(result), '["second"]');
    assert.deepEqual(result.logs, ['Uncaught TypeError: listener broke', 'Uncaught RangeError: microtask broke']);
  });

  test(`${language}: a function that replaces builtins does not change the globals for its next invocation`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    // Data made before the builtins it needs are replaced; the second call finds the realm as the first left it.
    const source = `const map = new Map([[1, { a: 'x' }]]); const set = new Set([2]); const nested = { list: [1, 2], when: new Date(5) };
      export default function (input) {
        if (input === 'tamper') {
          const broken = () => { throw new Error('tampered'); };
          Uint8Array.prototype.set = broken; Object.getPrototypeOf(Uint8Array.prototype).set = broken;
          String.prototype.charCodeAt = () => 0; String.fromCharCode = () => '?'; String.prototype.slice = broken;
          Array.prototype[Symbol.iterator] = broken; Array.prototype.join = broken; Object.keys = () => [];
          Map.prototype.set = broken; Map.prototype.get = broken; Set.prototype.add = broken; WeakMap.prototype.get = () => undefined; WeakMap.prototype.set = broken;
          Reflect.apply = broken; Function.prototype.call = broken; Function.prototype.bind = broken; Object.defineProperty = broken;
          Object.prototype.get = () => 1;
          return 'tampered';
        }
        const encoded = new TextEncoder().encode('h\\u00e9\\u20ac'); const out = [];
        for (let i = 0; i < encoded.length; i++) out[out.length] = encoded[i];
        const clone = structuredClone({ map, set, nested });
        const random = crypto.getRandomValues(new Uint8Array(4));
        const target = new EventTarget(); let fired = 0; target.addEventListener('x', () => { fired++; }); target.dispatchEvent(new Event('x'));
        return JSON.stringify([out, new TextDecoder().decode(encoded), btoa('foo'), atob('Zm9v'), clone.map.size, clone.map.has(1), clone.set.size, clone.nested.list.length, clone.nested.when.getTime(), random.length, crypto.randomUUID().length, fired]);
      }`;
    const expected = JSON.stringify([[104, 195, 169, 226, 130, 172], 'h\u00e9\u20ac', 'Zm9v', 'foo', 1, true, 1, 2, 5, 4, 36, 1]);
    // The globals are built on first use: once before the builtins are replaced, once after.
    for (const calls of [['check', 'tamper', 'check'], ['tamper', 'check', 'check']]) {
      const name = `tamper-${calls[0]}`;
      await engine.deploy(name, language, bytes(source));
      for (const call of calls) assert.equal(output(await engine.invoke(name, bytes(call))), call === 'tamper' ? 'tampered' : expected, `${name}: ${call}`);
    }
  });

  test(`${language}: huge encodes and clones end with ERR_MEMORY_BUDGET under 16 MiB and the engine serves on`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('echo', language, bytes('export default (input) => input'));
    const bombs: Record<string, string> = {
      encode: 'const s = "\\u20ac".repeat(2 ** 20); const keep = []; for (;;) keep.push(new TextEncoder().encode(s));',
      encodeOnce: 'return new TextEncoder().encode("x".repeat(24 * 2 ** 20)).length;',
      clone: 'const a = []; for (let i = 0; i < 100000; i++) a.push({ i }); const keep = []; for (;;) keep.push(structuredClone(a));',
      // One Map of 150,000 entries grown near V8's heap limit failed as a catastrophic out-of-memory (see Memo in web-globals.ts).
      cloneOnce: 'const a = []; for (let i = 0; i < 200000; i++) a.push({ i }); return structuredClone(a).length;',
      cloneNumbers: 'const a = []; for (let i = 0; i < 200000; i++) a.push(i + 0.5); const keep = []; for (;;) keep.push(structuredClone(a));',
      btoa: 'const s = "x".repeat(2 ** 20); const keep = []; for (;;) keep.push(btoa(s));',
    };
    for (const [name, body] of Object.entries(bombs)) {
      await engine.deploy(name, language, bytes(`let calls = 0; export default function (input) { calls++; if (input === 'count') return String(calls); ${body} }`), { memoryBytes: 16 * 2 ** 20, cpuMs: 20_000, wallMs: 30_000 });
      const result = await engine.invoke(name, bytes('go'));
      assert.equal(result.ok ? 'ok' : result.error.code, 'ERR_MEMORY_BUDGET', `${name}: ${result.ok ? 'finished' : result.error.message}`);
      assert.doesNotMatch(result.ok ? '' : result.error.message, /catastrophic/i, `${name}: the isolate's thread was lost`);
      assert.equal(output(await engine.invoke('echo', bytes(`after ${name}`))), `after ${name}`);
      // The function itself runs again (on a fresh instance where the failure discarded its own).
      assert.match(output(await engine.invoke(name, bytes('count'))), /^[12]$/);
    }
  });
}
