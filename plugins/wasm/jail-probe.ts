import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPrlimit, kDefaultCompileFileBytes, kDefaultCompileMemoryBytes } from './compile-limits.ts';
import { bwrapJail, unjailed, type CompileJail } from './jail.ts';
import type { ToolchainPaths } from './toolchain.ts';

/** The environment variable that runs the compilers without their jail. Trusted single-tenant use only. */
export const kUnsafeUnjailedVariable = 'SPRINGBOK_UNSAFE_UNJAILED_COMPILER';

const kHowToSkip = `(or, for trusted single-tenant use only, set ${kUnsafeUnjailedVariable}=1 to compile without a jail)`;
const kProbed = new Map<string, { jail: CompileJail, jailed: boolean } | { missing: string }>();

/**
 * The jail the compilers run in, after one real trial per process and toolchain (clang --version
 * inside it, ~10-50 ms), or a message saying exactly what is missing. Never falls back to running
 * the compilers unjailed unless SPRINGBOK_UNSAFE_UNJAILED_COMPILER=1 says so.
 */
export function findCompileJail (toolchain: ToolchainPaths, env: NodeJS.ProcessEnv = process.env): { jail: CompileJail, jailed: boolean } | { missing: string } {
  const prlimit = findPrlimit(env);
  if (env[kUnsafeUnjailedVariable] === '1') return { jail: unjailed(toolchain, prlimit), jailed: false };
  const bwrap = env.SPRINGBOK_BWRAP ?? (['/usr/bin/bwrap', '/bin/bwrap'].find((path) => existsSync(path)) ?? '');
  const key = JSON.stringify([toolchain, bwrap, prlimit]);
  let found = kProbed.get(key);
  if (found === undefined) {
    found = probe(toolchain, bwrap, prlimit);
    kProbed.set(key, found);
  }
  return found;
}

function probe (toolchain: ToolchainPaths, bwrap: string, prlimit: string): { jail: CompileJail, jailed: boolean } | { missing: string } {
  if (bwrap === '' || !existsSync(bwrap)) return { missing: `the C/LLVM compilers run only in a bubblewrap jail and bwrap is not installed; on Debian: apt-get install -y bubblewrap ${kHowToSkip}` };
  if (prlimit === '' || !existsSync(prlimit)) return { missing: `the C/LLVM compilers run under resource limits set by prlimit, which is not installed; on Debian: apt-get install -y util-linux ${kHowToSkip}` };
  let jail: CompileJail;
  try {
    jail = bwrapJail(toolchain, bwrap, prlimit);
  } catch (error) {
    return { missing: `the compiler jail cannot be made: ${(error as Error).message}` };
  }
  const scratch = mkdtempSync(join(tmpdir(), 'springbok-jail-probe-'));
  try {
    const { command, args, cwd } = jail.command(scratch, [], jail.view.clang, ['--version'], { memoryBytes: kDefaultCompileMemoryBytes, fileBytes: kDefaultCompileFileBytes, cpuSeconds: 10 });
    const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 10_000, env: {} });
    if (result.status === 0 && result.stdout.includes('clang version')) return { jail, jailed: true };
    const said = `${result.error?.message ?? ''}${result.stderr ?? ''}`.trim().split('\n')[0] ?? '';
    return {
      missing: `the compiler jail cannot be made here (bwrap ${said === '' ? `exited with ${result.status ?? result.signal}` : `says: ${said}`}); ` +
        `bwrap needs user namespaces: run the engine as root, or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0, or kernel.apparmor_restrict_unprivileged_userns=0) ${kHowToSkip}`,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
