import { networkInterfaces } from 'node:os';
import { canonicalAddress, classifyAddress, inRanges, parseAddressRange, type AddressRange } from './address-policy.ts';

/** Addresses that always mean this machine: loopback, and the unspecified ones (Linux connects 0.0.0.0 and :: to loopback). */
const kThisMachine: readonly AddressRange[] = ['127.0.0.0/8', '0.0.0.0/8', '::1/128', '::/128'].map((cidr) => parseAddressRange(cidr)!);

/**
 * True when a connection to `address`:`port` would reach one of the engine's own listening
 * sockets, in any spelling of the address: `0.0.0.0`, `[::ffff:7f00:1]`, `[::127.0.0.1]`, or one of
 * this machine's interface addresses when the engine listens on a wildcard.
 *
 * `isEngineAddress` is the engine's own record of what it listens on (exact "ip:port" or a
 * wildcard for the port). Only addresses of this machine are put to it: a wildcard listen on
 * port 8080 must not refuse a remote server's port 8080.
 * @param localAddress the connected socket's local address, when connected: a peer that is the
 *   socket's own local address is this machine whatever its interfaces say.
 */
export function reachesEngine (address: string, port: number, isEngineAddress: (address: string, port: number) => boolean, localAddress?: string): boolean {
  const peer = canonicalAddress(address);
  const local = [...interfaceAddresses(), ...(localAddress === undefined ? [] : [canonicalAddress(localAddress)])];
  const embedded = classifyAddress(peer)?.embedded;
  const thisMachine = inRanges(peer, kThisMachine) || (embedded !== undefined && inRanges(embedded, kThisMachine)) || local.includes(peer);
  if (!thisMachine) return false;
  // Any address of this machine can reach a listener on loopback (via 0.0.0.0) or on a wildcard: ask for every one.
  return [peer, '127.0.0.1', '::1', ...local].some((candidate) => isEngineAddress(candidate, port));
}

function interfaceAddresses (): string[] {
  return Object.values(networkInterfaces()).flatMap((entries) => (entries ?? []).map((entry) => canonicalAddress(entry.address)));
}
