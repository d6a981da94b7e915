import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine, EngineError, type InvokeResult } from '../engine/index.ts';
import { cPlugin, llvmPlugin } from '../plugins/wasm/index.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { SpringbokClient } from '../dispatchers/client.ts';
import { example, runCli, startEngineProcess, temporaryDir } from './support/engine-process.ts';

const found = findToolchain();
const skip = 'missing' in found ? found.missing : false;
const c = (text: string): Uint8Array => Buffer.from(`#include <springbok.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n${text}\n`);
const output = (result: InvokeResult): string => {
  assert.equal(result.ok, true, result.ok ? '' : `${result.error.code}: ${result.error.message}`);
  return result.ok ? Buffer.from(result.output).toString() : '';
};
const failure = (result: InvokeResult): string => result.ok ? 'ok' : result.error.code;
/** The fields of `springbok execute --json` these tests read. */
type ExecuteJson = { error: { code: string }, usage: { cpuMs: number, memoryBytes: number } };
const open = (dataDir?: string): Promise<Engine> => Engine.open({ plugins: [cPlugin(), llvmPlugin()], ...(dataDir !== undefined ? { dataDir } : {}) });

test('C and LLVM examples run through the real CLI and engine', { skip }, async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path });
  const env = { SPRINGBOK_SOCKET: engine.socketPath };
  const cases: [string, string, string, string][] = [
    ['c', 'fib', 'c/fib.c', '25'], ['c', 'primes', 'c/primes.c', '1000000'], ['c', 'words', 'c/words.c', 'hello big world'],
    ['c', 'matrix', 'c/matrix.c', '64'], ['c', 'chunks', 'c/chunks.c', '3 ab'], ['llvm', 'collatz', 'llvm/collatz.ll', '27'],
  ];
  for (const [language, name, file] of cases) {
    const deployed = await runCli(['deploy', language, name, example(file)], { env });
    assert.equal(deployed.code, 0, deployed.stderr);
  }
  const expected = ['75025', '78498', 'OLLEH GIB DLROW', '8064', 'ab,ab,ab', '111'];
  for (const [index, [, name, , input]] of cases.entries()) {
    const run = await runCli(['execute', name, input, '--logs'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, expected[index]);
    if (name === 'words') assert.match(run.stderr, /^3 words$/m, 'printf goes to the log');
  }
});

test('an infinite loop stops at its CPU budget, a malloc bomb at its memory budget, and the engine keeps serving', { skip }, async () => {
  await using dir = await temporaryDir();
  await using engine = await startEngineProcess({ dir: dir.path });
  const env = { SPRINGBOK_SOCKET: engine.socketPath };
  assert.equal((await runCli(['deploy', 'c', 'spin', example('c/spin.c'), '--cpu-ms', '100'], { env })).code, 0);
  assert.equal((await runCli(['deploy', 'c', 'bomb', example('c/malloc-bomb.c'), '--memory-mb', '8'], { env })).code, 0);
  assert.equal((await runCli(['deploy', 'c', 'fib', example('c/fib.c')], { env })).code, 0);
  const spun = JSON.parse((await runCli(['execute', 'spin', '--json'], { env })).stdout) as ExecuteJson;
  assert.equal(spun.error.code, 'ERR_CPU_BUDGET');
  assert.ok(spun.usage.cpuMs >= 100 && spun.usage.cpuMs <= 110, `CPU used ${spun.usage.cpuMs} ms for a 100 ms budget`);
  const bombed = JSON.parse((await runCli(['execute', 'bomb', '--json'], { env })).stdout) as ExecuteJson;
  assert.equal(bombed.error.code, 'ERR_MEMORY_BUDGET');
  assert.ok(bombed.usage.memoryBytes <= 8 * 2 ** 20);
  assert.equal((await runCli(['execute', 'fib', '20'], { env })).stdout, '6765');
});

// Whether the short calls wait for the long one is the property; how fast they answer is a benchmark's
// business (experiments/), not a timing bound here on a shared machine.
test('a trivial function answers 20 times while a 2-second C computation runs, never waiting for it', { skip }, async () => {
  await using engine = await open();
  await engine.deploy('long', 'c', await readFile(example('c/fib.c')), { cpuMs: 60_000, wallMs: 60_000 });
  await engine.deploy('short', 'c', c('int handler(const char *in, size_t len) { sb_output(in, len); return 0; }'));
  let longDone = false;
  const long = engine.invoke('long', Buffer.from('41')).then((result) => { longDone = true; return result; });
  for (let i = 0; i < 20; i++) assert.equal(output(await engine.invoke('short', Buffer.from(`${i}`))), `${i}`);
  assert.equal(longDone, false, 'the short invocations did not wait for the long one');
  assert.equal(output(await long), '165580141');
});

