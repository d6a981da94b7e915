import { existsSync, lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { withRlimits, type CompileRlimits } from './compile-limits.ts';
import type { ToolchainPaths } from './toolchain.ts';

/**
 * The compiler jail: every compiler step runs under bubblewrap (bwrap) in fresh namespaces (user,
 * pid, net, ipc, uts, cgroup, mount) whose filesystem holds only, read-only: the LLVM toolchain, the
 * system's shared libraries, the wasi sysroot, springbok.h and runtime.c; and writable: the build's
 * scratch dir at /build, over which the function's one source file is bound read-only. There is no
 * /etc, /proc, /dev, /tmp, data dir or home: `.incbin "/etc/passwd"`, `#include "/proc/1/environ"` or
 * `#include "../../data/functions/x.json"` find nothing. The network namespace has only its own
 * loopback. The tools run as uid 65534 with no capabilities, in a new session (no terminal), and die
 * with their parent; killing bwrap ends the pid namespace and so every process of the step.
 */
export interface CompileJail {
  /** The paths the tools are given (as they see them: inside the jail, or the host's own when unjailed). */
  readonly view: ToolView;
  /**
   * The command that runs `tool args` under `rlimits` for a build whose scratch dir is `scratchDir`
   * (the tool's working directory); `readOnlyFiles` are names in it the tool may read but not change.
   */
  command (scratchDir: string, readOnlyFiles: readonly string[], tool: string, args: readonly string[], rlimits: CompileRlimits): JailCommand;
}

export interface JailCommand {
  readonly command: string;
  readonly args: string[];
  readonly cwd: string;
}

/** The toolchain's paths as the tools see them, and runtime.c's. */
export type ToolView = ToolchainPaths & { readonly runtimeSource: string };

/** The uid and gid the tools run as inside the jail (nobody): they own nothing they can see. */
const kJailUid = '65534';
/** The scratch dir's path inside the jail; `..` from it reaches only the jail's own root. */
export const kScratchInside = '/build';
const kIncludeInside = '/springbok/include';
const kRuntimeInside = '/springbok/runtime/runtime.c';

/** The C side of springbok's host interface, compiled into every module. */
export const kRuntimeSource = new URL('runtime/runtime.c', import.meta.url).pathname;

/**
 * Tools run directly on the host, as before the jail: only for SPRINGBOK_UNSAFE_UNJAILED_COMPILER=1
 * (trusted single-tenant use). Still under rlimits when prlimit is there (`prlimit` is '' if not).
 */
export function unjailed (toolchain: ToolchainPaths, prlimit: string): CompileJail {
  const view = { ...toolchain, runtimeSource: kRuntimeSource };
  return {
    view,
    command: (scratchDir, _readOnly, tool, args, rlimits) => ({ ...(prlimit === '' ? { command: tool, args: [...args] } : withRlimits(prlimit, rlimits, tool, args)), cwd: scratchDir }),
  };
}

/**
 * The jail for `toolchain`, made by the bwrap at `bwrap`, under rlimits set by the prlimit at
 * `prlimit` (outside bwrap, so they hold for bwrap and everything it starts). Reads the filesystem
 * (realpaths) but starts nothing: findToolchain probes it once.
 */
export function bwrapJail (toolchain: ToolchainPaths, bwrap: string, prlimit: string): CompileJail {
  const binds = new ReadOnlyBinds();
  const tool = (path: string): string => {
    const prefix = dirname(dirname(realpathSync(path)));
    binds.add(prefix); // the tool's installation prefix (e.g. /usr/lib/llvm-14): its libraries and clang's headers
    return pathWithin(path, prefix);
  };
  const view: ToolView = {
    clang: tool(toolchain.clang),
    llc: tool(toolchain.llc),
    wasmLd: tool(toolchain.wasmLd),
    sysroot: toolchain.sysroot,
    libDir: toolchain.libDir,
    builtins: toolchain.builtins,
    includeDir: kIncludeInside,
    runtimeSource: kRuntimeInside,
  };
  // The sysroot as clang searches it for --target=wasm32-wasi: only its wasm32 parts, never the host's /usr/include.
  for (const path of [join(toolchain.sysroot, 'include', 'wasm32-wasi'), join(toolchain.sysroot, 'lib', 'wasm32-wasi'), toolchain.libDir, toolchain.builtins]) {
    if (existsSync(path)) binds.add(path);
  }
  const fixed: string[] = ['--unshare-all', '--unshare-user', '--uid', kJailUid, '--gid', kJailUid, '--hostname', 'springbok-build', '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
    '--clearenv', '--setenv', 'PATH', dirname(view.clang), '--setenv', 'LANG', 'C', '--setenv', 'HOME', kScratchInside, '--setenv', 'TMPDIR', kScratchInside,
    ...systemLibraries(), ...binds.args(),
    '--ro-bind', toolchain.includeDir, kIncludeInside, '--ro-bind', kRuntimeSource, kRuntimeInside];
  return {
    view,
    command: (scratchDir, readOnlyFiles, command, args, rlimits) => ({
      ...withRlimits(prlimit, rlimits, bwrap, [...fixed, '--bind', scratchDir, kScratchInside,
        ...readOnlyFiles.flatMap((name) => ['--ro-bind', join(scratchDir, name), join(kScratchInside, name)]),
        '--chdir', kScratchInside, '--', command, ...args]),
      cwd: scratchDir,
    }),
  };
}

/**
 * The first name in `path`'s chain of symlinks that lies in `prefix`: /usr/bin/wasm-ld becomes
 * /usr/lib/llvm-14/bin/wasm-ld, not the `lld` it finally points to (lld picks its flavour by name).
 */
function pathWithin (path: string, prefix: string): string {
  let current = path;
  for (let hops = 0; hops < 40; hops++) {
    const inDir = join(realpathSync(dirname(current)), basename(current));
    if (inDir.startsWith(`${prefix}/`)) return inDir;
    current = resolve(dirname(current), readlinkSync(current));
  }
  throw new Error(`${path}: too many symbolic links`);
}

/** Read-only binds at the same path inside as outside, each path once, parents before children. */
class ReadOnlyBinds {
  readonly #paths = new Set<string>();
  add (path: string): void { this.#paths.add(realpathSync(path)); }
  args (): string[] {
    const paths = [...this.#paths].sort();
    const kept = paths.filter((path) => !paths.some((other) => other !== path && path.startsWith(`${other}/`)));
    return kept.flatMap((path) => ['--ro-bind', path, path]);
  }
}

/**
 * The dynamic loader and shared libraries the tools link against (libLLVM, libstdc++, libc, ...):
 * the multiarch library dir, read-only. It holds system libraries only, no tenant data. /lib and
 * /lib64 are recreated as the symlinks they are on a merged-/usr system, or bound as they are.
 */
function systemLibraries (): string[] {
  const multiarch = `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
  const args: string[] = [];
  for (const path of [`/usr/lib/${multiarch}`, '/usr/lib64']) {
    if (existsSync(path)) args.push('--ro-bind', path, path);
  }
  for (const top of ['/lib', '/lib64']) {
    const stat = lstatSync(top, { throwIfNoEntry: false });
    if (stat === undefined) continue;
    if (stat.isSymbolicLink()) args.push('--symlink', readlinkSync(top), top);
    else if (top === '/lib64') args.push('--ro-bind', top, top);
    else if (existsSync(join(top, multiarch))) args.push('--ro-bind', join(top, multiarch), join(top, multiarch));
  }
  return args;
}
