import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
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

/** A running `workerd serve` on a loopback port. */
export interface WorkerdServer {
  readonly url: string;
  /** Process start → first correct HTTP answer, in milliseconds. */
  readonly startupMs: number;
  stop (): Promise<void>;
}

async function freePort (): Promise<number> {
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
  compatibilityDate = "2024-09-01",
);
`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const child = spawn(kWorkerd, ['serve', join(dir, 'config.capnp'), 'config', '--socket-addr', `http=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
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
    if (child.exitCode !== null) throw new Error(`workerd exited with ${child.exitCode}: ${stderr.slice(-2000)}`);
    try {
      const response = await fetch(`${url}${probe.path}`, { method: 'POST', body: probe.body });
      if ((await response.text()) === probe.expected) return { url, startupMs: performance.now() - t0, stop };
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await stop();
  throw new Error(`workerd did not answer within 20 s: ${stderr.slice(-2000)}`);
}
