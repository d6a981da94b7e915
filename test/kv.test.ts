import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../engine/index.ts';
import { kMaxKeyBytes, kMaxValueBytes } from '../engine/kv/kv-limits.ts';
import { defaultPlugins } from '../dispatchers/cli/plugins.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { temporaryDir } from './support/engine-process.ts';
import { bytes, output } from './support/js-snippets.ts';
import { kRealPlugins } from './support/test-plugins.ts';

// ctx.kv (doc/kv.md) through the real engine: every language reads and writes its own namespace;
// shared namespaces only as granted; the storage budget holds against a function that fills it;
// key and value limits; metering; and what was put is there after a restart.

const hasToolchain = !('missing' in findToolchain());

/**
 * Per language, one round of the four operations: put a=1 and b=<input>, get b, list "", delete a
 * (existed), delete a (gone), get a (absent); answers "<b> <keys> <existed> <existed again> <absent>".
 */
const kRoundTrip = {
  js: `export default async (input, ctx) => {
    await ctx.kv.put('a', '1');
    await ctx.kv.put('b', input);
    const b = await ctx.kv.get('b');
    const keys = await ctx.kv.list('');
    const first = await ctx.kv.delete('a'), second = await ctx.kv.delete('a');
    return [b, keys.join(','), first, second, String(await ctx.kv.get('a'))].join(' ');
  }`,
  lua: `return function (input, ctx)
    ctx.kv.put('a', '1')
    ctx.kv.put('b', input)
    local b = ctx.kv.get('b')
    local keys = ctx.kv.list('')
    local first, second = ctx.kv.delete('a'), ctx.kv.delete('a')
    return table.concat({ b, table.concat(keys, ','), tostring(first), tostring(second), tostring(ctx.kv.get('a')) }, ' ')
  end`,
  c: `#include <springbok.h>
#include <stdio.h>
#include <string.h>
int handler(const char *in, size_t len) {
  char b[64], keys[64], line[256];
  if (sb_kv_put(NULL, 0, "a", 1, "1", 1) != SB_OK || sb_kv_put(NULL, 0, "b", 1, in, len) != SB_OK) return 1;
  int n = sb_kv_get(NULL, 0, "b", 1, b, sizeof b);
  int k = sb_kv_list(NULL, 0, "", 0, keys, sizeof keys);
  for (int i = 0; i + 1 < k; i++) if (keys[i] == 0) keys[i] = ',';
  int first = sb_kv_delete(NULL, 0, "a", 1), second = sb_kv_delete(NULL, 0, "a", 1);
  int absent = sb_kv_get(NULL, 0, "a", 1, b + 32, 8);
  int w = snprintf(line, sizeof line, "%.*s %s %s %s %s", n, b, keys, first == 1 ? "true" : "false", second == 1 ? "true" : "false", absent == SB_ERR_NOT_FOUND ? "null" : "?");
  sb_output(line, w);
  return 0;
}`,
};
const kLanguages: readonly (readonly [language: string, source: string, absent: string])[] = [
  ['js', kRoundTrip.js, 'null'], ['quickjs', kRoundTrip.js, 'null'], ['lua', kRoundTrip.lua, 'nil'], ['lua54', kRoundTrip.lua, 'nil'],
  ...(hasToolchain ? [['c', kRoundTrip.c, 'null'] as const] : []),
];

test('every language gets, puts, lists and deletes in its own namespace, metered in its usage', { timeout: 120_000 }, async () => {
  await using engine = await Engine.open({ plugins: defaultPlugins() });
  for (const [language, source, absent] of kLanguages) {
    await engine.deploy(`kv-${language}`, language, bytes(source));
    const result = await engine.invoke(`kv-${language}`, bytes(`hello ${language}`));
    assert.equal(output(result), `hello ${language} a,b true false ${absent}`, language);
    // Reads: get b, list, get a; writes: 2 puts, 2 deletes; bytes: keys, the values put and read, the keys listed.
    const value = `hello ${language}`.length;
    assert.deepEqual([result.usage.kvReads, result.usage.kvWrites, result.usage.kvBytes], [3, 4, (1 + 1) + (1 + value) + (1 + value) + (0 + 2) + 1 + 1 + 1], language);
  }
});

