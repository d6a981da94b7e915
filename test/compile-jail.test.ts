import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Engine, EngineError, type InvokeResult } from '../engine/index.ts';
import { cPlugin, llvmPlugin } from '../plugins/wasm/index.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { findPrlimit, type CompileRlimits } from '../plugins/wasm/compile-limits.ts';
import { kScratchInside, unjailed, type CompileJail } from '../plugins/wasm/jail.ts';
import { runTool, type ToolResult } from '../plugins/wasm/run-tool.ts';
import { example, runCli, startEngineProcess, temporaryDir } from './support/engine-process.ts';

const found = findToolchain();
const skip = 'missing' in found ? found.missing : false;
const jail = (): CompileJail => { assert.ok('toolchain' in found); return found.toolchain.jail; };
const hostCompiler = (): CompileJail => { assert.ok('toolchain' in found); return unjailed(found.toolchain, findPrlimit()); };
const kRlimits: CompileRlimits = { memoryBytes: 512 * 2 ** 20, fileBytes: 16 * 2 ** 20, cpuSeconds: 20 };
const kPasswdLine = /root:x?:0:0:/;

/** A secret that stands for another tenant's stored source: `<dir>/data/functions/victim.json`. */
async function plantSecret (dir: string): Promise<{ file: string, secret: string }> {
  const secret = `TENANT-SECRET-${Math.random().toString(36).slice(2)}`;
  await mkdir(join(dir, 'data', 'functions'), { recursive: true });
  const file = join(dir, 'data', 'functions', 'victim.json');
  await writeFile(file, JSON.stringify({ source: secret }));
  return { file, secret };
}

/**
 * Runs one tool through `runner` exactly as a build step does (same binds, rlimits, process
 * handling), with NO source filter: `files` are written into a fresh scratch dir first; each may be
 * a function of the scratch dir's host path (for paths relative to it).
 */
