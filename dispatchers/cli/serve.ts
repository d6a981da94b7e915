import { Engine } from '../../engine/index.ts';
import { kDefaultOptions } from '../../engine/options.ts';
import { kDefaultMaxFrameBytes } from '../protocol.ts';
import { HttpServer } from '../http/http-server.ts';
import { EngineMetrics } from '../http/metrics.ts';
import { SocketServer } from '../socket-server.ts';
import { budgetFromFlags, defaultDataDir, defaultSocketPath, ExitCode, integerFlag, kBudgetHelp, kBudgetOptions, parse, parseHostPort, usageError, type CliIo, type Command } from './common.ts';
import { defaultPlugins } from './plugins.ts';

const help = `Usage: springbok serve [options]

Runs the engine: loads the stored functions, then serves deploy/execute/... on a unix socket
(and on TCP when --listen is given) until SIGINT or SIGTERM.

Options:
  --socket PATH                 unix socket to serve on, created owner-only (default: $SPRINGBOK_SOCKET, else ${defaultSocketPath({})})
  --listen HOST:PORT            also serve on TCP; HOST defaults to 127.0.0.1 when only a port is given
  --http HOST:PORT              also serve HTTP (doc/http.md); HOST defaults to 127.0.0.1 when only a port is given
  --max-input-bytes N           largest HTTP invoke body accepted (default ${kDefaultMaxFrameBytes})
  --deploy-token TOKEN          require this token on deploy and remove (default: $SPRINGBOK_DEPLOY_TOKEN; none)
  --data-dir DIR                where deployed functions are stored (default: $SPRINGBOK_DATA_DIR, else ${defaultDataDir({})})
  --slice-ms MS                 scheduler time slice (default ${kDefaultOptions.sliceMs})
  --max-in-flight N             invocations in flight in the engine (default ${kDefaultOptions.maxInFlight})
  --max-in-flight-per-function N  the same per function (default ${kDefaultOptions.maxInFlightPerFunction})
  --max-frame-bytes N           largest protocol frame accepted (default ${kDefaultMaxFrameBytes})
  --max-source-bytes N          largest source a deploy accepts (default ${kDefaultOptions.maxSourceBytes})

Default budget for deploys that leave a field unset:
${kBudgetHelp.split('\n').slice(1).join('\n')}

Prints one line "springbok ready ..." on stdout once it accepts requests.
`;

export const serveCommand: Command = {
  summary: 'run the engine',
  help,
  async run (args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(args, {
      socket: { type: 'string' },
      listen: { type: 'string' },
      http: { type: 'string' },
      'max-input-bytes': { type: 'string' },
      'data-dir': { type: 'string' },
      'deploy-token': { type: 'string' },
      'slice-ms': { type: 'string' },
      'max-in-flight': { type: 'string' },
      'max-in-flight-per-function': { type: 'string' },
      'max-frame-bytes': { type: 'string' },
      'max-source-bytes': { type: 'string' },
      ...kBudgetOptions,
    }, help);
    if (positionals.length > 0) throw usageError(`serve takes no arguments: got ${positionals.join(' ')}`, help);
    const sliceMs = values['slice-ms'] === undefined ? kDefaultOptions.sliceMs : Number(values['slice-ms']);
    if (!(sliceMs > 0)) throw usageError(`--slice-ms must be a positive number: got ${JSON.stringify(values['slice-ms'])}`, help);
    const socketPath = typeof values.socket === 'string' ? values.socket : defaultSocketPath(io.env);
    const http = typeof values.http === 'string' ? parseHostPort(values.http, '--http', help) : undefined;
    const maxInputBytes = integerFlag(values, 'max-input-bytes', kDefaultMaxFrameBytes, 0, help);
    const maxSourceBytes = integerFlag(values, 'max-source-bytes', kDefaultOptions.maxSourceBytes, 1, help);
    const listen = typeof values.listen === 'string' ? parseHostPort(values.listen, '--listen', help) : undefined;
    const dataDir = typeof values['data-dir'] === 'string' ? values['data-dir'] : defaultDataDir(io.env);

    const engine = await Engine.open({
      plugins: defaultPlugins(),
      dataDir,
      sliceMs,
      maxInFlight: integerFlag(values, 'max-in-flight', kDefaultOptions.maxInFlight, 1, help),
      maxInFlightPerFunction: integerFlag(values, 'max-in-flight-per-function', kDefaultOptions.maxInFlightPerFunction, 1, help),
      maxSourceBytes,
      defaultBudget: budgetFromFlags(values, help),
      onWarning: (message) => io.stderr.write(`springbok: ${message}\n`),
    }).catch((error: Error) => { throw usageError(`cannot start the engine: ${error.message}`, help); });
    let server: SocketServer | undefined;
    let httpServer: HttpServer | undefined;
    try {
      const given = typeof values['deploy-token'] === 'string' ? values['deploy-token'] : io.env.SPRINGBOK_DEPLOY_TOKEN;
      const deployToken = given !== undefined && given !== '' ? given : undefined;
      server = await SocketServer.start({ engine, socketPath, listen, ...(deployToken !== undefined ? { deployToken } : {}), maxFrameBytes: integerFlag(values, 'max-frame-bytes', kDefaultMaxFrameBytes, 64, help) });
      if (http !== undefined) {
        httpServer = await HttpServer.start({ engine, host: http.host, port: http.port, maxSourceBytes, maxInputBytes, metrics: new EngineMetrics(engine), ...(deployToken !== undefined ? { deployToken } : {}) });
      }
    } catch (error) {
      await server?.close();
      await engine.close();
      throw usageError(`cannot listen: ${(error as Error).message}`, help);
    }
    const { tcp } = server.addresses;
    const httpAddress = httpServer === undefined ? '' : ` http=${formatHostPort(httpServer.address)}`;
    io.stdout.write(`springbok ready socket=${socketPath}${tcp ? ` tcp=${tcp.host}:${tcp.port}` : ''}${httpAddress} data-dir=${dataDir} languages=${engine.languages.join(',')} functions=${engine.list().length}\n`);

    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await httpServer?.close();
    await server.close();
    await engine.close();
    io.stdout.write('springbok stopped\n');
    // A runtime thread that does not wind down (a V8 isolate stuck in a guest allocation) must not keep the process alive.
    setTimeout(() => process.exit(0), 2000).unref();
    return ExitCode.ok;
  },
};

/** host:port, with brackets around an IPv6 host so the port stays readable. */
function formatHostPort (address: { readonly host: string, readonly port: number }): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
