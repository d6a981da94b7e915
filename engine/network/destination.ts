import { lookup } from 'node:dns/promises';
import { classifyAddress, inRanges, type AddressRange } from './address-policy.ts';

/** Where a request may go, or why it may not. */
export type Destination =
  | { readonly address: string, readonly refused?: undefined }
  | { readonly refused: string, readonly address?: undefined };

/** Resolves a name to all its addresses (dns.lookup, as the OS would); replaceable in tests only through `resolveDestination`'s parameter. */
export type NameResolver = (host: string) => Promise<readonly string[]>;

const kLocalhostName = /^(?:[^.]+\.)*localhost\.?$/i;

const kSystemResolver: NameResolver = async (host) => (await lookup(host, { all: true })).map((answer) => answer.address);

/**
 * The address a request to `url` connects to, checked against the engine's deny list: an IP host
 * is used as the URL parser wrote it (so `2130706433`, `0x7f.1`, `0177.0.0.1` and `127.1` are
 * already 127.0.0.1 here), a name is resolved and every answer must pass (a tenant who controls a
 * name's DNS must not be able to slip one internal answer in). Only ranges the operator opened
 * (`opened`) let a non-public address through; the tenant's allow-list cannot.
 * @throws {Error} when the name does not resolve (the caller reports ERR_NETWORK).
 */
export async function resolveDestination (url: URL, opened: readonly AddressRange[], resolveName: NameResolver = kSystemResolver): Promise<Destination> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (classifyAddress(host) !== undefined) {
    const refused = refusalFor(host, opened);
    return refused === undefined ? { address: host } : { refused: `${host} ${refused}` };
  }
  // RFC 6761: localhost names are loopback, whatever a resolver says (some do not know "localhost." with its dot, some send "x.localhost" to DNS).
  const answers = kLocalhostName.test(host) ? ['127.0.0.1'] : await resolveName(host);
  if (answers.length === 0) return { refused: `${host} resolves to nothing` };
  for (const address of answers) {
    const refused = refusalFor(address, opened);
    if (refused !== undefined) return { refused: `${host} resolves to ${address}, which ${refused}` };
  }
  return { address: answers[0]! };
}

/**
 * Why the deny list refuses `address`, or undefined when it may be reached: public, or in a range
 * the operator opened. The text follows the address ("127.0.0.1 is not a public address ...").
 */
export function refusalFor (address: string, opened: readonly AddressRange[]): string | undefined {
  const found = classifyAddress(address);
  if (found === undefined) return 'is not an IP address';
  if (found.isPublic || inRanges(address, opened)) return undefined;
  return `is not a public address (${found.range}): the engine's network deny list refuses it whatever the allow-list says (an operator opens ranges with serve --net-allow-private)`;
}
