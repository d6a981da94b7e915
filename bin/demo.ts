#!/usr/bin/env node
/**
 * The main job, end to end: starts an engine on a temporary socket and data dir, deploys the
 * example functions of every language with the real CLI, executes them, runs a flow over three of
 * them, shows a budget stopping a runaway function while its neighbour answers, then stops the engine.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { findToolchain } from '../plugins/wasm/toolchain.ts';

const root = new URL('../', import.meta.url).pathname;
const cli = join(root, 'bin', 'springbok.ts');

interface Step {
  readonly args: string[];
  /** A step that is meant to fail (a budget demonstration) exits 1. */
  readonly expectExit?: number;
  /** Needs the C/LLVM toolchain (Debian packages); skipped with a note when it is absent. */
  readonly needsToolchain?: boolean;
  /** Given on standard input (a deploy of `-`): the small runaway functions are written inline. */
  readonly stdin?: string;
}

const steps: Step[] = [
  { args: ['deploy', 'sm', 'sum', 'examples/sm/sum.sm', '--cpu-ms', '100'] },
  { args: ['deploy', 'sm', 'fib', 'examples/sm/fib.sm'] },
  { args: ['deploy', 'sm', 'hello', 'examples/sm/hello.sm'] },
  { args: ['deploy', 'sm', 'spin', 'examples/sm/spin.sm', '--cpu-ms', '50'] },
  { args: ['deploy', 'sm', 'alloc-bomb', 'examples/sm/alloc-bomb.sm', '--memory-mb', '1'] },
  { args: ['deploy', 'c', 'c-fib', 'examples/c/fib.c'], needsToolchain: true },
  { args: ['deploy', 'c', 'c-primes', 'examples/c/primes.c'], needsToolchain: true },
  { args: ['deploy', 'c', 'c-words', 'examples/c/words.c'], needsToolchain: true },
  { args: ['deploy', 'c', 'c-spin', 'examples/c/spin.c', '--cpu-ms', '100'], needsToolchain: true },
  { args: ['deploy', 'c', 'c-bomb', 'examples/c/malloc-bomb.c', '--memory-mb', '8'], needsToolchain: true },
  { args: ['deploy', 'llvm', 'collatz', 'examples/llvm/collatz.ll'], needsToolchain: true },
  { args: ['deploy', 'lua', 'lua-fib', 'examples/lua/fib.lua'] },
  { args: ['deploy', 'lua54', 'lua54-fib', 'examples/lua/fib.lua'] },
  { args: ['deploy', 'lua', 'lua-generator', 'examples/lua/generator.lua'] },
  { args: ['deploy', 'lua54', 'lua54-sort', 'examples/lua/sort.lua'] },
  { args: ['deploy', 'lua', 'lua-spin', '-', '--cpu-ms', '100'], stdin: 'return function () while true do pcall(function () while true do end end) end end' },
  { args: ['deploy', 'lua54', 'lua54-bomb', '-', '--memory-mb', '16'], stdin: "return function () local s = 'x' while true do s = s .. s end end" },
  { args: ['deploy', 'js', 'js-sha256', 'examples/js/sha256.js'] },
  { args: ['deploy', 'js', 'js-shapes', 'examples/js/shapes.js'] },
  { args: ['deploy', 'js', 'js-spin', '-', '--cpu-ms', '100'], stdin: 'export default function () { for (;;) {} }' },
  { args: ['deploy', 'js', 'js-worker', 'examples/js/worker.js', '--env', 'GREETING=bonjour'] },
  { args: ['deploy', 'quickjs', 'qjs-sha256', 'examples/js/sha256.js'] },
  { args: ['deploy', 'quickjs', 'qjs-async', 'examples/js/async-chain.js'] },
  { args: ['deploy', 'quickjs', 'qjs-bomb', '-', '--memory-mb', '16'], stdin: 'export default function () { const parts = []; for (;;) parts.push("x".repeat(1 << 16) + parts.length); }' },
  { args: ['deploy', 'js', 'words', 'examples/flows/words.js'] },
  { args: ['deploy', 'lua', 'word-score', 'examples/flows/word-score.lua'] },
  { args: ['deploy', 'js', 'word-report', 'examples/flows/word-report.js'] },
  { args: ['deploy', 'flow', 'word-scores', 'examples/flows/word-scores.json', '--wall-ms', '5000'] },
  { args: ['deploy', 'js', 'visit-counter', 'examples/js/visit-counter.js'] },
  { args: ['deploy', 'lua', 'shout', 'examples/lua/shout.lua', '--allow-invoke', 'visit-counter'] },
  { args: ['deploy', 'js', 'fan-out', 'examples/js/fan-out.js', '--allow-invoke', 'lua-fib', '--invoke-calls', '4'] },
  { args: ['deploy', 'c', 'kv-counter', 'examples/c/kv-counter.c'], needsToolchain: true },
  { args: ['list'] },
  { args: ['execute', 'hello', 'world'] },
  { args: ['execute', 'sum', '100'] },
  { args: ['execute', 'fib', '20'] },
  { args: ['execute', 'spin'], expectExit: 1 },
  { args: ['execute', 'alloc-bomb'], expectExit: 1 },
  { args: ['execute', 'lua-fib', '20'] },
  { args: ['execute', 'lua54-fib', '20'] },
  { args: ['execute', 'lua-generator', '10'] },
  { args: ['execute', 'lua54-sort', '5 3 9 1'] },
  { args: ['execute', 'lua-spin'], expectExit: 1 },
  { args: ['execute', 'lua54-bomb'], expectExit: 1 },
  { args: ['execute', 'js-sha256', 'abc'] },
  { args: ['execute', 'js-shapes', '[{"kind":"circle","r":1},{"kind":"rectangle","w":2,"h":3},{"kind":"square","side":2}]'] },
  { args: ['execute', 'js-spin'], expectExit: 1 },
  { args: ['execute', 'js-worker', 'a worker, over the socket'] },
  { args: ['execute', 'qjs-sha256', 'abc'] },
  { args: ['execute', 'qjs-async', 'three small words'] },
  { args: ['execute', 'qjs-bomb'], expectExit: 1 },
  { args: ['execute', 'word-scores', 'The quick brown fox jumps over the lazy dog'] },
  { args: ['execute', 'word-scores', 'a flow reports each step', '--json'] },
  { args: ['execute', 'visit-counter', 'ada'] },
  { args: ['execute', 'visit-counter', 'ada'] },
  { args: ['execute', 'shout', 'ada', '--json'] },
  { args: ['execute', 'fan-out', '[10,15,20]'] },
  { args: ['execute', 'fan-out', '[1,2,3,4,5]'], expectExit: 1 },
  { args: ['execute', 'kv-counter', 'clicks'], needsToolchain: true },
  { args: ['execute', 'kv-counter', 'clicks'], needsToolchain: true },
  { args: ['execute', 'c-fib', '30'], needsToolchain: true },
  { args: ['execute', 'c-primes', '1000000'], needsToolchain: true },
  { args: ['execute', 'c-words', 'hello big world', '--logs'], needsToolchain: true },
  { args: ['execute', 'collatz', '27'], needsToolchain: true },
  { args: ['execute', 'c-spin'], expectExit: 1, needsToolchain: true },
  { args: ['execute', 'c-bomb'], expectExit: 1, needsToolchain: true },
  { args: ['execute', 'sum', '1000', '-n', '2000', '--concurrency', '64'] },
  { args: ['execute', 'c-fib', '20', '-n', '2000', '--concurrency', '64'], needsToolchain: true },
  { args: ['execute', 'fib', '15', '--json'] },
  { args: ['stats'] },
];

