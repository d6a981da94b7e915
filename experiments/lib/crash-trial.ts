import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { SpringbokClient } from '../../dispatchers/client.ts';
import { seededRandom } from './seeded-random.ts';

const cli = new URL('../../bin/springbok.ts', import.meta.url).pathname;

export interface TrialResult {
  readonly acknowledged: number;
  readonly lost: string[];
  readonly warnings: string;
}

/** What a name may hold after the crash: the acknowledged state, or any state an unacknowledged later operation could have left. */
type Acceptable = Set<string | null>;

async function startServe (dir: string, dataDir: string): Promise<{ socketPath: string, child: ReturnType<typeof spawn>, stderr: () => string }> {
  const socketPath = join(dir, `engine-${Math.random().toString(36).slice(2)}.sock`);
  const child = spawn(process.execPath, [cli, 'serve', '--socket', socketPath, '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => { seen += chunk.toString(); if (seen.includes('springbok ready')) resolve(); });
    child.once('exit', (code) => reject(new Error(`engine exited with ${code}: ${stderr}`)));
  });
  return { socketPath, child, stderr: () => stderr };
}

/**
 * One crash trial: deploys, redeploys and removes of a few names run concurrently (one operation
 * at a time per name) against a real engine, which is killed with SIGKILL at a random moment. After a
 * restart on the same data dir, every name must hold its last acknowledged state, or a state a
 * later unacknowledged operation could have left — never anything else, never a corrupt file.
 */
export async function crashTrial (dir: string, dataDir: string, seed: number): Promise<TrialResult> {
  const random = seededRandom(seed);
  const engine = await startServe(dir, dataDir);
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  const names = ['alpha', 'beta', 'gamma', 'delta'];
  const acceptable = new Map<string, Acceptable>();
  // The state before this trial: whatever the previous trial left, read back from the engine.
  for (const info of await client.list()) acceptable.set(info.name, new Set([info.sourceSha256]));
  for (const name of names) if (!acceptable.has(name)) acceptable.set(name, new Set([null]));
  let acknowledged = 0;
  let killed = false;
  const worker = async (name: string): Promise<void> => {
    while (!killed) {
      const remove = random() < 0.25;
      const source = Buffer.from(`push ${Math.floor(random() * 1e9)}\nout\n${'; padding\n'.repeat(Math.floor(random() * 2000))}`);
      const state = remove ? null : createHash('sha256').update(source).digest('hex');
      acceptable.get(name)!.add(state); // may land without an acknowledgement
      try {
        if (remove) await client.remove(name);
        else await client.deploy(name, 'sm', source);
      } catch {
        return; // the engine died mid-request
      }
      if (!killed) {
        acceptable.set(name, new Set([state]));
        acknowledged++;
      }
    }
  };
  const workers = Promise.all(names.map(worker));
  await new Promise((resolve) => setTimeout(resolve, 20 + random() * 300));
  killed = true;
  engine.child.kill('SIGKILL');
  await once(engine.child, 'exit');
  await workers;
  client.close().catch(() => {});

  const restarted = await startServe(dir, dataDir);
  const check = await SpringbokClient.connect({ socketPath: restarted.socketPath });
  const present = new Map((await check.list()).map((info) => [info.name, info]));
  const lost: string[] = [];
  for (const [name, states] of acceptable) {
    const info = present.get(name);
    const actual = info === undefined ? null : info.sourceSha256;
    if (!states.has(actual)) lost.push(`${name}: found ${actual ?? 'nothing'}, expected one of ${[...states].map((s) => s ?? 'nothing').join(', ')}`);
    if (info !== undefined && info.state === 'unavailable') lost.push(`${name}: stored but unavailable: ${info.error?.message}`);
  }
  await check.close();
  restarted.child.kill('SIGTERM');
  await once(restarted.child, 'exit');
  return { acknowledged, lost, warnings: restarted.stderr() };
}
