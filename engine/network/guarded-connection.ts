import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** Where one request's socket goes: the checked address, never a fresh lookup. */
export interface ConnectionTarget {
  readonly address: string;
  readonly port: number;
  /** The URL's host without brackets: the TLS certificate must name it (and SNI carries it when it is a name). */
  readonly hostname: string;
  readonly tls: boolean;
}

/**
 * A `createConnection` for http.request that connects to `target.address` and, the moment the TCP
 * connection is up and before a byte of the request (or of a TLS handshake) is written, asks
 * `check` about the socket's real peer (`remoteAddress`, `remotePort`, `localAddress`). A reason
 * from `check` destroys the socket with `refuse(reason)`; nothing was sent.
 *
 * Our 'connect' listener is added before http.request can queue its writes, and Node writes them
 * from a 'connect' listener of its own, added later: listeners run in order, so ours runs first.
 * @param onConnected called once the peer passed the check.
 */
export function guardedConnection (target: ConnectionTarget, check: (peer: { address: string, port: number, localAddress: string | undefined }) => string | undefined, refuse: (reason: string) => Error, onConnected: () => void): () => Socket {
  return () => {
    const raw = netConnect({ host: target.address, port: target.port });
    raw.once('connect', () => {
      const reason = check({ address: raw.remoteAddress ?? target.address, port: raw.remotePort ?? target.port, localAddress: raw.localAddress });
      if (reason !== undefined) raw.destroy(refuse(reason));
      else onConnected();
    });
    if (!target.tls) return raw;
    // SNI must not carry an IP address (RFC 6066); the certificate is still checked against it.
    return tlsConnect({ socket: raw, host: target.hostname, ...(isIP(target.hostname) === 0 ? { servername: target.hostname } : {}), ALPNProtocols: ['http/1.1'] });
  };
}