function run (args: string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [cli, ...args], { cwd: root, env, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (stdin !== undefined) child.stdin!.end(stdin);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  return once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
}

const dir = await mkdtemp(join(tmpdir(), 'springbok-demo-'));
const socket = join(dir, 'engine.sock');
const env = { ...process.env, SPRINGBOK_SOCKET: socket };
const engine = spawn(process.execPath, [cli, 'serve', '--socket', socket, '--data-dir', join(dir, 'data')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
let failures = 0;
try {
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (!seen.includes('springbok ready')) return;
      engine.stdout.off('data', onData);
      engine.stdout.resume();
      process.stdout.write(`$ springbok serve --socket ${socket} --data-dir ${join(dir, 'data')} &\n${seen}\n`);
      resolve();
    };
    engine.stdout.on('data', onData);
    engine.once('exit', (code) => reject(new Error(`the engine exited with ${code} before it was ready`)));
  });
  const toolchain = findToolchain();
  for (const step of steps) {
    if (step.needsToolchain === true && 'missing' in toolchain) {
      process.stdout.write(`$ springbok ${step.args.join(' ')}\n[skipped: ${toolchain.missing}]\n\n`);
      continue;
    }
    const { code, stdout, stderr } = await run(step.args, env, step.stdin);
    process.stdout.write(`${step.stdin === undefined ? '' : `$ cat <<'EOF' | `}${step.stdin === undefined ? '$ ' : ''}springbok ${step.args.join(' ')}\n${step.stdin === undefined ? '' : `${step.stdin}\nEOF\n`}${stdout}${stdout.endsWith('\n') || stdout === '' ? '' : '\n'}${stderr}`);
    const expected = step.expectExit ?? 0;
    process.stdout.write(`[exit ${code}${code === expected ? '' : `, expected ${expected}`}]\n\n`);
    if (code !== expected) failures++;
  }
} finally {
  engine.kill('SIGTERM');
  await once(engine, 'exit').catch(() => {});
  await rm(dir, { recursive: true, force: true });
}
process.stdout.write(failures === 0 ? 'demo finished: every step behaved as expected\n' : `demo finished: ${failures} step(s) did not behave as expected\n`);
process.exitCode = failures === 0 ? 0 : 1;
