import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProcessCommand } from './process-run.ts';

/** Limits a cgroup places on every process started in it. */
export interface CgroupLimits {
  /** CPU bandwidth in cores (1 = one full core: quota equal to the period). */
  readonly cpuCores: number;
  readonly memoryBytes: number;
}

/** A cgroup made for the benchmark, and how to start a process inside it. */
export interface BenchCgroup {
  readonly version: 'v1' | 'v2';
  /** The directories whose cgroup.procs a new process joins (one per v1 hierarchy, one for v2). */
  readonly dirs: readonly string[];
  /** `command`, started through /bin/sh, which moves itself into the group and then execs the command. */
  wrap (command: ProcessCommand): ProcessCommand;
  /** Removes the group; its processes must have exited. */
  close (): Promise<void>;
}

const kPeriodUs = 100_000;

function mountsOf (type: string): { dir: string, options: string[] }[] {
  return readFileSync('/proc/mounts', 'utf8').split('\n').map((line) => line.split(' ')).filter((f) => f[2] === type)
    .map((f) => ({ dir: f[1] ?? '', options: (f[3] ?? '').split(',') }));
}

/**
 * Creates a cgroup with `limits`, on cgroup v2 when its cpu and memory controllers are available
 * at the root, else on v1's cpu and memory hierarchies (hybrid systems mount an empty v2 tree
 * next to v1's). Resolves a reason string instead when neither is writable here.
 */
export async function createBenchCgroup (name: string, limits: CgroupLimits): Promise<BenchCgroup | { skipped: string }> {
  const reasons: string[] = [];
  const v2Root = mountsOf('cgroup2')[0]?.dir;
  if (v2Root !== undefined && existsSync(join(v2Root, 'cgroup.controllers'))) {
    const controllers = readFileSync(join(v2Root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    if (controllers.includes('cpu') && controllers.includes('memory')) {
      const dir = join(v2Root, name);
      try {
        // A child of the root may use a controller only once the root delegates it.
        await writeFile(join(v2Root, 'cgroup.subtree_control'), '+cpu +memory');
        await mkdir(dir);
        await writeFile(join(dir, 'cpu.max'), `${Math.round(limits.cpuCores * kPeriodUs)} ${kPeriodUs}`);
        await writeFile(join(dir, 'memory.max'), String(limits.memoryBytes));
        return makeGroup('v2', [dir]);
      } catch (error) {
        await rmdir(dir).catch(() => {});
        reasons.push(`cgroup v2 at ${v2Root} not writable: ${(error as Error).message}`);
      }
    } else {
      reasons.push(`cgroup v2 at ${v2Root} has no cpu+memory controllers (controllers: ${controllers.join(' ') || 'none'})`);
    }
  }
  const cpuMount = mountsOf('cgroup').find((m) => m.options.includes('cpu'));
  const memoryMount = mountsOf('cgroup').find((m) => m.options.includes('memory'));
  if (cpuMount === undefined || memoryMount === undefined) {
    reasons.push('no cgroup v1 cpu and memory hierarchies mounted');
    return { skipped: reasons.join('; ') };
  }
  const cpuDir = join(cpuMount.dir, name);
  const memoryDir = join(memoryMount.dir, name);
  try {
    await mkdir(cpuDir);
    await writeFile(join(cpuDir, 'cpu.cfs_period_us'), String(kPeriodUs));
    await writeFile(join(cpuDir, 'cpu.cfs_quota_us'), String(Math.round(limits.cpuCores * kPeriodUs)));
    await mkdir(memoryDir);
    await writeFile(join(memoryDir, 'memory.limit_in_bytes'), String(limits.memoryBytes));
    return makeGroup('v1', [cpuDir, memoryDir]);
  } catch (error) {
    await rmdir(cpuDir).catch(() => {});
    await rmdir(memoryDir).catch(() => {});
    reasons.push(`cgroup v1 (${cpuMount.dir}, ${memoryMount.dir}) not writable: ${(error as Error).message}`);
    return { skipped: reasons.join('; ') };
  }
}

function makeGroup (version: 'v1' | 'v2', dirs: string[]): BenchCgroup {
  // The shell joins the group before exec, so the measured program runs its whole life inside
  // it; the shell's own start (~1 ms) is part of what this baseline pays, as it would be for any
  // launcher that places a process in a cgroup.
  const script = 'for d in $SPRINGBOK_CGROUP_DIRS; do echo $$ > "$d/cgroup.procs" || exit 97; done; exec "$@"';
  return {
    version,
    dirs,
    wrap: (command) => ({ file: '/bin/sh', args: ['-c', script, 'sh', command.file, ...command.args], env: { ...(command.env ?? process.env), SPRINGBOK_CGROUP_DIRS: dirs.join(' ') } }),
    close: async () => { for (const dir of dirs) await rmdir(dir).catch(() => {}); },
  };
}