async function runStep (runner: CompileJail, tool: (view: CompileJail['view']) => string, args: string[], files: Record<string, string | ((dir: string) => string) | { copy: string }>, options: { timeoutMs?: number, signal?: AbortSignal, onStart?: (dir: string) => void } = {}): Promise<{ result?: ToolResult, error?: Error, output: (name: string) => Promise<Buffer> }> {
  const dir = await mkdtemp(join(tmpdir(), 'springbok-build-'));
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === 'object') await copyFile(content.copy, join(dir, name));
    else await writeFile(join(dir, name), typeof content === 'function' ? content(dir) : content, { mode: 0o755 });
  }
  const readOnly = Object.keys(files).filter((name) => name.endsWith('.c') || name.endsWith('.ll'));
  const { command, args: argv, cwd } = runner.command(dir, readOnly, tool(runner.view), args, kRlimits);
  options.onStart?.(dir);
  const files_ = new Map<string, Buffer>();
  try {
    const result = await runTool(command, argv, { timeoutMs: options.timeoutMs ?? 30_000, maxOutputBytes: 64 * 1024, signal: options.signal ?? new AbortController().signal }, cwd, 'step');
    for (const name of await readdir(dir)) files_.set(name, await readFile(join(dir, name)));
    return { result, output: async (name) => files_.get(name) ?? Buffer.alloc(0) };
  } catch (error) {
    return { error: error as Error, output: async () => Buffer.alloc(0) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** 2^40 inclusions of itself in constant memory: a compile that runs until it is killed. */
const kIncludeBomb = '#if __INCLUDE_LEVEL__ < 40\n#include "function.c"\n#include "function.c"\n#endif\nint handler(void) { return 0; }\n';
const clangC = (view: CompileJail['view']): string => view.clang;
const clangArgs = (view: CompileJail['view']): string[] => ['--target=wasm32-wasi', `--sysroot=${view.sysroot}`, `-I${view.includeDir}`, '-fno-crash-diagnostics', '-c', 'function.c', '-o', 'function.o'];
const incbin = (path: string): string => `__asm__(".section .rodata.leak,\\"\\",@\\n.globl leak\\nleak:\\n.incbin \\"${path}\\"\\n.size leak, .-leak\\n");\nint handler(void) { return 0; }\n`;

test('the jail, not only the filter: .incbin and #include of host files find nothing inside it (and do outside it)', { skip }, async () => {
  await using dir = await temporaryDir();
  const { file: secretFile, secret } = await plantSecret(dir.path);
  const attempts: [string, string | ((scratch: string) => string)][] = [
    ['.incbin "/etc/passwd"', incbin('/etc/passwd')],
    ['.incbin "/proc/self/root/etc/passwd"', incbin('/proc/self/root/etc/passwd')],
    ['.incbin "/proc/1/environ"', incbin('/proc/1/environ')],
    ['.incbin of the data dir by absolute path', incbin(secretFile)],
    ['.incbin of the data dir by a path relative to the build dir', (scratch) => incbin(relative(scratch, secretFile))],
    ['#include "/etc/hostname"', '#include "/etc/hostname"\n'],
    ['#include of the data dir by a relative path', (scratch) => `#include "${relative(scratch, secretFile)}"\n`],
    ['.incbin "/dev/zero"', incbin('/dev/zero')],
  ];
  for (const [what, source] of attempts) {
    const { result, output } = await runStep(jail(), clangC, clangArgs(jail().view), { 'function.c': source });
    assert.ok(result !== undefined);
    assert.notEqual(result.code, 0, `${what}: clang succeeded in the jail`);
    assert.match(result.stderr, /Could not find incbin file|file not found/, `${what}: ${result.stderr}`);
    assert.doesNotMatch(result.stderr, kPasswdLine);
    assert.ok(!result.stderr.includes(secret), `${what}: the secret surfaced in the compiler's message`);
    assert.equal((await output('function.o')).length, 0);
  }
  // The same relative-path source, on the host: proof that the attempt is real and the jail is what stops it.
  const { result, output } = await runStep(hostCompiler(), clangC, clangArgs(hostCompiler().view), { 'function.c': (scratch) => incbin(relative(scratch, secretFile)) });
  assert.equal(result?.code, 0, result?.stderr);
  assert.ok((await output('function.o')).includes(secret), 'unjailed, the secret is embedded in the object');

  const ir = (path: string): string => `target triple = "wasm32-unknown-wasi"\nmodule asm ".section .rodata.leak,\\22\\22,@"\nmodule asm ".incbin \\22${path}\\22"\ndefine i32 @handler(i8* %p, i32 %n) {\n  ret i32 0\n}\n`;
  for (const path of ['/etc/passwd', secretFile]) {
    const jailed = await runStep(jail(), (view) => view.llc, ['-march=wasm32', '-mtriple=wasm32-unknown-wasi', '-filetype=obj', 'function.ll', '-o', 'function.o'], { 'function.ll': ir(path) });
    assert.notEqual(jailed.result?.code, 0, `llc read ${path} in the jail`);
    assert.match(jailed.result?.stderr ?? '', /Could not find incbin file/);
  }
  const onHost = await runStep(hostCompiler(), (view) => view.llc, ['-march=wasm32', '-mtriple=wasm32-unknown-wasi', '-filetype=obj', 'function.ll', '-o', 'function.o'], { 'function.ll': ir(secretFile) });
  assert.ok((await onHost.output('function.o')).includes(secret), 'unjailed, llc embeds the secret');
});

test('inside the jail: only the toolchain, no /etc, /proc, /dev, /tmp or data dir, no other process, no network, no capabilities', { skip }, async () => {
  await using dir = await temporaryDir();
  const { file: secretFile } = await plantSecret(dir.path);
  // A real program (ls, bash) copied into the scratch dir runs with the very binds a compile gets.
  const listing = await runStep(jail(), () => `${kScratchInside}/ls`, ['-1', '/', '/usr', '/usr/lib'], { ls: { copy: '/usr/bin/ls' } });
  assert.equal(listing.result?.code, 0, listing.result?.stderr);
  const [root, usr, usrLib] = (listing.result?.stdout ?? '').split('\n\n').map((block) => block.split('\n').slice(1).filter(Boolean).sort());
  assert.deepEqual(root, ['build', 'lib', 'lib64', 'springbok', 'usr']);
  assert.deepEqual(usr, ['include', 'lib', ...(usr!.includes('lib64') ? ['lib64'] : [])]);
  assert.ok(usrLib!.every((name) => /^(llvm-\d+|wasm32-wasi|\w+-linux-gnu)$/.test(name)), `/usr/lib holds ${usrLib!.join(', ')}`);
  const absent = await runStep(jail(), () => `${kScratchInside}/ls`, ['/etc', '/proc', '/dev', '/tmp', '/sys', '/root', '/home', secretFile, join(dir.path, 'data')], { ls: { copy: '/usr/bin/ls' } });
  assert.notEqual(absent.result?.code, 0);
  assert.equal(absent.result?.stdout, '');
  assert.equal((absent.result?.stderr.match(/No such file or directory/g) ?? []).length, 9, absent.result?.stderr);

  await using server = await listen();
  const script = [
    'echo "pid=$$"',
    `kill -0 ${process.pid} 2>/dev/null && echo "sees-engine" || echo "no-engine"`,
    `(exec 3<>/dev/tcp/127.0.0.1/${server.port}) 2>/dev/null && echo "tcp-connected" || echo "tcp-refused"`,
    '(exec 3<>/dev/tcp/1.1.1.1/53) 2>/dev/null && echo "internet" || echo "no-internet"',
    'read -r caps < /proc/self/status 2>/dev/null && echo "proc" || echo "no-proc"',
    'echo "uid=$UID hostname=$HOSTNAME env="$(compgen -e)',
    'echo x > /usr/lib/x 2>/dev/null && echo "usr-writable" || echo "usr-read-only"',
    'echo x > /build/function.c 2>/dev/null && echo "source-writable" || echo "source-read-only"',
  ].join('\n');
  const jailed = await runStep(jail(), () => `${kScratchInside}/bash`, ['-c', script], { bash: { copy: '/bin/bash' }, 'function.c': 'int x;\n' });
  const said = jailed.result?.stdout ?? '';
  assert.match(said, /^pid=[12]$/m, 'bash is one of the first processes of its own pid namespace');
  assert.match(said, /^no-engine$/m);
  assert.match(said, /^tcp-refused$/m);
  assert.match(said, /^no-internet$/m);
  assert.match(said, /^no-proc$/m);
  assert.match(said, /^uid=65534 hostname=springbok-build env=/m);
  const environment = /^uid=.* env=(.*)$/m.exec(said)?.[1]?.split(' ') ?? [];
  assert.deepEqual(environment.filter((name) => !['HOME', 'LANG', 'OLDPWD', 'PATH', 'PWD', 'SHLVL', 'TMPDIR', '_'].includes(name)), [], 'a clean environment');
  assert.ok(environment.includes('TMPDIR'));
  assert.match(said, /^usr-read-only$/m);
  assert.match(said, /^source-read-only$/m);
  assert.equal(server.connections(), 0);
  // The same script on the host reaches the server: proof the probe can tell.
  const onHost = await runStep(hostCompiler(), () => './bash', ['-c', script], { bash: { copy: '/bin/bash' } });
  assert.match(onHost.result?.stdout ?? '', /^tcp-connected$/m);
  assert.match(onHost.result?.stdout ?? '', /^sees-engine$/m);
});

test('the source filter refuses every way of naming a host file, before any compiler runs, and leaks nothing', { skip }, async () => {
  await using engine = await Engine.open({ plugins: [cPlugin(), llvmPlugin()] });
  const c = (text: string): Buffer => Buffer.from(`#include <springbok.h>\n${text}\nint handler(const char *in, size_t len) { return 0; }\n`);
  const attempts: [string, 'c' | 'llvm', Buffer, RegExp][] = [
    ['.incbin in C inline asm', 'c', Buffer.from(incbin('/etc/passwd')), /\.incbin is refused/],
    ['.incbin split over adjacent literals', 'c', c('__asm__(".inc" /* x */ "bin \\"/etc/passwd\\"");'), /\.incbin is refused/],
    ['.incbin spelled with an escape', 'c', c('__asm__(".\\x69ncbin \\"/etc/passwd\\"");'), /\.incbin is refused/],
    ['.INCBIN in capitals', 'c', c('__asm__("x: .INCBIN \\"/etc/passwd\\"");'), /\.incbin is refused/],
    ['.incbin made by stringizing', 'c', c('#define S(x) #x\n__asm__(S(.incbin "/etc/passwd"));'), /"incbin" outside a string/],
    ['.include in inline asm', 'c', c('__asm__(".include \\"/etc/passwd\\"");'), /\.include is refused/],
    ['#include "/etc/passwd"', 'c', c('#include "/etc/passwd"'), /#include of "\/etc\/passwd" is refused/],
    ['#include <../../etc/passwd>', 'c', c('#include <../../etc/passwd>'), /#include of "\.\.\/\.\.\/etc\/passwd" is refused/],
    ['#include of the data dir by a relative path', 'c', c('#include "../../data/functions/x.json"'), /is refused/],
    ['#include through a line continuation and a comment', 'c', c('#/**/inc\\\nlude "/etc/passwd"'), /is refused/],
    ['%:include (digraph)', 'c', c('%:include "/proc/self/environ"'), /is refused/],
    ['#include of a macro', 'c', c('#define P "/etc/passwd"\n#include P'), /computed #include/],
    ['#include __FILE__', 'c', c('#include __FILE__'), /computed #include/],
    ['#include_next', 'c', c('#include_next <stdio.h>'), /#include_next is refused/],
    ['#import', 'c', c('#import "/etc/passwd"'), /#import of/],
    ['__has_include of a host path', 'c', c('#if __has_include("/etc/shadow")\nint shadow;\n#endif'), /__has_include of "\/etc\/shadow"/],
    ['#pragma GCC dependency', 'c', c('#pragma GCC dependency "/etc/passwd"'), /dependency is refused/],
    ['module asm .incbin in IR', 'llvm', Buffer.from('target triple = "wasm32-unknown-wasi"\nmodule asm ".incbin \\22/etc/passwd\\22"\ndefine i32 @handler(i8* %p, i32 %n) {\n  ret i32 0\n}\n'), /\.incbin is refused/],
    ['module asm .incbin spelled with an IR escape', 'llvm', Buffer.from('target triple = "wasm32-unknown-wasi"\nmodule asm "\\2Eincbin \\22/etc/passwd\\22"\ndefine i32 @handler(i8* %p, i32 %n) {\n  ret i32 0\n}\n'), /\.incbin is refused/],
    ['inline asm call with .incbin in IR', 'llvm', Buffer.from('target triple = "wasm32-unknown-wasi"\ndefine i32 @handler(i8* %p, i32 %n) {\n  call void asm sideeffect ".incbin \\22/etc/passwd\\22", ""()\n  ret i32 0\n}\n'), /\.incbin is refused/],
  ];
  for (const [what, language, source, pattern] of attempts) {
    await assert.rejects(engine.deploy('attempt', language, source), (error: unknown) => {
      assert.ok(error instanceof EngineError, what);
      assert.equal(error.code, 'ERR_COMPILE', what);
      assert.match(error.message, pattern, what);
      assert.doesNotMatch(error.message, kPasswdLine, what);
      return true;
    });
  }
  // No false positives: what real functions use still deploys.
  await engine.deploy('ok', 'c', c('#include <stdio.h>\n#include "springbok.h"\n#if __has_include(<string.h>)\n#include <string.h>\n#endif\nstruct s { int include; };\nstatic const char *text = "see file.include, and a .included word";\nint f(struct s v) { __asm__ volatile("" ::: "memory"); return v.include + (int)strlen(text); }'));
  for (const file of ['c/fib.c', 'c/chunks.c', 'c/malloc-bomb.c', 'c/matrix.c', 'c/primes.c', 'c/spin.c', 'c/words.c']) await engine.deploy(file.replace(/\W/g, '-'), 'c', await readFile(example(file)));
  await engine.deploy('collatz', 'llvm', await readFile(example('llvm/collatz.ll')));
  await engine.deploy('fetch', 'c', await readFile(new URL('./fixtures/fetch.c', import.meta.url)));
});

test('compile bombs end as ERR_COMPILE within their bounds while another function keeps answering', { skip }, async () => {
  const stepTimeoutMs = 4000;
  const options = { compileStepTimeoutMs: stepTimeoutMs, compileMemoryBytes: 512 * 2 ** 20, compileFileBytes: 16 * 2 ** 20 };
  await using engine = await Engine.open({ plugins: [cPlugin(options), llvmPlugin(options)] });
  await engine.deploy('echo', 'c', Buffer.from('#include <springbok.h>\nint handler(const char *in, size_t len) { sb_output(in, len); return 0; }\n'));
  let answering = true;
  const latencies: number[] = [];
  const failures: string[] = [];
  const responder = (async () => {
    for (let i = 0; answering; i++) {
      const startedAt = performance.now();
      const result: InvokeResult = await engine.invoke('echo', Buffer.from(`${i}`));
      latencies.push(performance.now() - startedAt);
      if (!result.ok || Buffer.from(result.output).toString() !== `${i}`) failures.push(result.ok ? 'wrong output' : result.error.code);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const bombs: [string, 'c' | 'llvm', string, RegExp][] = [
    ['macro explosion (10^12 tokens from 160 bytes)', 'c', '#define A(x) x x x x x x x x x x\n#define B(x) A(A(A(A(x))))\n#define C(x) B(B(B(x)))\nint a = C(1+) 1;\nint handler(void) { return a; }\n', /out of memory|memory limit|took longer/],
    ['include explosion (the source includes itself twice per level, 40 levels: 2^40 inclusions)', 'c', kIncludeBomb, /took longer than 4000 ms/],
    ['.zero 4000000000', 'c', '__asm__(".section .data.big,\\"\\",@\\nbig:\\n.zero 4000000000\\n");\nint handler(void) { return 0; }\n', /out of memory|memory limit|file size limit/],
    ['.fill 1000000000, 4', 'c', '__asm__(".section .data.big,\\"\\",@\\nbig:\\n.fill 1000000000, 4, 0x41414141\\n");\nint handler(void) { return 0; }\n', /out of memory|memory limit|file size limit|took longer/],
    ['module asm .zero 4000000000 in IR', 'llvm', 'target triple = "wasm32-unknown-wasi"\nmodule asm ".section .data.big,\\22\\22,@"\nmodule asm "big: .zero 4000000000"\ndefine i32 @handler(i8* %p, i32 %n) {\n  ret i32 0\n}\n', /out of memory|memory limit|file size limit/],
  ];
  try {
    for (const [what, language, source, pattern] of bombs) {
      const startedAt = performance.now();
      await assert.rejects(engine.deploy('bomb', language, Buffer.from(source)), (error: unknown) => {
        assert.ok(error instanceof EngineError && error.code === 'ERR_COMPILE', `${what}: ${String(error)}`);
        assert.match(error.message, pattern, what);
        return true;
      });
      const tookMs = performance.now() - startedAt;
      assert.ok(tookMs < 2 * stepTimeoutMs + 2000, `${what} took ${tookMs.toFixed(0)} ms with a ${stepTimeoutMs} ms step timeout`);
    }
  } finally {
    answering = false;
    await responder;
  }
  assert.deepEqual(failures, []);
  assert.ok(latencies.length > 20, `only ${latencies.length} answers`);
  assert.ok(Math.max(...latencies) < 1000, `slowest answer during the bombs: ${Math.max(...latencies).toFixed(0)} ms`);
});

test('nothing survives a timeout or an abort: the whole step is killed, jailed or not', { skip }, async () => {
  const bomb = kIncludeBomb;
  for (const [mode, runner] of [['jailed', jail()], ['unjailed', hostCompiler()]] as const) {
    for (const how of ['timeout', 'abort'] as const) {
      const marker = `SPRINGBOK_MARK_${Math.random().toString(36).slice(2)}`;
      const controller = new AbortController();
      let seenWhileRunning = 0;
      let scratch = '';
      const run = runStep(runner, clangC, [...clangArgs(runner.view), `-D${marker}`], { 'function.c': bomb }, {
        timeoutMs: how === 'timeout' ? 1500 : 30_000,
        signal: controller.signal,
        onStart: (dir) => {
          scratch = dir;
          setTimeout(() => {
            seenWhileRunning = processesMentioning([marker, dir]).length;
            if (how === 'abort') controller.abort(new Error('the deploy was abandoned'));
          }, 1000);
        },
      });
      const { error } = await run;
      assert.ok(error instanceof EngineError && error.code === 'ERR_COMPILE', `${mode} ${how}: ${String(error)}`);
      assert.match(error.message, how === 'timeout' ? /took longer than 1500 ms/ : /the deploy was abandoned/);
      assert.ok(seenWhileRunning >= 1, `${mode} ${how}: the scan found no compiler while it ran, so it proves nothing`);
      let left = processesMentioning([marker, scratch]);
      for (let i = 0; i < 20 && left.length > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        left = processesMentioning([marker, scratch]);
      }
      assert.deepEqual(left, [], `${mode} ${how}: processes survived`);
    }
  }
});

test('without a jail, c and llvm refuse to compile and say what is missing; other languages run; the unsafe switch warns', { skip }, async () => {
  assert.match((findToolchain({ ...process.env, SPRINGBOK_BWRAP: '/nonexistent/bwrap' }) as { missing: string }).missing, /bwrap is not installed; on Debian: apt-get install -y bubblewrap .*SPRINGBOK_UNSAFE_UNJAILED_COMPILER=1/);
  assert.match((findToolchain({ ...process.env, SPRINGBOK_BWRAP: '/bin/false' }) as { missing: string }).missing, /the compiler jail cannot be made here \(bwrap exited with 1\).*user namespaces/);
  assert.match((findToolchain({ ...process.env, SPRINGBOK_PRLIMIT: '/nonexistent/prlimit' }) as { missing: string }).missing, /prlimit, which is not installed/);
  assert.equal((findToolchain({ ...process.env, SPRINGBOK_BWRAP: '/nonexistent/bwrap', SPRINGBOK_UNSAFE_UNJAILED_COMPILER: '1' }) as { toolchain: { jailed: boolean } }).toolchain.jailed, false);

  await using dir = await temporaryDir();
  {
    await using engine = await startEngineProcess({ dir: dir.path, dataDir: join(dir.path, 'refusing'), env: { SPRINGBOK_BWRAP: '/nonexistent/bwrap' } });
    const env = { SPRINGBOK_SOCKET: engine.socketPath };
    const refused = await runCli(['deploy', 'c', 'fib', example('c/fib.c')], { env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ERR_COMPILE: .*bwrap is not installed; on Debian: apt-get install -y bubblewrap/);
    assert.equal((await runCli(['deploy', 'sm', 'sum', example('sm/sum.sm')], { env })).code, 0);
    assert.equal((await runCli(['execute', 'sum', '100'], { env })).stdout, '5050');
  }
  await using engine = await startEngineProcess({ dir: dir.path, dataDir: join(dir.path, 'unsafe'), env: { SPRINGBOK_BWRAP: '/nonexistent/bwrap', SPRINGBOK_UNSAFE_UNJAILED_COMPILER: '1' } });
  const env = { SPRINGBOK_SOCKET: engine.socketPath };
  assert.equal((await runCli(['deploy', 'c', 'fib', example('c/fib.c')], { env })).code, 0);
  assert.equal((await runCli(['execute', 'fib', '20'], { env })).stdout, '6765');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.match(engine.stderr(), /SPRINGBOK_UNSAFE_UNJAILED_COMPILER=1: C and LLVM functions are compiled WITHOUT the compiler jail/);
});

/** Host pids whose command line mentions any of `needles` (a unique marker, the build's scratch dir). */
function processesMentioning (needles: readonly string[]): number[] {
  const { readdirSync, readFileSync } = process.getBuiltinModule('node:fs');
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'latin1');
      if (needles.some((needle) => needle !== '' && commandLine.includes(needle))) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

async function listen (): Promise<{ port: number, connections: () => number } & AsyncDisposable> {
  let count = 0;
  const server = createServer((socket) => { count++; socket.destroy(); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { port: address.port, connections: () => count, [Symbol.asyncDispose]: async () => { server.close(); } };
}
