import { existsSync } from 'node:fs';

/**
 * Kernel resource limits (rlimits) for one compiler step, set with util-linux's `prlimit` before the
 * step's first process starts, so they hold for every process the step forks (clang's cc1 too).
 * Each process gets its own copy: a step of N processes may use N times `memoryBytes`; the clang
 * driver runs cc1 in process and a build runs its steps one after another, so N is 1 or 2.
 */
export interface CompileRlimits {
  /** RLIMIT_AS: address space of each process, in bytes. A macro or include explosion ends here ("out of memory"). */
  readonly memoryBytes: number;
  /** RLIMIT_FSIZE: largest file a process may write, in bytes. A `.zero 4000000000` ends here (SIGXFSZ). */
  readonly fileBytes: number;
  /** RLIMIT_CPU: CPU time of each process, in whole seconds (SIGXCPU, then SIGKILL a second later). */
  readonly cpuSeconds: number;
}

/** Defaults: clang -O2 on the examples peaks near 100 MB resident; 1 GiB leaves room for real programs. */
export const kDefaultCompileMemoryBytes = 2 ** 30;
export const kDefaultCompileFileBytes = 64 * 2 ** 20;

/** Where prlimit is, or '' (util-linux is essential on Debian, so this is a formality there). */
export function findPrlimit (env: NodeJS.ProcessEnv = process.env): string {
  return env.SPRINGBOK_PRLIMIT ?? (['/usr/bin/prlimit', '/bin/prlimit'].find((path) => existsSync(path)) ?? '');
}

/** `command args` run under `limits`: prlimit sets them on itself, then execs the command. */
export function withRlimits (prlimit: string, limits: CompileRlimits, command: string, args: readonly string[]): { command: string, args: string[] } {
  return {
    command: prlimit,
    // --core=0: a crashing compiler must not hand a core dump to the host's core_pattern helper.
    args: [`--as=${limits.memoryBytes}`, `--fsize=${limits.fileBytes}`, `--cpu=${limits.cpuSeconds}`, '--core=0', '--', command, ...args],
  };
}

/**
 * What a compiler's end by a signal means, in words a user can act on, or undefined for an ordinary
 * exit. bwrap reports a signal inside the jail as exit code 128 + the signal's number; outside a jail
 * Node reports the signal itself.
 */
export function describeSignalExit (code: number | null, signal: NodeJS.Signals | null, limits: CompileRlimits): string | undefined {
  const number = signal !== null ? kSignalNumbers[signal] : code !== null && code > 128 ? code - 128 : undefined;
  switch (number) {
    case 25: return `its output passed the ${Math.round(limits.fileBytes / 2 ** 20)} MiB file size limit (SIGXFSZ)`;
    case 24: case 9: return `it passed its CPU time limit of ${limits.cpuSeconds} s or was killed (signal ${number})`;
    case 6: case 11: case 7: return `it crashed (signal ${number}), most likely on its ${Math.round(limits.memoryBytes / 2 ** 20)} MiB memory limit`;
    default: return undefined;
  }
}

const kSignalNumbers: Partial<Record<NodeJS.Signals, number>> = { SIGKILL: 9, SIGXCPU: 24, SIGXFSZ: 25, SIGABRT: 6, SIGSEGV: 11, SIGBUS: 7 };
