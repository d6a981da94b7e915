import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Engine, EngineError, type InvokeResult } from '../engine/index.ts';
import { cPlugin } from '../plugins/wasm/index.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';

// The C runtime's host interface: internal imports cannot be reached by guest code, nothing of an
// invocation runs on after its outcome, and every host call's work is bounded and charged to the
// CPU budget (doc/c.md, "Host calls").

const found = findToolchain();
const skip = 'missing' in found ? found.missing : false;
const c = (text: string): Uint8Array => Buffer.from(`#include <springbok.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <unistd.h>\n${text}\n`);
const text = (result: InvokeResult): string => {
  assert.equal(result.ok, true, result.ok ? '' : `${result.error.code}: ${result.error.message}`);
  return result.ok ? Buffer.from(result.output).toString() : '';
};
const kCpuMs = 100;

// Unreachable wasm memories are only returned when V8 collects them; measuring RSS without a
// collection first measures the collector's timing, not what the engine keeps.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const settledRss = async (): Promise<number> => {
  for (let round = 0; round < 3; round++) {
    collectGarbage();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().rss;
};

test('guest code that calls an internal host function, or the runtime entry point, is refused at deploy', { skip }, async () => {
  await using engine = await Engine.open({ plugins: [cPlugin()] });
  const attempts: [string, string][] = [
    // Each internal import, declared by the guest under its own name.
    ...['read_input', 'done', 'memory_refused', 'fuel', 'suspend'].map((name): [string, string] => [name,
      `__attribute__((import_module("springbok"), import_name("${name}"))) int32_t internal(int32_t);\nint handler(const char *in, size_t len) { return internal(0); }`]),
    // The runtime's own declaration, reached through its symbol (it is linked with the guest).
    ['__sb_done symbol', 'SB_IMPORT("done") void __sb_done(int32_t);\nint handler(const char *in, size_t len) { __sb_done(0); for (;;) {} }'],
    // The entry point called again: a second done from inside the first invocation.
    ['__sb_entry re-entered', 'void __sb_entry(size_t);\nint handler(const char *in, size_t len) { if (len) __sb_entry(0); return 0; }'],
    // An internal import's address in the function table, for an indirect call.
    ['address of __sb_done', 'SB_IMPORT("done") void __sb_done(int32_t);\nvoid (*volatile report)(int32_t) = __sb_done;\nint handler(const char *in, size_t len) { report(0); return 0; }'],
  ];
  for (const [label, source] of attempts) {
    await assert.rejects(engine.deploy(`bad-${attempts.findIndex(([l]) => l === label)}`, 'c', c(source)), (error: unknown) => {
      assert.ok(error instanceof EngineError, `${label}: ${String(error)}`);
      assert.equal(error.code, 'ERR_COMPILE', `${label}: ${error.message}`);
      assert.match(error.message, /internal to springbok|entry point, which only the engine may call/, label);
      return true;
    }, label);
  }
  // The documented host functions still deploy and run.
  await engine.deploy('good', 'c', c('int handler(const char *in, size_t len) { sb_log(in, len); sb_output(in, len); return 0; }'));
  assert.equal(text(await engine.invoke('good', Buffer.from('fine'))), 'fine');
});

test('code running after the handler reported (an atexit handler) is stopped: no stack parked, no memory kept, nothing survives into the next invocation', { skip }, async () => {
  await using engine = await Engine.open({ plugins: [cPlugin()] });
  // wasm-ld's export wrapper runs libc's exit handlers after __sb_entry, so after springbok.done:
  // this one leaves a marker in the stack area, takes 8 MiB and touches it for ever.
  await engine.deploy('after', 'c', c(`
static void after (void) {
  memset((void *)1024, 'S', 8);
  volatile char *memory = malloc(8 << 20);
  for (;;) for (int i = 0; i < (8 << 20); i += 4096) memory[i] = 1;
}
int handler (const char *in, size_t len) {
  char out[16];
  int n = snprintf(out, sizeof out, "[%.8s]", (const char *)1024);
  sb_output(out, n);
  if (len > 0) atexit(after);
  return 0;
}`), { cpuMs: kCpuMs, wallMs: 5_000, memoryBytes: 32 * 2 ** 20 });
  const rssBefore = await settledRss();
  for (let i = 0; i < 50; i++) {
    const startedAt = performance.now();
    const result = await engine.invoke('after', Buffer.from(i % 2 === 0 ? 'attack' : ''));
    const tookMs = performance.now() - startedAt;
    assert.equal(text(result), '[]', `invocation ${i} saw memory of an earlier one`);
    assert.ok(tookMs < 2 * kCpuMs + 1_000, `invocation ${i} took ${tookMs.toFixed(0)} ms`);
  }
  const grownMiB = (await settledRss() - rssBefore) / 2 ** 20;
  // 25 parked stacks would keep 25 × 8 MiB.
  assert.ok(grownMiB < 100, `RSS grew ${grownMiB.toFixed(0)} MiB over 50 invocations`);
});

