import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, type InvokeResult } from '../engine/index.ts';
import { cPlugin } from '../plugins/wasm/index.ts';
import { MemoryPool } from '../plugins/wasm/memory-pool.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { kFiller, kScanner } from './support/c-markers.ts';
import { output } from './support/results.ts';

/**
 * C/LLVM instances are reused: after each invocation the instance is put back to the function's
 * snapshot (memory and mutable globals as right after instantiation: plugins/wasm/instance-snapshot.ts).
 * A reused instance must be indistinguishable from a new one, whatever the last invocation did.
 */
const found = findToolchain();
const skip = 'missing' in found ? found.missing : false;

const failure = (result: InvokeResult): string => result.ok ? 'ok' : result.error.code;

// Reports what a previous invocation could have changed: an initialised static, a zero-initialised
// one, a counter its constructor bumps, where malloc and the stack are, the clean state of a buffer,
// then changes all of it. Input 'trap' traps after the changes, 'grow' grows the memory, 'spin'
// spins until its CPU budget stops it.
const kStateful = `#include <springbok.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int counter = 41;
static int constructed;
static unsigned char scratch[4096];
static const char *saved;
__attribute__((constructor)) static void init(void) { constructed++; }
int handler(const char *input, size_t len) {
  int dirty = 0;
  for (size_t i = 0; i < sizeof scratch; i++) dirty += scratch[i] != 0;
  volatile int local = 0;
  char *block = malloc(64);
  char text[200];
  int n = snprintf(text, sizeof text, "counter=%d constructed=%d dirty=%d saved=%d heap=%p stack=%p",
                   counter, constructed, dirty, saved != NULL, (void *)block, (void *)&local);
  counter += 100;
  memset(scratch, 0xA5, sizeof scratch);
  saved = block;
  if (len == 4 && memcmp(input, "trap", 4) == 0) __builtin_trap();
  if (len == 4 && memcmp(input, "grow", 4) == 0) { char *big = malloc(1 << 20); if (big == NULL) return 1; big[0] = 1; }
  if (len == 4 && memcmp(input, "spin", 4) == 0) for (volatile unsigned i = 0;; i++) scratch[i & 4095] = (unsigned char)i;
  sb_output(text, (size_t)n);
  return 0;
}
`;

test('a reused C instance starts as a new one: statics, constructors, heap, stack, after a trap, a grown memory, a CPU budget stop', { skip }, async () => {
  await using engine = await Engine.open({ plugins: [cPlugin()], workers: 0 });
  await engine.deploy('state', 'c', Buffer.from(kStateful), { cpuMs: 200 });
  const first = output(await engine.invoke('state', Buffer.from('x')));
  assert.match(first, /^counter=41 constructed=1 dirty=0 saved=0 heap=0x[0-9a-f]+ stack=0x[0-9a-f]+$/);
  for (let i = 0; i < 5; i++) assert.equal(output(await engine.invoke('state', Buffer.from('x'))), first, `call ${i + 2}`);
  assert.equal(failure(await engine.invoke('state', Buffer.from('trap'))), 'ERR_TRAP');
  assert.equal(output(await engine.invoke('state', Buffer.from('x'))), first, 'after a trap');
  assert.equal(output(await engine.invoke('state', Buffer.from('grow'))), first, 'the growing call itself starts clean');
  assert.equal(output(await engine.invoke('state', Buffer.from('x'))), first, 'after a memory growth');
  const spin = await engine.invoke('state', Buffer.from('spin'));
  assert.equal(failure(spin), 'ERR_CPU_BUDGET');
  assert.equal(output(await engine.invoke('state', Buffer.from('x'))), first, 'after a CPU budget stop');
  // A second deploy of the same source gets a new instance: the same first answer.
  await engine.deploy('state-2', 'c', Buffer.from(kStateful));
  assert.equal(output(await engine.invoke('state-2', Buffer.from('x'))), first);
});

test('overlapping invocations of one C function each get an instance in the initial state', { skip }, async () => {
  await using engine = await Engine.open({ plugins: [cPlugin()], workers: 0 });
  await engine.deploy('state', 'c', Buffer.from(kStateful));
  const first = output(await engine.invoke('state', Buffer.from('x')));
  for (let round = 0; round < 5; round++) {
    const answers = await Promise.all(Array.from({ length: 4 }, () => engine.invoke('state', Buffer.from('x'))));
    for (const answer of answers) assert.equal(output(answer), first);
  }
});

