import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CompileJail } from './jail.ts';
import { findCompileJail } from './jail-probe.ts';

/**
 * Where the C/LLVM → wasm32 tools are. Debian's packages (clang, lld, wasi-libc,
 * libclang-rt-14-dev-wasm32) put them at fixed paths; each can be overridden by an environment
 * variable for other layouts.
 */
export interface ToolchainPaths {
  readonly clang: string;
  readonly llc: string;
  readonly wasmLd: string;
  /** wasi-libc's sysroot (headers in include/wasm32-wasi, libc in lib/wasm32-wasi). */
  readonly sysroot: string;
  readonly libDir: string;
  /** compiler-rt builtins for wasm32 (128-bit and long double helpers). */
  readonly builtins: string;
  /** springbok.h. */
  readonly includeDir: string;
}

/** The tools and the jail they run in (plugins/wasm/jail.ts). */
export interface Toolchain extends ToolchainPaths {
  readonly jail: CompileJail;
  /** False only when SPRINGBOK_UNSAFE_UNJAILED_COMPILER=1 runs the compilers on the host. */
  readonly jailed: boolean;
}

export const kProjectRoot = new URL('../../', import.meta.url).pathname;

/** The Debian (bookworm) packages that provide the toolchain and its jail. */
export const kDebianPackages = ['clang', 'lld', 'wasi-libc', 'libclang-rt-14-dev-wasm32', 'bubblewrap'] as const;

/**
 * The tools in their jail, or a message saying exactly what to install or allow. The jail is tried
 * once per process (findCompileJail); the tools are never offered unjailed unless
 * SPRINGBOK_UNSAFE_UNJAILED_COMPILER=1.
 */
export function findToolchain (env: NodeJS.ProcessEnv = process.env): { toolchain: Toolchain } | { missing: string } {
  const paths: ToolchainPaths = {
    clang: env.SPRINGBOK_CLANG ?? firstExisting(['/usr/bin/clang', '/usr/bin/clang-14']),
    llc: env.SPRINGBOK_LLC ?? firstExisting(['/usr/bin/llc', '/usr/bin/llc-14']),
    wasmLd: env.SPRINGBOK_WASM_LD ?? firstExisting(['/usr/bin/wasm-ld', '/usr/bin/wasm-ld-14']),
    sysroot: env.SPRINGBOK_WASI_SYSROOT ?? '/usr',
    libDir: env.SPRINGBOK_WASI_LIBDIR ?? '/usr/lib/wasm32-wasi',
    builtins: env.SPRINGBOK_WASM_BUILTINS ?? firstExisting(['/usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a']),
    includeDir: join(kProjectRoot, 'include'),
  };
  const absent = Object.entries({ clang: paths.clang, llc: paths.llc, 'wasm-ld': paths.wasmLd, 'wasi-libc': join(paths.libDir, 'libc.a'), 'compiler-rt wasm32 builtins': paths.builtins })
    .filter(([, path]) => path === '' || !existsSync(path)).map(([name]) => name);
  if (absent.length > 0) return { missing: `the C/LLVM toolchain is incomplete (${absent.join(', ')} not found); on Debian: apt-get install -y ${kDebianPackages.join(' ')}` };
  const found = findCompileJail(paths, env);
  if ('missing' in found) return found;
  return { toolchain: { ...paths, ...found } };
}

function firstExisting (paths: string[]): string {
  return paths.find((path) => existsSync(path)) ?? '';
}
