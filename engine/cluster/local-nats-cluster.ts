import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

/**
 * A NATS cluster with JetStream on this machine's loopback, each server a real nats-server child
 * process with its own ports and store directory: what the cluster tests, the benchmark and a
 * one-machine trial run on. Servers can be killed and started again on the same ports and stores.
 */

/** One server of the cluster, as started (or to be started again). */
export interface LocalNatsServer {
  readonly name: string;
  readonly clientPort: number;
  readonly routePort: number;
  readonly storeDir: string;
  readonly url: string;
  process: ChildProcess | undefined;
}

/** The nats-server binary on the PATH, or undefined when it is not installed. */
export function findNatsServer (): string | undefined {
  const found = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  return found.status === 0 ? 'nats-server' : undefined;
}

export class LocalNatsCluster {
  readonly servers: readonly LocalNatsServer[];

  private constructor (servers: LocalNatsServer[]) {
    this.servers = servers;
  }

  /** The client URLs of every server, comma-separated: a --cluster value. */
  get urls (): string {
    return this.servers.map((server) => server.url).join(',');
  }

  /** Starts `count` clustered servers with JetStream under `dir` and waits until each accepts clients. */
  static async start (dir: string, count: number): Promise<LocalNatsCluster> {
    const servers: LocalNatsServer[] = [];
    for (let index = 0; index < count; index++) {
      const [clientPort, routePort] = [await freePort(), await freePort()];
      const storeDir = join(dir, `nats-${index}`);
      await mkdir(storeDir, { recursive: true });
      servers.push({ name: `n${index}`, clientPort, routePort, storeDir, url: `nats://127.0.0.1:${clientPort}`, process: undefined });
    }
    const cluster = new LocalNatsCluster(servers);
    await Promise.all(servers.map((server) => cluster.startServer(server)));
    return cluster;
  }

  /** Starts one server (again), on its ports and its store. */
  async startServer (server: LocalNatsServer): Promise<void> {
    const routes = this.servers.filter((other) => other !== server).map((other) => `nats://127.0.0.1:${other.routePort}`).join(',');
    const args = ['-a', '127.0.0.1', '-p', String(server.clientPort), '-n', server.name, '-js', '-sd', server.storeDir];
    if (this.servers.length > 1) args.push('--cluster_name', 'springbok', '--cluster', `nats://127.0.0.1:${server.routePort}`, '--routes', routes);
    const child = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    server.process = child;
    // A server must not outlive the test or benchmark that started it, however that ends.
    const killOnExit = (): void => { child.kill('SIGKILL'); };
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server ${server.name} did not start in 10 s: ${log}`)), 10_000);
      child.stderr.on('data', (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-4096);
        if (log.includes('Server is ready')) { clearTimeout(timer); resolve(); }
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`nats-server ${server.name} exited with ${code}: ${log}`)); });
    });
    // Its log is not read any more, but must not fill the pipe and block the server.
    child.stderr.resume();
  }

  /**
   * Ends one server and waits until it is gone: SIGKILL (a crash) unless told SIGTERM (a shutdown,
   * in which nats-server writes its stores' state before it exits).
   */
  async kill (server: LocalNatsServer, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const child = server.process;
    server.process = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }

  /** Ends every server, as kill() does. */
  async stop (signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    await Promise.all(this.servers.map((server) => this.kill(server, signal)));
  }

  [Symbol.asyncDispose] (): Promise<void> {
    return this.stop();
  }
}

/** A TCP port free on loopback now (the kernel's pick; nothing holds it after). */
export async function freePort (): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