test('deploy errors are clear: syntax, link, foreign IR, unknown host function, oversized source', { skip }, async () => {
  await using engine = await open();
  const rejects = async (language: string, source: Uint8Array, pattern: RegExp): Promise<void> => {
    await assert.rejects(engine.deploy('bad', language, source), (error: unknown) => error instanceof EngineError && error.code === 'ERR_COMPILE' && pattern.test(error.message));
  };
  await rejects('c', c('int handler(const char *in, size_t len) { return 0 }'), /function\.c:\d+:\d+: error: expected ';'/);
  await rejects('c', c('int helper(void);\nint handler(const char *in, size_t len) { return helper(); }'), /wasm-ld: .*undefined symbol: helper/);
  await rejects('c', c('int not_the_handler(void) { return 0; }'), /undefined symbol: handler/);
  await rejects('c', c('__attribute__((import_module("springbok"), import_name("launch_missiles"))) void missiles(void);\nint handler(const char *in, size_t len) { missiles(); return 0; }'), /imports springbok\.launch_missiles, which springbok does not provide/);
  await rejects('c', c('__attribute__((import_module("env"), import_name("system"))) int sys(const char *);\nint handler(const char *in, size_t len) { return sys(in); }'), /imports env\.system/);
  await rejects('llvm', Buffer.from('target triple = "x86_64-pc-linux-gnu"\ndefine i32 @handler(i8* %p, i32 %n) {\n  ret i32 0\n}\n'), /targets "x86_64-pc-linux-gnu"/);
  await rejects('llvm', Buffer.from('this is not IR\n'), /llc: .*error/);
  await rejects('c', c('#include <pthread.h>\nint handler(const char *in, size_t len) { return 0; }'), /pthread\.h/);
  await assert.rejects(engine.deploy('huge', 'c', new Uint8Array(50 * 2 ** 20)), (error: unknown) => error instanceof EngineError && error.code === 'ERR_SOURCE_TOO_LARGE');
  assert.deepEqual(engine.list(), []);
});

test('faults fail only their invocation with a clear code', { skip }, async () => {
  await using engine = await open();
  await engine.deploy('trap', 'c', c('int handler(const char *in, size_t len) { __builtin_trap(); }'));
  await engine.deploy('deep', 'c', c('static int down(volatile int n) { volatile char pad[256]; pad[0] = (char)n; return down(n + 1) + pad[0]; }\nint handler(const char *in, size_t len) { return down(0); }'));
  await engine.deploy('exit3', 'c', c('int handler(const char *in, size_t len) { exit(3); }'));
  await engine.deploy('exit0', 'c', c('int handler(const char *in, size_t len) { sb_output("bye", 3); exit(0); }'));
  await engine.deploy('nonzero', 'c', c('int handler(const char *in, size_t len) { return 7; }'));
  await engine.deploy('flood', 'c', c('static char block[1 << 20];\nint handler(const char *in, size_t len) { for (int i = 0; i < 9; i++) sb_output(block, sizeof block); return 0; }'));
  await engine.deploy('fetch', 'c', c('int handler(const char *in, size_t len) {\n  sb_fetch_request request = { "http://example.com/", 19 };\n  char body[16]; sb_fetch_response response = { 0, 0, 0, 0, body, sizeof body, 0 };\n  int status = sb_fetch(&request, &response);\n  char text[16]; int n = snprintf(text, sizeof text, "%d", status); sb_output(text, (size_t)n); return 0;\n}'));
  await engine.deploy('echo', 'c', c('int handler(const char *in, size_t len) { sb_output(in, len); return 0; }'));
  assert.equal(failure(await engine.invoke('trap', new Uint8Array())), 'ERR_TRAP');
  const deep = await engine.invoke('deep', new Uint8Array());
  assert.equal(failure(deep), 'ERR_TRAP');
  assert.match(deep.ok ? '' : deep.error.message, /out of bounds|stack overflow/);
  const exit3 = await engine.invoke('exit3', new Uint8Array());
  assert.equal(!exit3.ok && exit3.error.message, 'exit(3)');
  assert.equal(output(await engine.invoke('exit0', new Uint8Array())), 'bye');
  const nonzero = await engine.invoke('nonzero', new Uint8Array());
  assert.equal(!nonzero.ok && `${nonzero.error.code}: ${nonzero.error.message}`, 'ERR_FUNCTION: handler returned 7');
  assert.equal(failure(await engine.invoke('flood', new Uint8Array())), 'ERR_OUTPUT_TOO_LARGE');
  assert.equal(output(await engine.invoke('fetch', new Uint8Array())), '-1', 'sb_fetch answers SB_ERR_NETWORK_BUDGET until the network lands');
  const binary = Buffer.from([0, 1, 2, 255, 0, 10]);
  const echoed = await engine.invoke('echo', binary);
  assert.deepEqual(echoed.ok && Buffer.from(echoed.output), binary);
});

