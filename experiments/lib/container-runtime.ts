import { execFile } from 'node:child_process';

/**
 * Looks for a container runtime that actually runs containers here: a `docker` or `podman`
 * client alone is not enough (a client without a reachable engine is common in VMs and CI).
 * Resolves the runtime's name, or why there is none.
 */
export async function findContainerRuntime (): Promise<{ runtime: string } | { skipped: string }> {
  const tried: string[] = [];
  for (const runtime of ['docker', 'podman']) {
    const result = await new Promise<{ code: number | null, error: string }>((resolve) => {
      execFile(runtime, ['info', '--format', '{{.ServerVersion}}'], { timeout: 10_000 }, (error, _stdout, stderr) => {
        resolve({ code: error === null ? 0 : (typeof error.code === 'number' ? error.code : null), error: (stderr || (error?.message ?? '')).trim().split('\n')[0] ?? '' });
      });
    });
    if (result.code === 0) return { runtime };
    tried.push(`${runtime}: ${result.error || 'not found'}`);
  }
  return { skipped: `no container runtime (${tried.join('; ')})` };
}

/**
 * The first locally present image whose repository is one of `repositories` (in that order of
 * preference), e.g. `node:24-slim` for ['node']. Never pulls: a benchmark must not download.
 */
export async function findLocalImage (runtime: string, repositories: readonly string[]): Promise<string | undefined> {
  const listed = await new Promise<string>((resolve) => {
    execFile(runtime, ['images', '--format', '{{.Repository}}:{{.Tag}}'], { timeout: 20_000 }, (error, stdout) => resolve(error === null ? stdout : ''));
  });
  const images = listed.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.endsWith(':<none>'));
  for (const repository of repositories) {
    // Docker lists `node:24`, podman `docker.io/library/node:24`.
    const found = images.find((image) => image.replace(/^(docker\.io\/)?(library\/)?/, '').split(':')[0] === repository);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Limits of one container: the function's budget. */
export interface ContainerLimits {
  readonly cpus: number;
  readonly memoryBytes: number;
}

/**
 * The command line of one container per invocation: removed when it exits, no network, the
 * function's CPU and memory budget, `mounts` read-only at the same paths, the image never pulled.
 */
export function containerArgs (image: string, limits: ContainerLimits, mounts: readonly string[], command: readonly string[]): string[] {
  return [
    'run', '--rm', '--network', 'none', '--pull', 'never',
    '--cpus', String(limits.cpus), '--memory', `${Math.ceil(limits.memoryBytes / 2 ** 20)}m`,
    ...mounts.flatMap((path) => ['-v', `${path}:${path}:ro`]),
    image, ...command,
  ];
}
