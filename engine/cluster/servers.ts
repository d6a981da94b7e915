/**
 * The NATS servers of a cluster as the user gives them (`--cluster`, SPRINGBOK_CLUSTER, "cluster"
 * in a config file): comma-separated nats://HOST:PORT URLs. Checked here, before anything of the
 * NATS client is loaded, so a typo stops the engine or the command at once with exit status 2.
 */

/** How long a call through the cluster waits for its answer by default, in ms: past the default wall budget (10 s) with room to spare. */
export const kDefaultClusterTimeoutMs = 30_000;

/** Why a `--cluster` value is not a list of servers, or undefined when it is one. */
export function clusterServersProblem (text: string): string | undefined {
  const servers = splitServers(text);
  if (servers.length === 0) return 'must name at least one NATS server, e.g. nats://127.0.0.1:4222';
  for (const server of servers) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      return `${JSON.stringify(server)} is not a URL (nats://HOST:PORT)`;
    }
    if (url.protocol !== 'nats:' && url.protocol !== 'tls:') return `${JSON.stringify(server)} must start with nats:// or tls://`;
    if (url.hostname === '') return `${JSON.stringify(server)} names no host`;
  }
  return undefined;
}

/** The servers of a `--cluster` value, in the order given. */
export function splitServers (text: string): string[] {
  return text.split(',').map((server) => server.trim()).filter((server) => server !== '');
}
