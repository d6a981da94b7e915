#!/usr/bin/env node
/**
 * The C/LLVM plugin measured: deploy (compile) time, cold start, warm invocation, and the cost of
 * fuel metering — the same C code run natively, as plain wasm, as fuel-instrumented wasm, as
 * Asyncify-transformed wasm (the fallback we did not take), and through the engine.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Engine } from '../engine/index.ts';
import { cPlugin } from '../plugins/wasm/index.ts';
import { buildModule } from '../plugins/wasm/build.ts';
import { instrument } from '../plugins/wasm-common/instrument.ts';
import { findToolchain, kProjectRoot } from '../plugins/wasm/toolchain.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('c-wasm', 'Usage: node experiments/c-wasm.ts [--quick]\n\nC/LLVM plugin: compile time, cold start, warm invocation, fuel overhead vs plain wasm, Asyncify and native C.');
const found = findToolchain();
if ('missing' in found) { console.error(found.missing); process.exit(2); }
const { toolchain } = found;
const header = machineHeader();
console.log(JSON.stringify(header));
const repeat = args.quick ? 3 : 15;
const example = (file: string): Promise<Buffer> => readFile(join(kProjectRoot, 'examples', 'c', file));
const signal = new AbortController().signal;
const limits = { timeoutMs: 60_000, maxOutputBytes: 65536, signal };
const workloads = [
  { file: 'fib.c', input: args.quick ? '24' : '30' },
  { file: 'primes.c', input: args.quick ? '200000' : '2000000' },
  { file: 'matrix.c', input: args.quick ? '64' : '160' },
];

// 1. Deploy time: clang + wasm-ld + instrumentation + WebAssembly.compile, no cache.
const compile: Record<string, unknown> = {};
for (const { file } of workloads) {
  const source = await example(file);
  const build: number[] = [];
  const whole: number[] = [];
  for (let i = 0; i < repeat; i++) {
    let t0 = performance.now();
    await buildModule('c', source, toolchain, limits);
    build.push(performance.now() - t0);
    t0 = performance.now();
    await cPlugin().compile(source, { signal });
    whole.push(performance.now() - t0);
  }
  compile[file] = { buildMs: summarize(build), deployCompileMs: summarize(whole) };
  console.log(`compile ${file}: build (clang + wasm-ld) p50 ${summarize(build).p50} ms, whole compile() p50 ${summarize(whole).p50} ms`);
}

// 2. Cold start and warm invocation through the engine, in process.
const engine = await Engine.open({ plugins: [cPlugin()] });
const trivial = Buffer.from('#include <springbok.h>\nint handler(const char *in, size_t len) { sb_output(in, len); return 0; }\n');
const cold: number[] = [];
for (let i = 0; i < (args.quick ? 20 : 200); i++) {
  await engine.deploy(`cold${i % 4}`, 'c', trivial);
  const t0 = performance.now();
  const result = await engine.invoke(`cold${i % 4}`, Buffer.from('x'));
  cold.push((performance.now() - t0) * 1000);
  if (!result.ok) throw new Error(result.error.message);
}
await engine.deploy('warm', 'c', trivial);
const warm: number[] = [];
const warmCount = args.quick ? 2000 : 50_000;
for (let i = 0; i < 200; i++) await engine.invoke('warm', Buffer.from('x'));
for (let i = 0; i < warmCount; i++) {
  const t0 = performance.now();
  await engine.invoke('warm', Buffer.from('x'));
  warm.push((performance.now() - t0) * 1000);
}
const t0 = performance.now();
for (let done = 0; done < warmCount; done += 64) await Promise.all(Array.from({ length: 64 }, () => engine.invoke('warm', Buffer.from('x'))));
const warmPerSecond64 = Math.round(warmCount / ((performance.now() - t0) / 1000));
console.log(`cold start (deploy → first result) p50 ${summarize(cold).p50} µs p99 ${summarize(cold).p99} µs; warm invocation p50 ${summarize(warm).p50} µs p99 ${summarize(warm).p99} µs; ${warmPerSecond64} invocations/s at concurrency 64 (in process)`);

// 3. The same C code: native, plain wasm, fuel-instrumented wasm, Asyncify wasm, and through the engine.
const dir = await mkdtemp(join(tmpdir(), 'springbok-c-bench-'));
const wasmOpt = join(kProjectRoot, 'node_modules', 'binaryen', 'bin', 'wasm-opt');
const speed: Record<string, unknown>[] = [];
try {
  await writeFile(join(dir, 'main.c'), `#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <time.h>\nint handler(const char *, size_t);\nvoid sb_output(const void *p, size_t n) { (void)p; (void)n; }\nint main(int argc, char **argv) { int k = atoi(argv[2]); for (int i = 0; i < k; i++) { struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a); handler(argv[1], strlen(argv[1])); clock_gettime(CLOCK_MONOTONIC, &b); printf("%f\\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6); } return 0; }\n`);
  for (const { file, input } of workloads) {
    const source = await example(file);
    await writeFile(join(dir, file), source.toString().replace('#include <springbok.h>', '#include <stddef.h>\nvoid sb_output(const void *, size_t);'));
    execFileSync(toolchain.clang, ['-O2', '-o', join(dir, 'native'), join(dir, 'main.c'), join(dir, file)]);
    const native = execFileSync(join(dir, 'native'), [input, String(repeat)]).toString().trim().split('\n').map(Number);

    const linked = await buildModule('c', source, toolchain, limits);
    const plain = runDirect(linked, input, repeat);
    const fueled = runDirect(instrument(linked).bytes, input, repeat);
    let asyncify: number[] | undefined;
    if (existsSync(wasmOpt)) {
      await writeFile(join(dir, 'linked.wasm'), linked);
      execFileSync(process.execPath, [wasmOpt, join(dir, 'linked.wasm'), '--asyncify', '--pass-arg=asyncify-imports@springbok.suspend', '-O2', '-o', join(dir, 'async.wasm')]);
      asyncify = runDirect(new Uint8Array(await readFile(join(dir, 'async.wasm'))), input, repeat);
    }
    await engine.deploy(`speed-${file}`, 'c', source, { cpuMs: 600_000, wallMs: 600_000 });
    const viaEngine: number[] = [];
    for (let i = 0; i < 3; i++) await engine.invoke(`speed-${file}`, Buffer.from(input)); // let V8 tier the code up
    for (let i = 0; i < repeat; i++) {
      const result = await engine.invoke(`speed-${file}`, Buffer.from(input));
      if (!result.ok) throw new Error(result.error.message);
      viaEngine.push(result.usage.cpuMs);
    }
    const p50 = (samples: number[] | undefined): number | null => samples === undefined ? null : summarize(samples).p50;
    const row = {
      workload: `${file} ${input}`,
      nativeMs: summarize(native), plainWasmMs: summarize(plain), fuelWasmMs: summarize(fueled),
      asyncifyWasmMs: asyncify === undefined ? null : summarize(asyncify), engineCpuMs: summarize(viaEngine),
      ratios: {
        plainToNative: round(p50(plain)! / p50(native)!), fuelToPlain: round(p50(fueled)! / p50(plain)!),
        asyncifyToPlain: asyncify === undefined ? null : round(p50(asyncify)! / p50(plain)!), engineToNative: round(p50(viaEngine)! / p50(native)!),
      },
    };
    speed.push(row);
    console.log(`${row.workload}: native ${p50(native)} ms, wasm ${p50(plain)} ms, fuel ${p50(fueled)} ms (${row.ratios.fuelToPlain}× wasm), asyncify ${p50(asyncify)} ms (${row.ratios.asyncifyToPlain}× wasm), engine ${p50(viaEngine)} ms CPU (${row.ratios.engineToNative}× native)`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
  await engine.close();
}

// 4. JSPI switch: a spinning function sliced every 0.05 ms; cost per suspend + resume.
const switchEngine = await Engine.open({ plugins: [cPlugin()], sliceMs: 0.05 });
await switchEngine.deploy('spin', 'c', await example('spin.c'), { cpuMs: args.quick ? 200 : 1000 });
const spinStats = switchEngine.stats().scheduler;
const spun = await switchEngine.invoke('spin', new Uint8Array());
const slices = switchEngine.stats().scheduler.slices - spinStats.slices;
await switchEngine.close();
console.log(`JSPI: ${slices} slices of a spinning C function in ${spun.usage.cpuMs} ms CPU`);

await writeResult(args.out, {
  experiment: 'c-wasm', quick: args.quick, machine: header, repeat, compile,
  coldStartUs: summarize(cold), warmInvocationUs: summarize(warm), warmPerSecondConcurrency64: warmPerSecond64,
  speed, jspi: { slices, cpuMs: spun.usage.cpuMs },
});

/**
 * Runs __sb_entry on a fresh instance `times` times (after 3 warm-up runs, so V8 has tiered the
 * code up from its baseline compiler), fuel never running out; returns ms per call.
 */