test('a suspended C function is ended by its wall-clock budget and by cancellation', { skip }, async () => {
  await using engine = await open();
  await engine.deploy('spin', 'c', await readFile(example('c/spin.c')), { cpuMs: 60_000, wallMs: 150 });
  assert.equal(failure(await engine.invoke('spin', new Uint8Array())), 'ERR_WALL_TIMEOUT');
  const controller = new AbortController();
  const pending = engine.invoke('spin', new Uint8Array(), { signal: controller.signal });
  setTimeout(() => controller.abort(), 30);
  assert.equal(failure(await pending), 'ERR_CANCELLED');
  assert.equal(engine.stats().inFlight, 0);
});

test('compiled modules are cached in the data dir: a restart needs no compiler', { skip }, async () => {
  await using dir = await temporaryDir();
  {
    await using engine = await open(dir.path);
    await engine.deploy('fib', 'c', await readFile(example('c/fib.c')));
    await engine.deploy('collatz', 'llvm', await readFile(example('llvm/collatz.ll')));
  }
  assert.equal((await readdir(join(dir.path, 'cache', 'c'))).filter((f) => f.endsWith('.wasm')).length, 1);
  await using engine = await startEngineProcess({ dir: dir.path, dataDir: dir.path, env: { SPRINGBOK_CLANG: '/nonexistent/clang', SPRINGBOK_LLC: '/nonexistent/llc' } });
  await using client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  const fib = await client.invoke('fib', '10');
  assert.equal(fib.ok && fib.output.toString(), '55');
  const collatz = await client.invoke('collatz', '27');
  assert.equal(collatz.ok && collatz.output.toString(), '111');
});

test('metering covers recursion without loops, and refuses instructions it cannot meter', { skip }, async () => {
  await using engine = await open();
  await engine.deploy('fib', 'c', await readFile(example('c/fib.c')), { cpuMs: 100 });
  const fib = await engine.invoke('fib', Buffer.from('60'));
  assert.equal(failure(fib), 'ERR_CPU_BUDGET');
  assert.ok(fib.usage.cpuMs <= 110, `recursion ran ${fib.usage.cpuMs} ms on a 100 ms budget`);
  const spinIr = Buffer.from('target triple = "wasm32-unknown-wasi"\ndefine i32 @handler(i8* %p, i32 %n) {\nentry:\n  br label %loop\nloop:\n  br label %loop\n}\n');
  await engine.deploy('ir-spin', 'llvm', spinIr, { cpuMs: 50 });
  assert.equal(failure(await engine.invoke('ir-spin', new Uint8Array())), 'ERR_CPU_BUDGET');

  if ('toolchain' in found) {
    const { buildModule } = await import('../plugins/wasm/build.ts');
    const { instrument } = await import('../plugins/wasm-common/instrument.ts');
    const { execFileSync } = await import('node:child_process');
    await using dir = await temporaryDir();
    const linked = await buildModule('c', c('int handler(const char *in, size_t len) { return 0; }'), found.toolchain, { timeoutMs: 30_000, maxOutputBytes: 65536, signal: new AbortController().signal });
    const { bytes, loops, functions } = instrument(linked);
    assert.ok(functions > 0 && loops > 0, 'libc loops are metered too');
    assert.ok(new WebAssembly.Module(bytes));
    const simd = join(dir.path, 'simd.c');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(simd, '#include <wasm_simd128.h>\nstatic char out[16];\nint handler(const char *in, unsigned long len) { v128_t v = wasm_v128_load(in); wasm_v128_store(out, wasm_i8x16_add(v, v)); return out[(unsigned char)in[0] & 15]; }\n');
    execFileSync(found.toolchain.clang, ['--target=wasm32-wasi', `--sysroot=${found.toolchain.sysroot}`, '-msimd128', '-O2', '-c', simd, '-o', join(dir.path, 'simd.o')]);
    const runtimeObject = join(dir.path, 'runtime.o');
    execFileSync(found.toolchain.clang, ['--target=wasm32-wasi', `--sysroot=${found.toolchain.sysroot}`, '-O2', '-c', new URL('../plugins/wasm/runtime/runtime.c', import.meta.url).pathname, '-o', runtimeObject]);
    execFileSync(found.toolchain.wasmLd, [join(dir.path, 'simd.o'), runtimeObject, `-L${found.toolchain.libDir}`, '-lc', '--no-entry', '--import-memory', '-o', join(dir.path, 'simd.wasm')]);
    assert.throws(() => instrument(new Uint8Array(readFileSync(join(dir.path, 'simd.wasm')))), /SIMD/);
    assert.throws(() => instrument(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 200])), /malformed/);
    assert.throws(() => instrument(Buffer.from('not wasm at all')), /malformed/);
  }
});
