import { chmod, lstat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Engine } from '../engine/index.ts';
import { EngineError } from '../engine/errors.ts';
import { Connection, type ConnectionLimits } from './connection.ts';
import { kDefaultMaxFrameBytes } from './protocol.ts';

export interface SocketServerOptions {
  readonly engine: Engine;
  /** Unix socket path; created owner-only (0600). */
  readonly socketPath?: string;
  /** TCP address; the host defaults to loopback. */
  readonly listen?: { readonly host: string, readonly port: number };
  readonly maxFrameBytes?: number;
  readonly maxInFlightPerConnection?: number;
  readonly maxPendingWriteBytes?: number;
  /** Required on deploy and remove when set. */
  readonly deployToken?: string;
}

export interface ServerAddresses {
  readonly socketPath?: string;
  readonly tcp?: { readonly host: string, readonly port: number };
}

/** Serves the wire protocol (dispatchers/protocol.ts) on a unix socket and/or a TCP port. */
export class SocketServer {
  readonly #servers: Server[] = [];
  readonly #connections = new Set<Connection>();
  readonly #addresses: { socketPath?: string, tcp?: { host: string, port: number } } = {};
  #closed = false;
  /** Settles once every listener has closed and its connections have ended. */
  #listenersClosed: Promise<unknown> | undefined;

  private constructor () {}

  /**
   * Starts listening. A unix socket path left behind by a dead engine is replaced; one that an
   * engine still answers on is refused.
   * @throws {EngineError} ERR_INVALID_ARGUMENT when neither address is given or the socket is in use.
   */
  static async start (options: SocketServerOptions): Promise<SocketServer> {
    if (options.socketPath === undefined && options.listen === undefined) throw new EngineError('ERR_INVALID_ARGUMENT', 'give a socket path, a TCP address or both');
    const limits: ConnectionLimits = {
      maxFrameBytes: options.maxFrameBytes ?? kDefaultMaxFrameBytes,
      maxInFlightPerConnection: options.maxInFlightPerConnection ?? 4096,
      maxPendingWriteBytes: options.maxPendingWriteBytes ?? 8 * 2 ** 20,
      deployToken: options.deployToken,
    };
    const server = new SocketServer();
    try {
      if (options.socketPath !== undefined) {
        await removeStaleSocket(options.socketPath);
        await server.#listen(options.engine, limits, (s) => s.listen(options.socketPath));
        await chmod(options.socketPath, 0o600);
        server.#addresses.socketPath = options.socketPath;
      }
      if (options.listen !== undefined) {
        const tcp = await server.#listen(options.engine, limits, (s) => s.listen(options.listen!.port, options.listen!.host));
        const address = tcp.address();
        if (address !== null && typeof address === 'object') {
          server.#addresses.tcp = { host: address.address, port: address.port };
          options.engine.protectAddress(address.address, address.port);
        }
      }
    } catch (error) {
      await server.close();
      throw error;
    }
    return server;
  }

  get addresses (): ServerAddresses { return this.#addresses; }

  /** Stops accepting connections; those open are served until close() (a draining engine refuses their new requests). Idempotent. */
  stopListening (): void {
    this.#listenersClosed ??= Promise.all(this.#servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  /** Stops listening and ends every connection after what was written to it (their invocations are cancelled). Idempotent. */
  async close (): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stopListening();
    for (const connection of this.#connections) connection.end();
    await this.#listenersClosed;
    if (this.#addresses.socketPath !== undefined) await unlink(this.#addresses.socketPath).catch(() => {});
  }

  #listen (engine: Engine, limits: ConnectionLimits, start: (server: Server) => void): Promise<Server> {
    const server = createServer((socket: Socket) => {
      if (this.#closed) { socket.destroy(); return; }
      const connection = new Connection(socket, engine, limits);
      this.#connections.add(connection);
      socket.on('close', () => this.#connections.delete(connection));
    });
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        // After start-up, a failing accept must not take the engine down.
        server.on('error', () => {});
        resolve(server);
      });
      start(server);
    });
  }
}

async function removeStaleSocket (path: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (stat === undefined) return;
  if (!stat.isSocket()) throw new EngineError('ERR_INVALID_ARGUMENT', `${path} exists and is not a socket; refusing to replace it`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new EngineError('ERR_INVALID_ARGUMENT', `an engine is already serving on ${path}`);
  await unlink(path);
}