function runDirect (bytes: Uint8Array, input: string, times: number): number[] {
  const module = new WebAssembly.Module(bytes);
  const samples: number[] = [];
  const data = Buffer.from(input);
  for (let i = -3; i < times; i++) {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
    const view = (): Uint8Array => new Uint8Array(memory.buffer);
    const noop = (): number => 0;
    const instance = new WebAssembly.Instance(module, {
      env: { memory },
      springbok: { read_input: (p: number, n: number) => { view().set(data.subarray(0, n), p); }, output: noop, log: noop, done: noop, memory_refused: noop, fuel: () => 1 << 30, suspend: () => { throw new Error('no suspension in this run'); }, fetch: noop },
      wasi_snapshot_preview1: { fd_write: noop, fd_close: noop, fd_seek: noop, fd_fdstat_get: noop, proc_exit: noop, environ_sizes_get: noop, environ_get: noop, args_sizes_get: noop, args_get: noop, clock_time_get: noop, random_get: noop },
    });
    const entry = instance.exports.__sb_entry as (length: number) => void;
    const startedAt = performance.now();
    entry(data.byteLength);
    if (i >= 0) samples.push(performance.now() - startedAt);
  }
  return samples;
}

function round (x: number): number {
  return Math.round(x * 100) / 100;
}
