import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineError } from '../../engine/errors.ts';
import { runTool, type ToolLimits } from './run-tool.ts';
import { kProjectRoot, type Toolchain } from './toolchain.ts';

export type SourceKind = 'c' | 'llvm';

const kRuntimeSource = join(kProjectRoot, 'plugins', 'wasm', 'runtime', 'runtime.c');
const kStackBytes = 64 * 1024;

/**
 * Builds a linked wasm32 module from C source or LLVM IR (text or bitcode), out of process:
 *   c:    clang --target=wasm32-wasi -O2 -c  (source and runtime.c)      → objects
 *   llvm: llc -march=wasm32 -filetype=obj                                  → object
 *   both: wasm-ld with runtime.o, wasi-libc and compiler-rt, memory imported, stack first
 * The stack sits below the data, so a stack overflow runs below address 0 and traps instead of
 * overwriting globals.
 * @throws {EngineError} ERR_COMPILE with the compiler's own message.
 */
export async function buildModule (kind: SourceKind, source: Uint8Array, toolchain: Toolchain, limits: ToolLimits): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'springbok-build-'));
  try {
    const objects: string[] = [];
    if (kind === 'c') {
      await writeFile(join(dir, 'function.c'), source);
      await step(toolchain.clang, ['--target=wasm32-wasi', `--sysroot=${toolchain.sysroot}`, '-O2', '-fno-exceptions', '-ferror-limit=20', `-I${toolchain.includeDir}`, '-c', 'function.c', kRuntimeSource], limits, dir, 'clang');
      objects.push('function.o', 'runtime.o');
    } else {
      const isBitcode = source[0] === 0x42 && source[1] === 0x43 && source[2] === 0xc0 && source[3] === 0xde;
      const input = isBitcode ? 'function.bc' : 'function.ll';
      if (!isBitcode) checkTextTriple(source);
      await writeFile(join(dir, input), source);
      await step(toolchain.llc, ['-march=wasm32', '-mtriple=wasm32-unknown-wasi', '-O2', '-filetype=obj', input, '-o', 'function.o'], limits, dir, 'llc');
      await step(toolchain.clang, ['--target=wasm32-wasi', `--sysroot=${toolchain.sysroot}`, '-O2', '-c', kRuntimeSource, '-o', 'runtime.o'], limits, dir, 'clang');
      objects.push('function.o', 'runtime.o');
    }
    await step(toolchain.wasmLd, [
      ...objects, `-L${toolchain.libDir}`, '-lc', toolchain.builtins,
      '--no-entry', '--import-memory', '--stack-first', '-z', `stack-size=${kStackBytes}`, '--strip-debug', '-o', 'function.wasm',
    ], limits, dir, 'wasm-ld');
    return new Uint8Array(await readFile(join(dir, 'function.wasm')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function step (command: string, args: string[], limits: ToolLimits, cwd: string, label: string): Promise<void> {
  const result = await runTool(command, args, limits, cwd);
  if (result.code !== 0) {
    const message = `${result.stderr}${result.stdout}`.trim() || `${label} failed with exit code ${result.code}`;
    throw new EngineError('ERR_COMPILE', `${label}: ${message}`);
  }
}

/** A text module that names a target must name wasm32: IR written for another target is not portable to it. */
function checkTextTriple (source: Uint8Array): void {
  const head = Buffer.from(source.subarray(0, 64 * 1024)).toString('utf8');
  const triple = /^\s*target\s+triple\s*=\s*"([^"]*)"/m.exec(head)?.[1];
  if (triple !== undefined && !triple.startsWith('wasm32')) {
    throw new EngineError('ERR_COMPILE', `the IR targets ${JSON.stringify(triple)}; springbok runs wasm32 IR (target triple "wasm32-unknown-wasi"; see doc/c.md for producing it with clang)`);
  }
}
