import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Engine } from '../engine/index.ts';
import { bytes, failure, kJsEngines, kSnippetRunner, output } from './support/js-snippets.ts';

/**
 * Timers (plugins/js-common/web-timers.ts, timer-relay.ts) and crypto.subtle (web-crypto.ts) of
 * both JavaScript engines, through the real Engine: real Node timers wake the invocations, real
 * node:crypto hashes. Digests and HMACs are checked against published vectors (FIPS 180-2's "abc",
 * RFC 4231's and RFC 2202's HMAC test cases).
 */

const kHex = 'const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => (b < 16 ? "0" : "") + b.toString(16)).join("");';

/** FIPS 180-2, the one-block message "abc". */
const kAbcDigests: Record<string, string> = {
  'SHA-1': 'a9993e364706816aba3e25717850c26c9cd0d89d',
  'SHA-256': 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  'SHA-384': 'cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7',
  'SHA-512': 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
};

/** RFC 4231 test cases 1, 2 and 6 (a key longer than the block), RFC 2202 cases 1 and 2 for SHA-1: [hash, key bytes, data, HMAC]. */
const twenty = (byte: number): number[] => new Array<number>(20).fill(byte);
const kHmacVectors: [string, number[], string, string][] = [
  ['SHA-256', twenty(0x0b), 'Hi There', 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
  ['SHA-384', twenty(0x0b), 'Hi There', 'afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6'],
  ['SHA-512', twenty(0x0b), 'Hi There', '87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854'],
  ['SHA-256', [...Buffer.from('Jefe')], 'what do ya want for nothing?', '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
  ['SHA-384', [...Buffer.from('Jefe')], 'what do ya want for nothing?', 'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649'],
  ['SHA-512', [...Buffer.from('Jefe')], 'what do ya want for nothing?', '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737'],
  ['SHA-256', new Array<number>(131).fill(0xaa), 'Test Using Larger Than Block-Size Key - Hash Key First', '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'],
  ['SHA-384', new Array<number>(131).fill(0xaa), 'Test Using Larger Than Block-Size Key - Hash Key First', '4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952'],
  ['SHA-512', new Array<number>(131).fill(0xaa), 'Test Using Larger Than Block-Size Key - Hash Key First', '80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598'],
  ['SHA-1', twenty(0x0b), 'Hi There', 'b617318655057264e28bc0b6fb378c8ef146be00'],
  ['SHA-1', [...Buffer.from('Jefe')], 'what do ya want for nothing?', 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79'],
];

/** A loopback server whose every answer comes after 2 s. */
async function slowServer (): Promise<Server & AsyncDisposable> {
  const server = createServer((request, response) => { setTimeout(() => response.end('late'), 2000).unref(); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(server, { [Symbol.asyncDispose]: async () => { server.closeAllConnections(); server.close(); } });
}

for (const [language, plugin] of kJsEngines) {
  test(`${language}: setTimeout fires in delay order with its arguments; clearTimeout cancels; setInterval repeats until cleared`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('run', language, bytes(kSnippetRunner));
    const result = await engine.invoke('run', bytes(`
      const order = [];
      // Set in order of delay: the standard orders a timer only after those set before it with no longer a delay
      // (set the other way round, a slow moment between the calls, as on a loaded machine, may reorder them).
      const ids = [setTimeout((a, b) => order.push('0:' + a + b), 0, 'x', 'y'), setTimeout(() => order.push(5), 5), setTimeout(() => order.push(10), 10)];
      const cancelled = setTimeout(() => order.push('cancelled'), 1);
      clearTimeout(cancelled);
      clearTimeout(123456789); clearTimeout(undefined); clearInterval('nothing');
      const ticks = await new Promise((resolve) => {
        let count = 0;
        const interval = setInterval(() => { count++; if (count === 3) { clearInterval(interval); setTimeout(() => resolve(count), 30); } }, 2);
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      let refused; try { setTimeout('order.push(1)', 0); } catch (e) { refused = e.name; }
      const waited = await scheduler.wait(5).then(() => 'waited');
      return [order, ticks, ids.every((id) => typeof id === 'number'), new Set(ids).size, refused, waited];
    `));
    assert.deepEqual(JSON.parse(output(result)), [['0:xy', 5, 10], 3, true, 3, 'TypeError', 'waited']);
  });

  test(`${language}: a timer is charged to the wall-clock budget: one past it ends the invocation with ERR_WALL_TIMEOUT and the engine serves on`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('late', language, bytes(`export default async function (ms) {
      await new Promise((resolve) => setTimeout(resolve, Number(ms)));
      return 'woke after ' + ms;
    }`), { wallMs: 300 });
    const started = performance.now();
    assert.equal(failure(await engine.invoke('late', bytes('5000'))).code, 'ERR_WALL_TIMEOUT');
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 3000, `ended after ${Math.round(elapsed)} ms, not when the timer was due`);
    assert.equal(output(await engine.invoke('late', bytes('20'))), 'woke after 20');
  });

  test(`${language}: a setInterval of 0 ms whose callback spins is stopped by the CPU budget`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('spin', language, bytes(`export default function () {
      return new Promise(() => { setInterval(() => { const until = Date.now() + 5; while (Date.now() < until); }, 0); });
    }`), { cpuMs: 100, wallMs: 10_000 });
    const result = await engine.invoke('spin', bytes(''));
    assert.equal(failure(result).code, 'ERR_CPU_BUDGET');
    assert.ok(result.usage.cpuMs >= 90, `${result.usage.cpuMs} ms of CPU charged`);
    await engine.deploy('after', language, bytes('export default async function () { await new Promise((resolve) => setTimeout(resolve, 1)); return "ok"; }'));
    assert.equal(output(await engine.invoke('after', bytes(''))), 'ok');
  });

  test(`${language}: AbortSignal.timeout fires its abort event and aborts a pending fetch with a TimeoutError`, async () => {
    await using server = await slowServer();
    const port = (server.address() as AddressInfo).port;
    await using engine = await Engine.open({ plugins: [plugin()], netAllowPrivate: ['127.0.0.1'] });
    await engine.deploy('f', language, bytes(`export default async function (url) {
      const signal = AbortSignal.timeout(20);
      const seen = [signal.aborted];
      const fired = new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason.name)));
      let fetched;
      try { await fetch(url, { signal: AbortSignal.timeout(30) }); fetched = 'fetched'; } catch (e) { fetched = [e.name, e instanceof DOMException]; }
      seen.push(await fired, signal.aborted);
      let wrong; try { AbortSignal.timeout(-1); } catch (e) { wrong = e.name; }
      return JSON.stringify([seen, fetched, wrong]);
    }`), { allowHosts: [`127.0.0.1:${port}`] });
    const started = performance.now();
    const result = await engine.invoke('f', bytes(`http://127.0.0.1:${port}/`));
    assert.deepEqual(JSON.parse(output(result)), [[false, 'TimeoutError', true], ['TimeoutError', true], 'TypeError']);
    assert.ok(performance.now() - started < 1500, 'the fetch was aborted before the server answered');
  });

  test(`${language}: timers of one invocation never fire in another`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('f', language, bytes(`let fired = 0;
      export default async function (input) {
        if (input === 'leave') {
          setTimeout(() => { fired++; }, 30);
          setInterval(() => { fired++; }, 5);
          return 'left';
        }
        await new Promise((resolve) => setTimeout(resolve, 150));
        return String(fired);
      }`));
    assert.equal(output(await engine.invoke('f', bytes('leave'))), 'left');
    assert.equal(output(await engine.invoke('f', bytes('wait'))), '0');
    // Invocations running side by side share the function's instance: each one's timers stay its own.
    const [left, waited] = await Promise.all([engine.invoke('f', bytes('leave')), engine.invoke('f', bytes('wait'))]);
    assert.equal(output(left), 'left');
    assert.equal(output(waited), '0');
  });

  test(`${language}: an invocation cut off by its wall-clock budget leaves nothing of its timers behind`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    // Each invocation's timer holds 3 MiB: kept after the invocation, a few of them would fill the 16 MiB budget.
    await engine.deploy('f', language, bytes(`export default async function (input) {
      if (input === 'ok') return 'ok';
      const held = new Uint8Array(3 * 1024 * 1024).fill(1);
      setTimeout(() => held.length, 60_000);
      await new Promise(() => {});
    }`), { memoryBytes: 16 * 2 ** 20, wallMs: 150 });
    for (let i = 0; i < 10; i++) assert.equal(failure(await engine.invoke('f', bytes('wait'))).code, 'ERR_WALL_TIMEOUT', `invocation ${i}`);
    assert.equal(output(await engine.invoke('f', bytes('ok'))), 'ok');
  });

  test(`${language}: at most 1000 timers pending per invocation; timers cannot be set at the top level`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('cap', language, bytes(`export default function () {
      const ids = [];
      for (let i = 0; i < 1000; i++) ids.push(setTimeout(() => {}, 60_000));
      let over; try { setTimeout(() => {}, 1); } catch (e) { over = [e.name, e.message]; }
      clearTimeout(ids[0]);
      const again = typeof setTimeout(() => {}, 1);
      return JSON.stringify([over, again]);
    }`));
    const [over, again] = JSON.parse(output(await engine.invoke('cap', bytes('')))) as [[string, string], string];
    assert.equal(over[0], 'RangeError');
    assert.match(over[1], /1000 timers pending/);
    assert.equal(again, 'number');
    // The cap is per invocation: the next one starts with none.
    assert.match(output(await engine.invoke('cap', bytes(''))), /RangeError/);
    await engine.deploy('top', language, bytes(`let early; try { setTimeout(() => {}, 1); early = 'set'; } catch (e) { early = e.name + ': ' + e.message; }
      export default function () { return early; }`));
    assert.match(output(await engine.invoke('top', bytes(''))), /^TypeError: setTimeout: only an invocation can set a timer/);
  });

  test(`${language}: crypto.subtle.digest of the FIPS 180 vectors`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('run', language, bytes(kSnippetRunner));
    const result = await engine.invoke('run', bytes(`${kHex}
      const abc = new TextEncoder().encode('xabcx');
      const out = {};
      for (const name of ${JSON.stringify(Object.keys(kAbcDigests))}) out[name] = hex(await crypto.subtle.digest(name, abc.subarray(1, 4)));
      const lower = await crypto.subtle.digest({ name: 'sha-256' }, abc.buffer.slice(1, 4));
      const view = await crypto.subtle.digest('SHA-1', new DataView(abc.buffer, 1, 3));
      return [out, hex(lower), hex(view), lower instanceof ArrayBuffer, lower.byteLength];
    `));
    assert.deepEqual(JSON.parse(output(result)), [kAbcDigests, kAbcDigests['SHA-256'], kAbcDigests['SHA-1'], true, 32]);
  });

  test(`${language}: HMAC sign and verify give the RFC 4231 and RFC 2202 vectors; a tampered signature does not verify`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('run', language, bytes(kSnippetRunner));
    const result = await engine.invoke('run', bytes(`${kHex}
      const out = [];
      for (const [hash, keyBytes, data] of ${JSON.stringify(kHmacVectors.map(([hash, key, data]) => [hash, key, data]))}) {
        const key = await crypto.subtle.importKey('raw', new Uint8Array(keyBytes), { name: 'HMAC', hash }, true, ['verify', 'sign', 'sign']);
        const message = new TextEncoder().encode(data);
        const signature = await crypto.subtle.sign('HMAC', key, message);
        const tampered = new Uint8Array(signature.slice(0)); tampered[tampered.length - 1] ^= 1;
        out.push([hex(signature), await crypto.subtle.verify({ name: 'hmac' }, key, signature, message), await crypto.subtle.verify('HMAC', key, tampered, message),
          await crypto.subtle.verify('HMAC', key, new Uint8Array(signature).subarray(1), message), await crypto.subtle.verify('HMAC', key, signature, new TextEncoder().encode(data + '.'))]);
      }
      const key = await crypto.subtle.importKey('raw', new Uint8Array([1, 2, 3]), { name: 'HMAC', hash: { name: 'SHA-256' } }, true, ['sign']);
      const exported = await crypto.subtle.exportKey('raw', key);
      key.usages.push('verify'); key.algorithm.hash.name = 'SHA-1';
      let widened; try { await crypto.subtle.verify('HMAC', key, new Uint8Array(32), new Uint8Array(1)); widened = 'verified'; } catch (e) { widened = e.name; }
      return [out, [key.type, key.extractable, key.algorithm.name, key.algorithm.length, Object.prototype.toString.call(key), key instanceof CryptoKey], Array.from(new Uint8Array(exported)), exported instanceof ArrayBuffer, widened];
    `));
    const [vectors, shape, exported, isBuffer, widened] = JSON.parse(output(result)) as unknown[];
    assert.deepEqual(vectors, kHmacVectors.map(([, , , mac]) => [mac, true, false, false, false]));
    assert.deepEqual(shape, ['secret', true, 'HMAC', 24, '[object CryptoKey]', true]);
    assert.deepEqual(exported, [1, 2, 3]);
    assert.equal(isBuffer, true);
    assert.equal(widened, 'InvalidAccessError', 'changing the usages a key shows does not change what it may do');
  });

  test(`${language}: crypto.subtle refuses what it does not support with the standard's DOMExceptions`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    await engine.deploy('run', language, bytes(kSnippetRunner));
    const result = await engine.invoke('run', bytes(`
      const subtle = crypto.subtle;
      const name = (promise) => promise.then(() => 'resolved', (e) => [e.name, e instanceof DOMException]);
      const key = await subtle.importKey('raw', new Uint8Array(16), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
      return [
        await name(subtle.digest('MD5', new Uint8Array(1))),
        await name(subtle.digest({ name: 'SHA-256' })),
        await name(subtle.importKey('raw', new Uint8Array(16), { name: 'AES-GCM' }, false, ['encrypt'])),
        await name(subtle.importKey('jwk', {}, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])),
        await name(subtle.importKey('raw', new Uint8Array(16), { name: 'HMAC', hash: 'MD5' }, false, ['sign'])),
        await name(subtle.importKey('raw', new Uint8Array(16), { name: 'HMAC', hash: 'SHA-256' }, false, ['encrypt'])),
        await name(subtle.importKey('raw', new Uint8Array(16), { name: 'HMAC', hash: 'SHA-256' }, false, [])),
        await name(subtle.importKey('raw', new Uint8Array(0), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])),
        await name(subtle.exportKey('raw', key)),
        await name(subtle.sign('HMAC', key, new Uint8Array(1))),
        await name(subtle.sign('RSASSA-PKCS1-v1_5', key, new Uint8Array(1))),
        await name(subtle.encrypt({ name: 'AES-GCM' }, key, new Uint8Array(1))),
        await name(subtle.digest('SHA-256', 'not bytes')),
        typeof subtle.digest('SHA-256', new Uint8Array(1)).then,
        (() => { try { new CryptoKey(); return 'constructed'; } catch (e) { return e.name; } })(),
      ];
    `));
    assert.deepEqual(JSON.parse(output(result)), [
      ['NotSupportedError', true], ['TypeError', false], ['NotSupportedError', true], ['NotSupportedError', true], ['NotSupportedError', true],
      ['SyntaxError', true], ['SyntaxError', true], ['DataError', true], ['InvalidAccessError', true], ['InvalidAccessError', true],
      ['NotSupportedError', true], ['NotSupportedError', true], ['TypeError', false], 'function', 'TypeError',
    ]);
  });

  test(`${language}: hashing is charged to the function's CPU and capped at 16 MiB a call`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    const source = bytes(`export default async function (input) {
      if (input === 'over') {
        try { await crypto.subtle.digest('SHA-256', new Uint8Array(16 * 1024 * 1024 + 1)); return 'hashed'; } catch (e) { return e.name; }
      }
      const data = new Uint8Array(8 * 1024 * 1024);
      for (;;) await crypto.subtle.digest('SHA-512', data);
    }`);
    // The cap is checked with room to spare: making 16 MiB on quickjs took over 200 ms of CPU on a loaded machine.
    await engine.deploy('hash-over', language, source, { cpuMs: 5000, wallMs: 30_000, memoryBytes: 64 * 2 ** 20 });
    await engine.deploy('hash', language, source, { cpuMs: 200, wallMs: 30_000, memoryBytes: 64 * 2 ** 20 });
    assert.equal(output(await engine.invoke('hash-over', bytes('over'))), 'QuotaExceededError');
    const result = await engine.invoke('hash', bytes('loop'));
    assert.equal(failure(result).code, 'ERR_CPU_BUDGET');
    assert.ok(result.usage.cpuMs >= 180, `${result.usage.cpuMs} ms of CPU charged`);
  });

  test(`${language}: a function that replaces builtins does not change timers or crypto.subtle for its next invocation`, async () => {
    await using engine = await Engine.open({ plugins: [plugin()] });
    // The check avoids what the tampering breaks in its own code (push, Promise's then).
    const source = `${kHex}
      export default async function (input) {
        if (input === 'tamper') {
          const broken = () => { throw new Error('tampered'); };
          Array.prototype.push = broken; Array.prototype[Symbol.iterator] = broken; String.prototype.toUpperCase = broken;
          Map.prototype.get = broken; Map.prototype.set = broken; Map.prototype.delete = broken; Map.prototype.forEach = broken;
          WeakMap.prototype.get = () => undefined; WeakMap.prototype.set = broken; Uint8Array.prototype.set = broken; Object.getPrototypeOf(Uint8Array.prototype).set = broken;
          Reflect.apply = broken; Function.prototype.call = broken; Function.prototype.apply = broken; Object.defineProperty = broken; Promise.prototype.then = broken;
          Math.floor = broken;
          return 'tampered';
        }
        const key = await crypto.subtle.importKey('raw', new TextEncoder().encode('Jefe'), { name: 'HMAC', hash: 'sha-256' }, false, ['sign']);
        const mac = hex(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode('what do ya want for nothing?')));
        const digest = hex(await crypto.subtle.digest('SHA-1', new TextEncoder().encode('abc')));
        let order = '';
        await scheduler.wait(1);
        await new Promise((resolve) => { setTimeout(() => { order += '2'; resolve(); }, 4.9); setTimeout(() => { order += '1'; }, 0); });
        const signal = AbortSignal.timeout(1);
        await new Promise((resolve) => { signal.onabort = resolve; });
        return [mac, digest, order, signal.reason.name].join(' ');
      }`;
    const expected = `${kHmacVectors[3]![3]} ${kAbcDigests['SHA-1']} 12 TimeoutError`;
    for (const [name, calls] of [['first', ['check', 'tamper', 'check']], ['second', ['tamper', 'check', 'check']]] as const) {
      await engine.deploy(name, language, bytes(source));
      for (const call of calls) assert.equal(output(await engine.invoke(name, bytes(call))), call === 'tamper' ? 'tampered' : expected, `${name}: ${call}`);
    }
  });
}
