import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { EngineError } from '../errors.ts';
import { splitServers } from './servers.ts';

/**
 * The connection of an engine or a client to the NATS servers of a cluster. It reconnects for as
 * long as the process lives: a NATS server that goes away (kill, restart, network) is replaced by
 * another of the cluster, which the servers' gossip tells the client even when `--cluster` named
 * only one.
 */
export async function connectCluster (servers: string, clientName: string): Promise<NatsConnection> {
  try {
    return await connect({
      servers: splitServers(servers),
      name: clientName,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // A dead server must be noticed within seconds, not the default two minutes of pings.
      pingInterval: 5_000,
      maxPingOut: 2,
    });
  } catch (error) {
    throw new EngineError('ERR_CONNECTION', `cannot reach the NATS servers ${servers}: ${(error as Error).message}`);
  }
}

/**
 * How many copies JetStream keeps of the cluster's buckets: one per NATS server, at most three
 * (RAFT with three survives one server lost; five would cost every write a wider quorum).
 */
export function replicasFor (connection: NatsConnection, servers: string): number {
  const gossiped = connection.info?.connect_urls?.length ?? 0;
  return Math.max(1, Math.min(3, Math.max(gossiped, splitServers(servers).length)));
}

/**
 * Runs `attempt` until it succeeds or `deadlineMs` passes: JetStream answers "temporarily
 * unavailable" while a freshly started cluster elects its leaders, and a bucket being created by
 * another engine at the same moment may not be readable yet.
 */
export async function retryWhileStarting<T> (what: string, deadlineMs: number, attempt: () => Promise<T>): Promise<T> {
  const giveUpAt = performance.now() + deadlineMs;
  for (let delayMs = 100; ; delayMs = Math.min(delayMs * 2, 1_000)) {
    try {
      return await attempt();
    } catch (error) {
      if (performance.now() + delayMs > giveUpAt) throw new EngineError('ERR_UNAVAILABLE', `${what}: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