test('evicted and restored under a ceiling of one instance, with calls arriving while evicted: no marker crosses functions, every answer is the first', { skip }, async () => {
  const plugin = cPlugin();
  const oneInstance = plugin.memory!.idleInstanceBytes!;
  await using engine = await Engine.open({ plugins: [plugin], workers: 0, maxInstanceMemoryBytes: Math.floor(oneInstance * 1.5) });
  await engine.deploy('filler', 'c', Buffer.from(kFiller));
  await engine.deploy('scanner', 'c', Buffer.from(kScanner));
  await engine.deploy('state', 'c', Buffer.from(kStateful));
  const first = output(await engine.invoke('state', Buffer.from('x')));
  for (let round = 0; round < 10; round++) {
    // The filler's instance (its memory full of markers) is evicted by the next function: its memory
    // goes back to the pool, which the next function's new instance takes.
    assert.equal(output(await engine.invoke('filler', Buffer.from('x'))), 'filled');
    assert.match(output(await engine.invoke('scanner', Buffer.from('x'))), /^0 of \d+$/, `round ${round}: the scanner saw the filler's marker`);
    assert.equal(output(await engine.invoke('filler', Buffer.from('x'))), 'filled');
    assert.equal(engine.list().find((f) => f.name === 'state')?.state, 'evicted');
    // Several calls of the evicted function at once, beside its neighbour: they share one restore.
    const [states, fill] = await Promise.all([
      Promise.all(Array.from({ length: 4 }, () => engine.invoke('state', Buffer.from('x')))),
      engine.invoke('filler', Buffer.from('x')),
    ]);
    for (const state of states) assert.equal(output(state), first);
    assert.equal(output(fill), 'filled');
  }
  const { instances } = engine.stats();
  assert.ok(instances.evictions >= 30 && instances.restores >= 30, `evictions ${instances.evictions}, restores ${instances.restores}`);
});

test('the instrumentation pass exports every mutable global for restoring, and refuses table.set (a table is not restored)', async () => {
  const { default: binaryen } = await import('binaryen');
  const { instrument } = await import('../plugins/wasm-common/instrument.ts');
  const build = (body: string): Uint8Array => {
    const module = binaryen.parseText(`(module
      (import "env" "memory" (memory 2))
      (import "springbok" "fuel" (func $fuel (result i32)))
      (import "springbok" "suspend" (func $suspend (result i32)))
      (table 1 funcref)
      (global $constant i32 (i32.const 7))
      (global $sp (mut i32) (i32.const 65536))
      (func $f (export "f") (param i32) ${body}))`);
    module.setFeatures(binaryen.Features.MutableGlobals | binaryen.Features.ReferenceTypes);
    const bytes = module.emitBinary();
    module.dispose();
    return bytes;
  };
  const exported = WebAssembly.Module.exports(new WebAssembly.Module(instrument(build('(global.set $sp (local.get 0))')).bytes));
  assert.deepEqual(exported.filter((e) => e.kind === 'global').map((e) => e.name).sort(), ['__sb_fuel', '__sb_global_1']);
  assert.throws(() => instrument(build('(table.set 0 (i32.const 0) (ref.null func))')), /writes a table \(table\.set\)/);
});

test('an instance left in the memory pool comes back only to its owner; anyone else gets its memory zeroed', () => {
  const shape = new MemoryPool().shape(2, 16);
  const owner = {};
  const memory = shape.acquire();
  new Uint8Array(memory.buffer).fill(0xa5);
  shape.retain(memory, owner, 'its instance');
  assert.equal(shape.reclaim({}), undefined, 'another artifact');
  assert.equal(new MemoryPool().shape(2, 16).reclaim(owner), undefined, 'another pool');
  assert.equal(shape.reclaim(owner), 'its instance');
  shape.retain(memory, owner, 'its instance');
  const taken = shape.acquire();
  assert.equal(taken, memory, 'the only idle memory of the shape');
  assert.ok(new Uint8Array(taken.buffer).every((byte) => byte === 0), 'no byte of the owner reaches the next user');
  assert.equal(shape.reclaim(owner), undefined, 'the attachment went with it');
});
