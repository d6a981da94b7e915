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
