import type { NatsConnection } from '@nats-io/nats-core';
import type { Engine } from '../engine.ts';
import { ClusterStore } from './cluster-store.ts';
import { connectCluster, replicasFor } from './connection.ts';
import { InvocationServer } from './invocation-server.ts';

/**
 * An engine's membership of a cluster (`serve --cluster`): its NATS connection, the shared
 * registry it hands the engine as its store (cluster-store.ts), and, once the engine is open, the
 * invocation server that takes its share of the cluster's calls (invocation-server.ts).
 * serve.ts imports this module only with --cluster, so a single engine never loads the NATS client.
 */
export class ClusterNode {
  readonly store: ClusterStore;
  /** Copies JetStream keeps of the buckets this engine created or found. */
  readonly replicas: number;
  readonly #connection: NatsConnection;
  #server: InvocationServer | undefined;

  private constructor (connection: NatsConnection, store: ClusterStore, replicas: number) {
    this.#connection = connection;
    this.store = store;
    this.replicas = replicas;
  }

  /** Connects and opens (or creates) the cluster's buckets. @throws {EngineError} ERR_CONNECTION, ERR_UNAVAILABLE. */
  static async join (servers: string, onWarning: (message: string) => void): Promise<ClusterNode> {
    const connection = await connectCluster(servers, `springbok engine ${process.pid}`);
    try {
      const replicas = replicasFor(connection, servers);
      return new ClusterNode(connection, await ClusterStore.open(connection, replicas, onWarning), replicas);
    } catch (error) {
      await connection.close();
      throw error;
    }
  }

  /** Starts taking the cluster's invocations; at most `maxInFlight` at once from the cluster. */
  async serve (engine: Engine, maxInFlight: number): Promise<void> {
    this.#server = await InvocationServer.start(this.#connection, engine, maxInFlight);
  }

  /** Takes no more calls from the cluster; those received are still answered. */
  async stopServing (): Promise<void> {
    await this.#server?.stop();
  }

  /** Leaves the cluster: what was sent goes out, then the connection closes. Close the engine first. */
  async close (): Promise<void> {
    await this.#connection.drain().catch(() => {});
  }
}
