import { availableParallelism } from 'node:os';
import { Engine } from '../../engine/index.ts';
import { clusterServersProblem } from '../../engine/cluster/servers.ts';
import { kDefaultOptions } from '../../engine/options.ts';
import { kDefaultMaxFrameBytes } from '../protocol.ts';
import { HttpServer } from '../http/http-server.ts';
import { EngineMetrics } from '../http/metrics.ts';
import { SocketServer } from '../socket-server.ts';
import { defaultDataDir, defaultSocketPath, ExitCode, kBudgetHelp, parse, usageError, type CliIo, type Command } from './common.ts';
import { ConfigError, kServeOptions, resolveServeConfig } from './config.ts';

/** The module that lists the languages (plugins.ts). Imported only where functions run: on each scheduler thread, or here with --workers 0. */
const kPluginModule = new URL('./plugins.ts', import.meta.url).href;
/** How long invocations in flight may still run after SIGTERM/SIGINT, by default, in ms. */
const kDefaultDrainMs = 5_000;

const help = `Usage: springbok serve [options]

Runs the engine: loads the stored functions, then serves deploy/execute/... on a unix socket
(and on TCP when --listen is given, HTTP when --http is given) until SIGINT or SIGTERM, which
drain it: no new connections or invocations (ERR_CLOSED, "draining"), those in flight finish for
up to --drain-ms, then it stops; a second signal stops it at once.

Options:
  --config FILE                 a JSON file of options (default: $SPRINGBOK_CONFIG; none)
  --socket PATH                 unix socket to serve on, created owner-only (default ${defaultSocketPath({})})
  --listen HOST:PORT            also serve the protocol on TCP; HOST defaults to 127.0.0.1 when only a port is given
  --http HOST:PORT              also serve HTTP (doc/http.md); HOST defaults to 127.0.0.1 when only a port is given
  --deploy-token TOKEN          require this token on deploy and remove (default: none)
  --data-dir DIR                where deployed functions are stored (default ${defaultDataDir({})})
  --cluster URLS                join a cluster (doc/cluster.md): comma-separated nats://HOST:PORT of its NATS
                                servers. Functions are then stored in the cluster, not the data dir (which
                                keeps the compile cache), and the engine takes its share of the invocations
                                sent through NATS (springbok.invoke.NAME)
  --workers N                   scheduler threads running functions, one per core (default: the number of
                                cores, ${availableParallelism()} here); 0 runs them on the thread that serves the sockets
  --slice-ms MS                 scheduler time slice (default ${kDefaultOptions.sliceMs})
  --drain-ms MS                 on SIGTERM/SIGINT, how long invocations in flight may still run (default ${kDefaultDrainMs})
  --max-instance-memory MB      memory live function instances may be charged, in MiB; past it idle ones are
                                evicted, least recently used first, and come back on their next call
                                (default half the machine's or the cgroup's memory: ${Math.round(kDefaultOptions.maxInstanceMemoryBytes / 2 ** 20)} here)
  --max-in-flight N             invocations in flight in the engine (default ${kDefaultOptions.maxInFlight})
  --max-in-flight-per-function N  the same per function (default ${kDefaultOptions.maxInFlightPerFunction})
  --max-frame-bytes N           largest protocol frame accepted (default ${kDefaultMaxFrameBytes})
  --max-source-bytes N          largest source a deploy accepts (default ${kDefaultOptions.maxSourceBytes})
  --max-input-bytes N           largest HTTP invoke body accepted (default ${kDefaultMaxFrameBytes})
  --net-allow-private RANGES    internal address ranges functions may reach, e.g. 10.0.0.0/8,127.0.0.1
                                (repeatable; default none: loopback, private, link-local, metadata and
                                every other special-purpose address is refused whatever --allow-host
                                names; the engine's own ports stay unreachable in any case)

Default budget for deploys that leave a field unset:
${kBudgetHelp.split('\n').slice(1).join('\n')}

Every option can also be set by an environment variable, SPRINGBOK_ and its flag in capitals
(SPRINGBOK_MAX_IN_FLIGHT; SPRINGBOK_ALLOW_HOST takes a comma-separated list), or in the --config
file under its flag in camelCase ({"maxInFlight": 100, "allowHost": ["example.com"]}).
A flag beats the environment, which beats the file, which beats the default (doc/configuration.md).
A bad value stops the engine before it starts, with exit status 2 and the option named.

Prints one line "springbok ready ..." on stdout once it accepts requests (with http=HOST:PORT
when serving HTTP: the real port when --http gave port 0).
`;

const kFlagOptions = Object.fromEntries([
  ['config', { type: 'string' }],
  ...kServeOptions.map((spec) => [spec.flag, spec.kind === 'hosts' || spec.kind === 'ranges' ? { type: 'string', multiple: true } : { type: 'string' }]),
]) as Record<string, { type: 'string', multiple?: boolean }>;

