import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineError } from '../../engine/errors.ts';
import { checkSourceReadsNoHostFile } from './compile-filter.ts';
import { describeSignalExit, kDefaultCompileFileBytes, kDefaultCompileMemoryBytes, type CompileRlimits } from './compile-limits.ts';
import type { CompileJail } from './jail.ts';
import { runTool, type ToolLimits } from './run-tool.ts';
import type { Toolchain } from './toolchain.ts';

export type SourceKind = 'c' | 'llvm';

/** Limits of each compiler step: ToolLimits (time, output kept, abort) and the step's rlimits. */
export interface BuildLimits extends ToolLimits {
  /** Address space of each compiler process, in bytes (RLIMIT_AS). Default 1 GiB. */
  readonly memoryBytes?: number;
  /** Largest file a compiler may write, in bytes (RLIMIT_FSIZE). Default 64 MiB. */
  readonly fileBytes?: number;
}

const kStackBytes = 64 * 1024;

/**
 * Builds a linked wasm32 module from C source or LLVM IR (text or bitcode), out of process, each
 * step in the compiler jail (jail.ts) under rlimits:
 *   c:    clang --target=wasm32-wasi -O2 -c  (source and runtime.c)      → objects
 *   llvm: llc -march=wasm32 -filetype=obj                                  → object
 *   both: wasm-ld with runtime.o, wasi-libc and compiler-rt, memory imported, stack first
 * The source is first refused if it asks for a host file by path (compile-filter.ts); the jail is
 * what guarantees it finds none. The stack sits below the data, so a stack overflow runs below
 * address 0 and traps instead of overwriting globals.
 * @throws {EngineError} ERR_COMPILE with the compiler's own message.
 */
export async function buildModule (kind: SourceKind, source: Uint8Array, toolchain: Toolchain, limits: BuildLimits): Promise<Uint8Array> {
  checkSourceReadsNoHostFile(kind, source);
  const rlimits: CompileRlimits = {
    memoryBytes: limits.memoryBytes ?? kDefaultCompileMemoryBytes,
    fileBytes: limits.fileBytes ?? kDefaultCompileFileBytes,
    cpuSeconds: Math.ceil(limits.timeoutMs / 1000) + 1, // the wall-clock timeout normally comes first
  };
  const { jail } = toolchain;
  const tools = jail.view;
  const dir = await mkdtemp(join(tmpdir(), 'springbok-build-'));
  const step = (command: string, args: string[], readOnly: string[], label: string): Promise<void> => runStep(jail, { command, args, readOnly, label }, dir, limits, rlimits);
  try {
    const objects: string[] = [];
    if (kind === 'c') {
      await writeFile(join(dir, 'function.c'), source);
      await step(tools.clang, ['--target=wasm32-wasi', `--sysroot=${tools.sysroot}`, '-O2', '-fno-exceptions', '-ferror-limit=20', '-fno-crash-diagnostics', `-I${tools.includeDir}`, '-c', 'function.c', tools.runtimeSource], ['function.c'], 'clang');
      objects.push('function.o', 'runtime.o');
    } else {
      const isBitcode = source[0] === 0x42 && source[1] === 0x43 && source[2] === 0xc0 && source[3] === 0xde;
      const input = isBitcode ? 'function.bc' : 'function.ll';
      if (!isBitcode) checkTextTriple(source);
      await writeFile(join(dir, input), source);
      await step(tools.llc, ['-march=wasm32', '-mtriple=wasm32-unknown-wasi', '-O2', '-filetype=obj', input, '-o', 'function.o'], [input], 'llc');
      await step(tools.clang, ['--target=wasm32-wasi', `--sysroot=${tools.sysroot}`, '-O2', '-fno-crash-diagnostics', '-c', tools.runtimeSource, '-o', 'runtime.o'], [], 'clang');
      objects.push('function.o', 'runtime.o');
    }
    await step(tools.wasmLd, [
      ...objects, `-L${tools.libDir}`, '-lc', tools.builtins,
      '--no-entry', '--import-memory', '--stack-first', '-z', `stack-size=${kStackBytes}`, '--strip-debug', '-o', 'function.wasm',
    ], [], 'wasm-ld');
    return new Uint8Array(await readFile(join(dir, 'function.wasm')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Step {
  readonly command: string;
  readonly args: string[];
  /** Names in the scratch dir the step reads and may not change (the function's source). */
  readonly readOnly: string[];
  readonly label: string;
}

async function runStep (jail: CompileJail, step: Step, dir: string, limits: ToolLimits, rlimits: CompileRlimits): Promise<void> {
  const { command, args, cwd } = jail.command(dir, step.readOnly, step.command, step.args, rlimits);
  const result = await runTool(command, args, limits, cwd, step.label);
  if (result.code !== 0) {
    const said = `${result.stderr}${result.stdout}`.trim();
    const ended = describeSignalExit(result.code, result.signal, rlimits);
    const message = ended === undefined ? said || `failed with exit code ${result.code}` : `stopped: ${ended}${said === '' ? '' : `\n${said}`}`;
    throw new EngineError('ERR_COMPILE', `${step.label}: ${message}`);
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
