/**
 * The hosts a function may reach, from its budget's `allowHosts`. An entry is
 * `[http://|https://]host[:port]`:
 *   example.com            http on 80 and https on 443
 *   example.com:8080       port 8080, http or https
 *   https://example.com    https on 443 only
 *   http://127.0.0.1:9000  http to that address and port only
 * Host names match exactly (no wildcards); IPv6 literals are written in brackets. Hosts are
 * compared as the URL parser writes them, so `2130706433`, `0x7f.1` and `127.1` are all the entry
 * 127.0.0.1, and `[::ffff:127.0.0.1]` is `[::ffff:7f00:1]`. A trailing dot (`localhost.`) is kept:
 * it is another name for the URL parser and for DNS. The allow-list only ever narrows: the
 * engine's deny list (destination.ts) refuses internal addresses whatever the entry names.
 */
export interface AllowRule {
  readonly scheme: 'http:' | 'https:' | undefined;
  readonly host: string;
  readonly port: number | undefined;
}

export const kAllowEntryPattern = /^(?:https?:\/\/)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

export function parseAllowEntry (entry: string): AllowRule {
  const match = /^(?:(https?):\/\/)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/i.exec(entry.toLowerCase());
  if (match === null) throw new Error(`not a host entry: ${entry}`);
  return {
    scheme: match[1] === undefined ? undefined : `${match[1]}:` as 'http:' | 'https:',
    host: canonicalHost(match[2]!),
    port: match[3] === undefined ? undefined : Number(match[3]),
  };
}

/** The rule that lets `url` through, if any. */
export function findRule (rules: readonly AllowRule[], url: URL): AllowRule | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return rules.find((rule) => rule.host === host
    && (rule.scheme === undefined || rule.scheme === url.protocol)
    && (rule.port === undefined ? port === (url.protocol === 'https:' ? 443 : 80) : rule.port === port));
}

/** The host as the URL parser writes it (the form `findRule` compares), without IPv6 brackets. */
function canonicalHost (host: string): string {
  let parsed: string;
  try {
    parsed = new URL(`http://${host}/`).hostname;
  } catch {
    parsed = host;
  }
  return parsed.replace(/^\[|\]$/g, '');
}
