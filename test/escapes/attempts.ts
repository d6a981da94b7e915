/**
 * Escape attempts: each tries to reach something outside the function (the host's files, processes,
 * environment, network, the engine's sockets, other functions' or invocations' data, time, memory
 * outside its own) and must fail with a clear error, or find nothing. The test runs every row through
 * the real engine; `node test/escapes/print-table.ts` prints the table kept in doc/security.md.
 */
export interface EscapeAttempt {
  readonly language: string;
  readonly attempt: string;
  readonly source: string;
  readonly input?: string;
  readonly budget?: Record<string, unknown>;
  /** The deploy is refused with ERR_COMPILE matching this. */
  readonly deployError?: RegExp;
  /** The invocation fails with this code (and message pattern). */
  readonly code?: string;
  readonly message?: RegExp;
  /** The invocation succeeds with exactly this output (the attempt found nothing). */
  readonly output?: string;
  /** Deployed and invoked once before the attempt, as another function (name "other") or an earlier invocation. */
  readonly before?: { readonly source: string, readonly sameFunction?: boolean };
}

const c = (body: string): string => `#include <springbok.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n${body}\n`;
const out = 'sb_output(text, strlen(text))';

export const kEscapeAttempts: EscapeAttempt[] = [
  // sm: no host interface at all; what is left is resources.
  { language: 'sm', attempt: 'heap address out of range', source: 'push 1\npush -1\nstore\n', code: 'ERR_TRAP', message: /address/ },
  { language: 'sm', attempt: 'store at 1e12 to allocate the host\'s memory', source: 'push 1\npush 1e12\nstore\n', code: 'ERR_MEMORY_BUDGET' },
  { language: 'sm', attempt: 'unbounded recursion', source: 'f: call f\n', budget: { memoryBytes: 1 << 20 }, code: 'ERR_MEMORY_BUDGET' },
  { language: 'sm', attempt: 'infinite loop', source: 'l: jmp l\n', budget: { cpuMs: 50 }, code: 'ERR_CPU_BUDGET' },
  { language: 'sm', attempt: 'output bomb', source: 'l: outs "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"\njmp l\n', budget: { memoryBytes: 1 << 20 }, code: 'ERR_MEMORY_BUDGET' },
  { language: 'sm', attempt: 'jump outside the program', source: 'jmp nowhere\n', deployError: /undefined label/ },

  // C: WASI and libc calls that would reach the host are not linked in, or answer nothing.
  { language: 'c', attempt: 'fopen("/etc/passwd")', source: c('int handler(const char *in, size_t len) { FILE *f = fopen("/etc/passwd", "r"); return f == NULL; }'), deployError: /wasi_snapshot_preview1\.\w+, which springbok does not provide/ },
  { language: 'c', attempt: 'opendir("/")', source: c('#include <dirent.h>\nint handler(const char *in, size_t len) { return opendir("/") == NULL; }'), deployError: /wasi_snapshot_preview1\.\w+, which springbok does not provide/ },
  { language: 'c', attempt: 'system("id")', source: c('int system(const char *);\nint handler(const char *in, size_t len) { return system("id"); }'), deployError: /undefined symbol: system/ },
  { language: 'c', attempt: 'a host function that is not offered (env.system)', source: c('__attribute__((import_module("env"), import_name("system"))) int host_system(const char *);\nint handler(const char *in, size_t len) { return host_system("id"); }'), deployError: /imports env\.system/ },
  { language: 'c', attempt: 'a WASI socket call (sock_accept)', source: c('__attribute__((import_module("wasi_snapshot_preview1"), import_name("sock_accept"))) int sock_accept(int, int, int *);\nint handler(const char *in, size_t len) { int fd; return sock_accept(3, 0, &fd); }'), deployError: /sock_accept, which springbok does not provide/ },
  { language: 'c', attempt: 'getenv("HOME") and argv', source: c('int handler(const char *in, size_t len) { const char *home = getenv("HOME"); char text[64]; snprintf(text, sizeof text, "%s", home ? home : "none"); ' + out + '; return 0; }'), output: 'none' },
  { language: 'c', attempt: 'write to fd 3 (a file descriptor the host might hold)', source: c('#include <unistd.h>\nint handler(const char *in, size_t len) { char text[16]; snprintf(text, sizeof text, "%ld", (long)write(3, "x", 1)); ' + out + '; return 0; }'), output: '-1' },
  { language: 'c', attempt: 'read far outside linear memory', source: c('int handler(const char *in, size_t len) { volatile int *p = (int *)0xfffffff0u; return *p; }'), code: 'ERR_TRAP', message: /out of bounds/ },
  { language: 'c', attempt: 'hand the host a pointer outside memory (sb_output)', source: c('int handler(const char *in, size_t len) { sb_output((const void *)0xfffff000u, 4096); return 0; }'), code: 'ERR_TRAP', message: /outside the \d+-byte memory/ },
  { language: 'c', attempt: 'data left by an earlier invocation', before: { source: '', sameFunction: true }, source: c('static int counter;\nint handler(const char *in, size_t len) { char text[16]; snprintf(text, sizeof text, "%d", counter++); ' + out + '; return 0; }'), output: '0' },
  { language: 'c', attempt: 'scan the whole memory for another function\'s secret', before: { source: c('static char secret[] = "TOPSECRET-OTHER";\nint handler(const char *in, size_t len) { sb_output(secret, 4); return 0; }') }, source: c('int handler(const char *in, size_t len) { size_t size = __builtin_wasm_memory_size(0) * 65536; const char *m = 0; for (size_t i = 0; i + 15 < size; i++) if (memcmp(m + i, "TOPSECRET-OTHER", 15) == 0 && m + i != (const char *)"TOPSECRET-OTHER") { sb_output("found", 5); return 0; } sb_output("clean", 5); return 0; }'), output: 'clean' },
  { language: 'c', attempt: 'grow memory past the budget directly', budget: { memoryBytes: 4 << 20 }, source: c('int handler(const char *in, size_t len) { char text[16]; snprintf(text, sizeof text, "%d", (int)__builtin_wasm_memory_grow(0, 1000)); ' + out + '; return 0; }'), output: '-1' },
  { language: 'c', attempt: 'a clock fine enough to time other tenants', source: c('#include <time.h>\nint handler(const char *in, size_t len) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); char text[16]; snprintf(text, sizeof text, "%ld", t.tv_nsec % 1000000); ' + out + '; return 0; }'), output: '0' },
  { language: 'c', attempt: 'unbounded recursion', source: c('static int down(volatile int n) { volatile char pad[512]; pad[0] = (char)n; return down(n + 1) + pad[0]; }\nint handler(const char *in, size_t len) { return down(0); }'), code: 'ERR_TRAP' },
  { language: 'c', attempt: 'SIMD code the meter cannot count', source: c('#include <wasm_simd128.h>\nint handler(const char *in, size_t len) { v128_t v = wasm_v128_load(in); return wasm_i32x4_extract_lane(wasm_i32x4_add(v, v), 0); }'), deployError: /simd128/i },
  { language: 'c', attempt: 'reach the network without the engine (connect)', source: c('#include <sys/socket.h>\nint handler(const char *in, size_t len) { return connect(0, 0, 0); }'), deployError: /./ },
  { language: 'c', attempt: 'sb_fetch to a host not on the allow-list', source: c('int handler(const char *in, size_t len) { sb_fetch_request r = { "http://169.254.169.254/", 23 }; char b[8]; sb_fetch_response s = { 0, 0, 0, 0, b, 8, 0 }; char text[8]; snprintf(text, sizeof text, "%d", (int)sb_fetch(&r, &s)); ' + out + '; return 0; }'), output: '-1' },

  // LLVM IR: the same import and target checks as C.
  { language: 'llvm', attempt: 'IR importing a host function that is not offered', source: 'target triple = "wasm32-unknown-wasi"\ndeclare i32 @spawn(i8*) #0\ndefine i32 @handler(i8* %p, i32 %n) {\n  %r = call i32 @spawn(i8* %p)\n  ret i32 %r\n}\nattributes #0 = { "wasm-import-module"="env" "wasm-import-name"="spawn" }\n', deployError: /imports env\.spawn/ },
  { language: 'llvm', attempt: 'IR for the host\'s own architecture', source: 'target triple = "x86_64-pc-linux-gnu"\ndefine i32 @handler(i8* %p, i32 %n) {\n  ret i32 0\n}\n', deployError: /targets "x86_64-pc-linux-gnu"/ },
  { language: 'llvm', attempt: 'IR reading outside memory', source: 'target triple = "wasm32-unknown-wasi"\ndefine i32 @handler(i8* %p, i32 %n) {\n  %a = inttoptr i32 4294967280 to i32*\n  %v = load volatile i32, i32* %a\n  ret i32 %v\n}\n', code: 'ERR_TRAP' },

  // JavaScript, on both engines (V8 isolates and QuickJS).
  ...bothJsEngines([
    { attempt: 'process, require, module', source: 'export default function () { return [typeof process, typeof require, typeof module].join(","); }', output: 'undefined,undefined,undefined' },
    { attempt: 'Function("return this")() to the host global', source: 'export default function () { const g = Function("return this")(); return [typeof g.process, typeof g.require, typeof g.Buffer].join(","); }', output: 'undefined,undefined,undefined' },
    { attempt: 'constructor chain from ctx.fetch to a host Function', source: 'export default function (input, ctx) { return ctx.fetch.constructor("return typeof process")(); }', output: 'undefined' },
    { attempt: 'constructor chain from console.log', source: 'export default function () { return console.log.constructor("return typeof require")(); }', output: 'undefined' },
    { attempt: 'dynamic import("fs")', source: 'export default async function () { return await import("fs"); }', deployError: /import/ },
    { attempt: 'static import of node:child_process', source: 'import { execSync } from "node:child_process";\nexport default function () { return execSync("id"); }', deployError: /import/ },
    { attempt: 'SharedArrayBuffer / Atomics.wait to block the host', source: 'export default function () { return [typeof SharedArrayBuffer, typeof Atomics].join(","); }', output: 'undefined,undefined' },
    { attempt: 'WebAssembly inside the engine', source: 'export default function () { return typeof WebAssembly; }', output: 'undefined' },
    { attempt: 'a timer beyond the wall-clock budget', source: 'export default async function () { await new Promise((resolve) => setTimeout(resolve, 60000)); return "woke"; }', budget: { wallMs: 200 }, code: 'ERR_WALL_TIMEOUT' },
    { attempt: 'prototype pollution seen by another function', before: { source: 'export default function () { Object.prototype.polluted = "yes"; Array.prototype.map = null; return "done"; }' }, source: 'export default function () { return String(({}).polluted) + "," + typeof [].map; }', output: 'undefined,function' },
    { attempt: 'replace JSON.stringify to forge the output encoding', source: 'export default function () { JSON.stringify = () => "forged"; return { real: 1 }; }', output: '{"real":1}' },
    { attempt: 'deep recursion', source: 'export default function () { const f = (n) => f(n + 1) + 1; return f(0); }', code: 'ERR_FUNCTION', message: /stack/i },
    { attempt: 'infinite loop', source: 'export default function () { for (;;) {} }', budget: { cpuMs: 100 }, code: 'ERR_CPU_BUDGET' },
    { attempt: 'single huge allocation', source: 'export default function () { return new Array(5e7).fill(0).length; }', budget: { memoryBytes: 16 << 20 }, code: 'ERR_MEMORY_BUDGET' },
    { attempt: 'ctx.fetch to cloud metadata (169.254.169.254)', source: 'export default async function (input, ctx) { try { await ctx.fetch("http://169.254.169.254/"); return "reached"; } catch (error) { return error.code; } }', output: 'ERR_NETWORK_BUDGET' },
  ]),
  ...bothLuaEngines([
    { attempt: "os.execute('id')", source: "return function () return os.execute('id') end", code: 'ERR_FUNCTION', message: /os\.execute is not available/ },
    { attempt: "io.open('/etc/passwd')", source: "return function () return io.open('/etc/passwd'):read('a') end", code: 'ERR_FUNCTION', message: /io.* not available/ },
    { attempt: "require('os') / package.loadlib", source: "return function () return require('os') end", code: 'ERR_FUNCTION', message: /require.* not available/ },
    { attempt: 'dofile / loadfile', source: "return function () return dofile('/etc/passwd') end", code: 'ERR_FUNCTION', message: /dofile.* not available/ },
    { attempt: "os.getenv('HOME')", source: "return function () return os.getenv('HOME') end", code: 'ERR_FUNCTION', message: /os\.getenv is not available/ },
    { attempt: 'debug.sethook to switch off the meter', source: 'return function () debug.sethook() while true do end end', budget: { cpuMs: 100 }, code: 'ERR_FUNCTION', message: /debug.* not available/ },
    { attempt: 'string.dump to make bytecode', source: 'return function () return string.dump(print) end', code: 'ERR_FUNCTION', message: /string\.dump.* not available/ },
    { attempt: 'load of a binary chunk', source: "return function () local f = load('\\27Lua\\84\\0') return f == nil and 'blocked' or 'open' end", output: 'blocked' },
    { attempt: 'string metatable __index changed by another function', before: { source: "return function () getmetatable('').__index = function () return function () return 'pwned' end end return 'done' end" }, source: "return function () return ('x'):upper() end", output: 'X' },
    { attempt: 'globals left by an earlier invocation', before: { source: '', sameFunction: true }, source: "return function () local previous = leaked leaked = 'yes' return tostring(previous) end", output: 'nil' },
    { attempt: 'infinite loop inside pcall, caught and retried', source: 'return function () while true do pcall(function () while true do end end) end end', budget: { cpuMs: 100 }, code: 'ERR_CPU_BUDGET' },
    { attempt: 'infinite loop in a guest coroutine', source: 'return function () local co = coroutine.create(function () while true do end end) coroutine.resume(co) end', budget: { cpuMs: 100 }, code: 'ERR_CPU_BUDGET' },
    { attempt: 'infinite loop in a table.sort comparator', source: 'return function () table.sort({ 3, 2, 1 }, function () while true do end end) end', budget: { cpuMs: 100 }, code: 'ERR_CPU_BUDGET' },
    { attempt: 'infinite loop in a gsub callback', source: "return function () return (('abc'):gsub('.', function () while true do end end)) end", budget: { cpuMs: 100 }, code: 'ERR_CPU_BUDGET' },
    { attempt: 'a pattern match that backtracks for ever (one C call, no hook)', source: "return function () return (('a'):rep(10000):find('.-.-.-.-b')) end", budget: { cpuMs: 500 }, code: 'ERR_CPU_BUDGET' },
    { attempt: 'string doubling bomb', source: "return function () local s = 'x' while true do s = s .. s end end", budget: { memoryBytes: 16 << 20 }, code: 'ERR_MEMORY_BUDGET' },
    { attempt: 'ctx.fetch to cloud metadata (169.254.169.254)', source: "return function (input, ctx) local ok, err = pcall(ctx.fetch, 'http://169.254.169.254/') return ok and 'reached' or tostring(err):match('ERR_[A-Z_]+') end", output: 'ERR_NETWORK_BUDGET' },
  ]),
];

function bothLuaEngines (attempts: Omit<EscapeAttempt, 'language'>[]): EscapeAttempt[] {
  return ['lua', 'lua54'].flatMap((language) => attempts.map((attempt) => ({ ...attempt, language })));
}

function bothJsEngines (attempts: Omit<EscapeAttempt, 'language'>[]): EscapeAttempt[] {
  return ['js', 'quickjs'].flatMap((language) => attempts.map((attempt) => ({ ...attempt, language })));
}