test('namespaces: each function has its own; a shared one only as granted, read-only or read-write', async () => {
  await using engine = await Engine.open({ plugins: defaultPlugins() });
  const probe = bytes(`export default async (input, ctx) => {
    const [op, ns] = input.split(' ');
    try {
      if (op === 'put') { await ctx.kv.put('k', 'written', { namespace: ns }); return 'ok'; }
      return String(await ctx.kv.get('k', { namespace: ns }));
    } catch (error) { return error.code; }
  }`);
  await engine.deploy('owner', 'js', probe);
  await engine.deploy('stranger', 'js', probe);
  await engine.deploy('reader', 'js', probe, { kv: ['owner:ro'] });
  await engine.deploy('writer', 'js', probe, { kv: ['owner:rw', 'shared:rw'] });
  assert.equal(output(await engine.invoke('owner', bytes('put'))), 'ok');
  assert.equal(output(await engine.invoke('stranger', bytes('get'))), 'null', 'its own namespace is empty');
  assert.equal(output(await engine.invoke('stranger', bytes('get owner'))), 'ERR_KV_DENIED');
  assert.equal(output(await engine.invoke('reader', bytes('get owner'))), 'written');
  assert.equal(output(await engine.invoke('reader', bytes('put owner'))), 'ERR_KV_DENIED', 'ro does not write');
  assert.equal(output(await engine.invoke('writer', bytes('put shared'))), 'ok');
  assert.equal(output(await engine.invoke('writer', bytes('get shared'))), 'written');
  assert.equal(output(await engine.invoke('owner', bytes('get shared'))), 'ERR_KV_DENIED');
});

test('hostile: a kv filler stops at its storage budget (ERR_KV_BUDGET) and the namespace never holds more; keys and values have size limits', async () => {
  await using engine = await Engine.open({ plugins: defaultPlugins() });
  // Puts 1000-byte values under new keys (input: their prefix) until refused, then adds up what the
  // namespace holds; "<prefix> empty" then deletes everything.
  await engine.deploy('filler', 'js', bytes(`export default async (input, ctx) => {
    const [prefix, then] = input.split(' ');
    let code = 'none', puts = 0;
    try { for (;;) { await ctx.kv.put(prefix + String(puts).padStart(6, '0'), 'x'.repeat(1000)); puts++; } } catch (error) { code = error.code; }
    let total = 0;
    for (const key of await ctx.kv.list('')) total += key.length + (await ctx.kv.get(key)).length;
    if (then === 'empty') for (const key of await ctx.kv.list('')) await ctx.kv.delete(key);
    return code + ' ' + puts + ' ' + total;
  }`), { kvBytes: 20_000 });
  assert.equal(output(await engine.invoke('filler', bytes('a'))), `ERR_KV_BUDGET 19 ${19 * 1007}`, 'nineteen 1007-byte entries fit in 20,000 bytes, a twentieth does not');
  // Full: a new key is refused at once (rewriting a key in place does not grow it, so that would pass).
  assert.equal(output(await engine.invoke('filler', bytes('b empty'))), `ERR_KV_BUDGET 0 ${19 * 1007}`);
  assert.equal(output(await engine.invoke('filler', bytes('c'))), `ERR_KV_BUDGET 19 ${19 * 1007}`, 'once emptied, the space is there again');
  // Not caught: the function fails because of its storage budget, and says so.
  await engine.deploy('careless', 'lua', bytes('return function (_, ctx) for i = 1, 1000 do ctx.kv.put("k" .. i, string.rep("x", 1000)) end end'), { kvBytes: 20_000 });
  const careless = await engine.invoke('careless', bytes(''));
  assert.equal(careless.ok ? '' : careless.error.code, 'ERR_KV_BUDGET');
  assert.equal(careless.usage.kvWrites, 20, 'nineteen puts and the refused twentieth');

  await engine.deploy('limits', 'js', bytes(`export default async (input, ctx) => {
    const attempt = async (key, value) => { try { await ctx.kv.put(key, value); return 'ok'; } catch (error) { return error.code; } };
    return [await attempt('k'.repeat(${kMaxKeyBytes}), ''), await attempt('k'.repeat(${kMaxKeyBytes + 1}), ''), await attempt('v', new Uint8Array(${kMaxValueBytes + 1})), await attempt('', 'x')].join(' ');
  }`), { kvBytes: 4 * 2 ** 20 });
  assert.equal(output(await engine.invoke('limits', bytes(''))), 'ok ERR_KV_BUDGET ERR_KV_BUDGET ERR_FUNCTION');
});

test('what was put is there after a restart on the same data dir, and on a multi-core engine', { timeout: 90_000 }, async () => {
  await using dir = await temporaryDir();
  const source = bytes('export default async (input, ctx) => { if (input !== "") await ctx.kv.put("k", input); return String(await ctx.kv.get("k")); }');
  {
    await using engine = await Engine.open({ plugins: defaultPlugins(), dataDir: dir.path });
    await engine.deploy('keeper', 'js', source);
    assert.equal(output(await engine.invoke('keeper', bytes('kept'))), 'kept');
  }
  await using engine = await Engine.open({ workers: 2, pluginModule: kRealPlugins, dataDir: dir.path });
  assert.equal(output(await engine.invoke('keeper', bytes(''))), 'kept');
  // Invocations on both threads write and read the one store.
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => engine.invoke('keeper', bytes(`v${i}`))));
  assert.equal(results.filter((result) => result.ok).length, 8);
  assert.match(output(await engine.invoke('keeper', bytes(''))), /^v[0-7]$/);
});
