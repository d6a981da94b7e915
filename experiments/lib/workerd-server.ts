import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';

// The platform package's binary itself: the npm `workerd` bin is a node wrapper that would be the
// process we signal, leaving the real server running when it is killed.
const kWorkerd = (() => {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve(`@cloudflare/workerd-${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch === 'x64' ? '64' : process.arch}/bin/workerd`);
  } catch {
    return new URL('../../node_modules/.bin/workerd', import.meta.url).pathname;
  }
})();

const kCompatibilityDate = '2024-09-01';

/** A running `workerd serve` on a loopback port. */
export interface WorkerdServer {
  readonly url: string;
  /** Process start → first correct HTTP answer, in milliseconds. */
  readonly startupMs: number;
  stop (): Promise<void>;
}

/** A loopback TCP port free at the time of asking. */
export async function freePort (): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * Serves springbok JS functions (`export default function (input: string): string`) from workerd,
 * each at `/<name>`: a fetch handler passes the request body as the input and answers the output.
 * Resolves once `probe` (POSTed to `probePath`) answers `expected`.
 * @throws when workerd exits or does not answer within 20 s.
 */
export async function startWorkerd (dir: string, functions: Record<string, string>, probe: { path: string, body: string, expected: string }): Promise<WorkerdServer> {
  const modules: string[] = [];
  const imports: string[] = [];
  const routes: string[] = [];
  let index = 0;
  for (const [name, path] of Object.entries(functions)) {
    const module = `fn${index}-${basename(path)}`;
    await copyFile(path, join(dir, module));
    modules.push(`(name = "${module}", esModule = embed "${module}")`);
    imports.push(`import fn${index} from './${module}';`);
    routes.push(`'/${name}': fn${index}`);
    index++;
  }
  await writeFile(join(dir, 'worker.js'), `${imports.join('\n')}
const routes = { ${routes.join(', ')} };
export default {
  async fetch (request) {
    const handler = routes[new URL(request.url).pathname];
    if (handler === undefined) return new Response('no such function', { status: 404 });
    return new Response(await handler(await request.text()));
  },
};
`);
  await writeFile(join(dir, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .bench) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);
const bench :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js"), ${modules.join(', ')} ],
  compatibilityDate = "${kCompatibilityDate}",
);
`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { startupMs, stop } = await spawnWorkerd(join(dir, 'config.capnp'), { http: port }, async () => {
    const response = await fetch(`${url}${probe.path}`, { method: 'POST', body: probe.body });
    return (await response.text()) === probe.expected;
  });
  return { url, startupMs, stop };
}

/** workerd serving Worker-format modules as they are, each on its own loopback port. */
export interface WorkerdWorkers {
  /** The base URL (no trailing slash) of each Worker, by name. */
  readonly urls: Record<string, string>;
  readonly startupMs: number;
  stop (): Promise<void>;
}

/** What every Worker of `startWorkerdWorkers` gets besides its module. */
export interface WorkersOptions {
  /** Text bindings: the Worker's `env`. */
  readonly env?: Readonly<Record<string, string>>;
  /** Whether `fetch` may reach loopback and private addresses (workerd's default is public only). */
  readonly allowLocalNetwork?: boolean;
  /** Service bindings, by Worker: binding name → the name of another Worker given here (`env.NAME.fetch` calls it). */
  readonly services?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/**
 * Serves Workers module-format files (`export default { fetch (request, env, ctx) }`) unchanged
 * from one workerd process: one service and one socket per Worker, so each sees the path it is
 * sent. Resolves once every socket accepts a connection (probing with a request would run the
 * Workers once more than the caller asked).
 * @throws when workerd exits or does not answer within 20 s.
 */
export async function startWorkerdWorkers (dir: string, workers: Record<string, string>, options: WorkersOptions = {}): Promise<WorkerdWorkers> {
  const bindings = Object.entries(options.env ?? {}).map(([name, value]) => `(name = ${JSON.stringify(name)}, text = ${JSON.stringify(value)})`);
  const outbound = options.allowLocalNetwork === true ? '\n  globalOutbound = "local-network",' : '';
  const services: string[] = [];
  const sockets: string[] = [];
  const definitions: string[] = [];
  const ports: Record<string, number> = {};
  const urls: Record<string, string> = {};
  const serviceOf = new Map(Object.keys(workers).map((name, at) => [name, `w${at}`]));
  let index = 0;
  for (const [name, path] of Object.entries(workers)) {
    const module = `w${index}-${basename(path)}`;
    await copyFile(path, join(dir, module));
    services.push(`(name = "w${index}", worker = .w${index})`);
    sockets.push(`(name = "s${index}", address = "127.0.0.1:0", http = (), service = "w${index}")`);
    const serviceBindings = Object.entries(options.services?.[name] ?? {}).map(([binding, target]) => `(name = ${JSON.stringify(binding)}, service = "${serviceOf.get(target) ?? target}")`);
    definitions.push(`const w${index} :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "${module}") ],
  bindings = [ ${[...bindings, ...serviceBindings].join(', ')} ],${outbound}
  compatibilityDate = "${kCompatibilityDate}",
);`);
    ports[`s${index}`] = await freePort();
    urls[name] = `http://127.0.0.1:${ports[`s${index}`]}`;
    index++;
  }
  await writeFile(join(dir, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ ${services.join(', ')}${options.allowLocalNetwork === true ? ', (name = "local-network", network = (allow = ["public", "private", "local"]))' : ''} ],
  sockets = [ ${sockets.join(', ')} ],
);
${definitions.join('\n')}
`);
  const { startupMs, stop } = await spawnWorkerd(join(dir, 'config.capnp'), ports, async () => {
    for (const port of Object.values(ports)) await accepts(port);
    return true;
  });
  return { urls, startupMs, stop };
}

/** Resolves once a TCP connection to the loopback port opens; rejects when it is refused. */
async function accepts (port: number): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  try {
    await once(socket, 'connect');
  } finally {
    socket.destroy();
  }
}

/**
 * Starts `workerd serve` on `config` with each named socket on the given port, and polls `ready`
 * (whose throwing means "not listening yet") until it answers true.
 */
async function spawnWorkerd (config: string, ports: Record<string, number>, ready: () => Promise<boolean>): Promise<{ startupMs: number, stop: () => Promise<void> }> {
  const t0 = performance.now();
  const socketArgs = Object.entries(ports).flatMap(([socket, port]) => ['--socket-addr', `${socket}=127.0.0.1:${port}`]);
  const child = spawn(kWorkerd, ['serve', config, 'config', ...socketArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  // A missing or unrunnable binary is an 'error' event, not an exit: unheard, it would end the caller.
  let spawnError: Error | undefined;
  child.once('error', (error) => { spawnError = error; });
  // Whatever happens to the benchmark, no workerd outlives it.
  const killOnExit = (): void => { child.kill('SIGKILL'); };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    // workerd drains open connections on SIGTERM and can wait for ever on a keep-alive one.
    const force = setTimeout(() => child.kill('SIGKILL'), 1000);
    await exited;
    clearTimeout(force);
  };
  const deadline = t0 + 20_000;
  while (performance.now() < deadline) {
    if (spawnError !== undefined) throw new Error(`workerd did not start: ${spawnError.message}`);
    if (child.exitCode !== null) throw new Error(`workerd exited with ${child.exitCode}: ${stderr.slice(-2000)}`);
    try {
      if (await ready()) return { startupMs: performance.now() - t0, stop };
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await stop();
  throw new Error(`workerd did not answer within 20 s: ${stderr.slice(-2000)}`);
}