test('fd_write takes at most 1024 iovecs and 64 KiB per call: the guest sees EINVAL and a partial write', { skip }, async () => {
  await using engine = await Engine.open({ plugins: [cPlugin()] });
  await engine.deploy('writes', 'c', c(`${kFdWrite}
int handler (const char *in, size_t len) {
  static char big[1 << 20];
  iovec_t *many = make_iovecs(100000, big, sizeof big);
  size_t written = 0;
  int refused = fd_write(1, many, 100000, &written);
  int partial = fd_write(1, many, 1024, &written);
  char out[64];
  sb_output(out, snprintf(out, sizeof out, "%d %d %zu", refused, partial, written));
  return 0;
}`), { cpuMs: 2_000 });
  assert.equal(text(await engine.invoke('writes', new Uint8Array())), '28 0 65536');
});

const kFdWrite = `
typedef struct { const void *buf; size_t len; } iovec_t;
__attribute__((import_module("wasi_snapshot_preview1"), import_name("fd_write"))) int fd_write(int, const iovec_t *, size_t, size_t *);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("random_get"))) int random_get(void *, size_t);
static iovec_t *make_iovecs (size_t count, const void *buffer, size_t length) {
  iovec_t *iovecs = malloc(count * sizeof *iovecs);
  for (size_t i = 0; i < count; i++) { iovecs[i].buf = buffer; iovecs[i].len = length; }
  return iovecs;
}`;

/** Loops of one expensive host call each: every one must end at its CPU budget. */
const kAttacks: Record<string, string> = {
  'fd_write, 100k iovecs': 'static char big[1 << 20]; iovec_t *v = make_iovecs(100000, big, sizeof big); size_t w; for (;;) fd_write(1, v, 100000, &w);',
  'fd_write, 1024 iovecs of 1 MiB': 'static char big[1 << 20]; memset(big, \'a\', sizeof big); iovec_t *v = make_iovecs(1024, big, sizeof big); size_t w; for (;;) fd_write(2, v, 1024, &w);',
  'random_get, 64 KiB': 'static char buffer[65536]; for (;;) random_get(buffer, sizeof buffer);',
  'getentropy, 256 B': 'static char buffer[256]; for (;;) getentropy(buffer, sizeof buffer);',
  'sb_log, 64 KiB': 'static char line[65536]; memset(line, \'x\', sizeof line); for (;;) sb_log(line, sizeof line);',
  'printf, newlines': 'static char lines[65536]; memset(lines, \'\\n\', sizeof lines); lines[sizeof lines - 1] = 0; for (;;) fputs(lines, stdout);',
};

test('loops of expensive host calls end at their CPU budget, and a light function keeps answering meanwhile', { skip }, async () => {
  await using engine = await Engine.open({ plugins: [cPlugin()] });
  await engine.deploy('light', 'c', c('int handler(const char *in, size_t len) { sb_output(in, len); return 0; }'));
  const names = Object.keys(kAttacks);
  for (const [index, name] of names.entries()) {
    await engine.deploy(`attack-${index}`, 'c', c(`${kFdWrite}\nint handler (const char *in, size_t len) { ${kAttacks[name]} return 0; }`), { cpuMs: kCpuMs, wallMs: 10_000 });
  }
  const report: string[] = [];
  for (const [index, name] of names.entries()) {
    const startedAt = performance.now();
    let finished = false;
    const attack = engine.invoke(`attack-${index}`, new Uint8Array()).then((result) => { finished = true; return result; });
    let slowestLightMs = 0;
    let lightCalls = 0;
    while (!finished) {
      const lightStartedAt = performance.now();
      assert.equal(text(await engine.invoke('light', Buffer.from(`${lightCalls}`))), `${lightCalls}`);
      slowestLightMs = Math.max(slowestLightMs, performance.now() - lightStartedAt);
      lightCalls++;
    }
    const result = await attack;
    const wallMs = performance.now() - startedAt;
    report.push(`${name}: cpu ${result.usage.cpuMs.toFixed(1)} ms, wall ${wallMs.toFixed(0)} ms, light slowest ${slowestLightMs.toFixed(1)} ms over ${lightCalls}`);
    assert.equal(result.ok ? 'ok' : result.error.code, 'ERR_CPU_BUDGET', name);
    assert.ok(result.usage.cpuMs <= 2 * kCpuMs, `${name}: ${result.usage.cpuMs.toFixed(1)} ms of CPU on a ${kCpuMs} ms budget`);
    assert.ok(wallMs < 2 * kCpuMs + 1_000, `${name}: took ${wallMs.toFixed(0)} ms`);
    assert.ok(slowestLightMs < 1_000, `${name}: the light function took ${slowestLightMs.toFixed(0)} ms`);
  }
  console.log(report.join('\n'));
});