export const serveCommand: Command = {
  summary: 'run the engine',
  help,
  async run (args: string[], io: CliIo): Promise<number> {
    const { values: flags, positionals } = parse(args, kFlagOptions, help);
    if (positionals.length > 0) throw usageError(`serve takes no arguments: got ${positionals.join(' ')}`, help);
    let config;
    try {
      config = await resolveServeConfig(flags, io.env);
    } catch (error) {
      if (error instanceof ConfigError) throw usageError(error.message, help);
      throw error;
    }
    const value = <T>(flag: string, fallback: T): T => (config.values[flag] as T | undefined) ?? fallback;
    const socketPath = value('socket', defaultSocketPath({}));
    const dataDir = value('data-dir', defaultDataDir(io.env));
    const listen = value<{ host: string, port: number } | undefined>('listen', undefined);
    const http = value<{ host: string, port: number } | undefined>('http', undefined);
    const deployToken = value<string | undefined>('deploy-token', undefined);
    const maxSourceBytes = value('max-source-bytes', kDefaultOptions.maxSourceBytes);
    const maxInFlight = value('max-in-flight', kDefaultOptions.maxInFlight);
    const clusterServers = value<string | undefined>('cluster', undefined);
    const clusterProblem = clusterServers === undefined ? undefined : clusterServersProblem(clusterServers);
    if (clusterProblem !== undefined) throw usageError(`--cluster ${clusterProblem}`, help);
    const onWarning = (message: string): void => { io.stderr.write(`springbok: ${message}\n`); };
    // Loaded only with --cluster: a single engine never loads the NATS client.
    const joining = clusterServers === undefined ? undefined : import('../../engine/cluster/cluster-node.ts').then(({ ClusterNode }) => ClusterNode.join(clusterServers, onWarning));
    const cluster = await joining?.catch((error: Error) => { throw usageError(`cannot join the cluster: ${error.message}`, help); });

    const workers = value('workers', availableParallelism());
    const drainMs = value('drain-ms', kDefaultDrainMs);
    const engine = await Engine.open({
      // Each scheduler thread builds its own plugins from the module that lists them.
      ...(workers > 0 ? { workers, pluginModule: { url: kPluginModule, export: 'defaultPlugins' } } : { plugins: (await import(kPluginModule) as typeof import('./plugins.ts')).defaultPlugins() }),
      dataDir,
      ...(cluster !== undefined ? { store: cluster.store } : {}),
      sliceMs: value('slice-ms', kDefaultOptions.sliceMs),
      maxInFlight,
      maxInFlightPerFunction: value('max-in-flight-per-function', kDefaultOptions.maxInFlightPerFunction),
      maxSourceBytes,
      maxInstanceMemoryBytes: value('max-instance-memory', kDefaultOptions.maxInstanceMemoryBytes / 2 ** 20) * 2 ** 20,
      defaultBudget: config.defaultBudget,
      netAllowPrivate: value<readonly string[]>('net-allow-private', []),
      onWarning,
    }).catch(async (error: Error) => {
      await cluster?.close();
      throw usageError(`cannot start the engine: ${error.message}`, help);
    });
    let server: SocketServer | undefined;
    let httpServer: HttpServer | undefined;
    try {
      server = await SocketServer.start({ engine, socketPath, listen, ...(deployToken !== undefined ? { deployToken } : {}), maxFrameBytes: value('max-frame-bytes', kDefaultMaxFrameBytes) });
      if (http !== undefined) {
        const maxInputBytes = value('max-input-bytes', kDefaultMaxFrameBytes);
        httpServer = await HttpServer.start({ engine, host: http.host, port: http.port, maxSourceBytes, maxInputBytes, metrics: new EngineMetrics(engine), ...(deployToken !== undefined ? { deployToken } : {}) });
      }
      await cluster?.serve(engine, maxInFlight);
    } catch (error) {
      await server?.close();
      await engine.close();
      await cluster?.close();
      throw usageError(`cannot listen: ${(error as Error).message}`, help);
    }
    // The signal handlers go in before the ready line: whoever reads it may stop us at once.
    const signalled = new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        // A second signal ends the process at once, drain or not.
        const forceExit = (): void => hardExit(io, 'a second signal came during the shutdown');
        process.once('SIGINT', forceExit);
        process.once('SIGTERM', forceExit);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    // A reader of our output that goes away must not take the engine down with an unhandled EPIPE.
    for (const stream of [io.stdout, io.stderr]) stream.on('error', () => {});
    const { tcp } = server.addresses;
    const httpAddress = httpServer === undefined ? '' : ` http=${formatHostPort(httpServer.address)}`;
    io.stdout.write(`springbok ready socket=${socketPath}${tcp ? ` tcp=${tcp.host}:${tcp.port}` : ''}${httpAddress}${cluster !== undefined ? ` cluster=${clusterServers} replicas=${cluster.replicas}` : ''} data-dir=${dataDir} workers=${workers} languages=${engine.languages.join(',')} functions=${engine.list().length}\n`);
    await signalled;
    // Drain: no new connections; open ones get ERR_CLOSED for new work and the answers of what runs.
    httpServer?.stopListening();
    server.stopListening();
    await cluster?.stopServing();
    await engine.drain(drainMs);
    // Whatever holds the close up (a runtime thread stuck in native code), the process ends.
    setTimeout(() => hardExit(io, `the shutdown did not finish within ${kStopDeadlineMs} ms of the drain`), kStopDeadlineMs).unref();
    // The engine first: what still runs ends with ERR_CLOSED and is answered before the connections end.
    await engine.close();
    await httpServer?.close();
    await server.close();
    await cluster?.close();
    io.stdout.write('springbok stopped\n');
    // A runtime thread that does not wind down (an isolate V8 would not terminate) must not keep the
    // process alive; process.exit() would wait for it too.
    setTimeout(() => hardExit(io, 'a runtime thread did not end after the shutdown'), 2000).unref();
    return ExitCode.ok;
  },
};

/** How long the close after the drain may take before the process ends without finishing it, in ms. */
const kStopDeadlineMs = 10_000;

/**
 * Ends the process now. process.exit() joins the worker threads, which a thread stuck in native
 * code never lets happen; SIGKILL to ourselves cannot be held up (stderr to a pipe or file is
 * written synchronously, so the line gets out first).
 */
function hardExit (io: { readonly stderr: NodeJS.WritableStream }, why: string): void {
  io.stderr.write(`springbok: ${why}; stopping now\n`);
  process.kill(process.pid, 'SIGKILL');
}

/** host:port, with brackets around an IPv6 host so the port stays readable. */
function formatHostPort (address: { readonly host: string, readonly port: number }): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
