import { isIPv4, isIPv6 } from 'node:net';

/**
 * What an IP address is, for the engine's network deny list. Every special-purpose range of the
 * IANA IPv4 and IPv6 special-purpose registries that is not globally reachable is named here, so a
 * function can reach neither the engine's machine nor its network (loopback, private, link-local
 * with the cloud metadata service, CGNAT, ...) in any spelling. IPv6 forms that embed an IPv4
 * address (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) are judged by that address too: on
 * Linux `::ffff:127.0.0.1` connects to 127.0.0.1, and a NAT64 gateway turns `64:ff9b::a00:1` into
 * 10.0.0.1 on its side.
 *
 * The table is our own rather than net.BlockList: BlockList matches an IPv4 rule against the
 * IPv4-mapped form only (not NAT64, 6to4 or IPv4-compatible), lets an IPv6 rule such as
 * `::ffff:0:0/96` match every IPv4 address, and cannot say which range matched, which the error
 * message names. IPv6 outside the ranges below and outside global unicast (2000::/3) is refused
 * too, so a range the registries add there later is refused before it is named here.
 */
export interface AddressClass {
  /** The address in canonical form (IPv6 lowercase and compressed as the URL parser writes it). */
  readonly address: string;
  /** 'public', or the name of the special range, e.g. 'loopback' or 'loopback (IPv4-mapped 127.0.0.1)'. */
  readonly range: string;
  readonly isPublic: boolean;
  /** The IPv4 address an IPv6 transition form carries, when it carries one. */
  readonly embedded?: string;
}

/** A parsed address: 4 bytes for IPv4, 16 for IPv6. */
type AddressBytes = Uint8Array;

/** How an IPv6 transition range carries an IPv4 address, and whether a public one makes the whole address public. */
interface Embedding {
  readonly extract: (bytes: AddressBytes) => AddressBytes;
  /** True where the address reaches exactly the embedded IPv4 host (mapped, NAT64): public when that host is. */
  readonly publicWhenEmbeddedIs: boolean;
}

interface Range {
  readonly bytes: AddressBytes;
  readonly bits: number;
  readonly name: string;
  readonly embedding?: Embedding;
}

const kLast4: Embedding['extract'] = (bytes) => bytes.slice(12, 16);

/** Special-purpose ranges (IANA registries as of 2024, plus the cloud metadata addresses named for the message). */
const kSpecialRangeTable: readonly (readonly [cidr: string, name: string, embedding?: Embedding])[] = [
  ['0.0.0.0/32', 'unspecified'],
  ['0.0.0.0/8', 'this network (0/8, connects to this machine)'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared (carrier-grade NAT)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.169.254/32', 'cloud metadata (link-local)'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', 'deprecated 6to4 relay anycast'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::ffff:0:0/96', 'IPv4-mapped', { extract: kLast4, publicWhenEmbeddedIs: true }],
  ['::/96', 'IPv4-compatible (deprecated)', { extract: kLast4, publicWhenEmbeddedIs: false }],
  ['64:ff9b::/96', 'NAT64', { extract: kLast4, publicWhenEmbeddedIs: true }],
  ['64:ff9b:1::/48', 'local-use NAT64', { extract: kLast4, publicWhenEmbeddedIs: false }],
  ['100::/64', 'discard-only'],
  // Teredo carries the client's public IPv4 address inverted in the last 32 bits.
  ['2001::/32', 'Teredo', { extract: (bytes: AddressBytes) => bytes.slice(12, 16).map((byte) => byte ^ 0xff), publicWhenEmbeddedIs: false }],
  ['2001:2::/48', 'benchmarking'],
  ['2001::/23', 'IETF protocol assignments'],
  ['2001:db8::/32', 'documentation'],
  ['2002::/16', '6to4', { extract: (bytes: AddressBytes) => bytes.slice(2, 6), publicWhenEmbeddedIs: false }],
  ['3fff::/20', 'documentation'],
  ['5f00::/16', 'segment routing (SRv6)'],
  ['fd00:ec2::254/128', 'cloud metadata (unique local)'],
  ['fc00::/7', 'unique local (private)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local (deprecated)'],
  ['ff00::/8', 'multicast'],
];

const kSpecialRanges: readonly Range[] = kSpecialRangeTable.map(([cidr, name, embedding]) => ({ ...parseRangeOrThrow(cidr), name, ...(embedding !== undefined ? { embedding } : {}) }))
  // Longest prefix first, so the most specific range names an address.
  .sort((a, b) => b.bits - a.bits);

/** Global unicast, 2000::/3: IPv6 outside it and outside the ranges above is unassigned or reserved. */
const kGlobalUnicast = parseRangeOrThrow('2000::/3');

/**
 * Classifies an IP address (IPv4 dotted decimal or IPv6, without brackets; a zone id is ignored).
 * @returns undefined when `address` is not an IP address (a host name).
 */
export function classifyAddress (address: string): AddressClass | undefined {
  const bytes = addressBytes(address);
  if (bytes === undefined) return undefined;
  return classifyBytes(bytes);
}

/** True only for a globally reachable unicast address. */
export function isPublicAddress (address: string): boolean {
  return classifyAddress(address)?.isPublic ?? false;
}

function classifyBytes (bytes: AddressBytes): AddressClass {
  const address = formatBytes(bytes);
  const range = kSpecialRanges.find((candidate) => inRange(bytes, candidate));
  if (range === undefined) {
    if (bytes.length === 16 && !inRange(bytes, kGlobalUnicast)) return { address, range: 'reserved (outside IPv6 global unicast 2000::/3)', isPublic: false };
    return { address, range: 'public', isPublic: true };
  }
  if (range.embedding === undefined) return { address, range: range.name, isPublic: false };
  const inner = classifyBytes(range.embedding.extract(bytes));
  if (!inner.isPublic) return { address, range: `${inner.range} (${range.name} ${inner.address})`, isPublic: false, embedded: inner.address };
  return { address, range: range.embedding.publicWhenEmbeddedIs ? 'public' : range.name, isPublic: range.embedding.publicWhenEmbeddedIs, embedded: inner.address };
}

/** An address range an operator opened (`--net-allow-private`): CIDR or a single address. */
export interface AddressRange {
  readonly bytes: AddressBytes;
  readonly bits: number;
}

/**
 * Parses `10.0.0.0/8`, `fd00::/8` or a lone address (`127.0.0.1` is `127.0.0.1/32`).
 * @returns undefined when the text is none of those, or host bits are set below the prefix (`10.0.0.1/8`, a likely typo).
 */
export function parseAddressRange (text: string): AddressRange | undefined {
  const match = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(text.trim());
  if (match === null) return undefined;
  const bytes = addressBytes(match[1]!.replace(/^\[|\]$/g, ''));
  if (bytes === undefined) return undefined;
  const bits = match[2] === undefined ? bytes.length * 8 : Number(match[2]);
  if (bits > bytes.length * 8) return undefined;
  const range = { bytes, bits };
  // Host bits set: the entry does not say what its writer meant.
  if (!bytes.every((byte, index) => (byte & ~maskByte(bits, index) & 0xff) === 0)) return undefined;
  return range;
}

/**
 * True when `address` lies in one of `ranges`. An IPv4 address and its IPv4-mapped form are one
 * host (the socket reports either), so each matches the ranges written in the other's family.
 */
export function inRanges (address: string, ranges: readonly AddressRange[]): boolean {
  const bytes = addressBytes(address);
  if (bytes === undefined) return false;
  const other = bytes.length === 4 ? mappedBytes(bytes) : unmappedBytes(bytes);
  return ranges.some((range) => inRange(bytes, range) || (other !== undefined && inRange(other, range)));
}

/**
 * The IPv4 address this address reaches on this machine, for addresses that are IPv4 in IPv6
 * clothing (`::ffff:127.0.0.1` → `127.0.0.1`); others are returned canonical.
 */
export function canonicalAddress (address: string): string {
  const bytes = addressBytes(address);
  if (bytes === undefined) return address.toLowerCase();
  return formatBytes(unmappedBytes(bytes) ?? bytes);
}

const kMappedPrefix = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff);

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), or undefined for any other address. */
function unmappedBytes (bytes: AddressBytes): AddressBytes | undefined {
  if (bytes.length !== 16 || !kMappedPrefix.every((byte, index) => bytes[index] === byte)) return undefined;
  return bytes.slice(12);
}

/** `::ffff:a.b.c.d` for the IPv4 address `a.b.c.d`. */
function mappedBytes (bytes: AddressBytes): AddressBytes {
  return Uint8Array.from([...kMappedPrefix, ...bytes]);
}

function parseRangeOrThrow (cidr: string): AddressRange {
  const range = parseAddressRange(cidr);
  if (range === undefined) throw new Error(`bad range in the address table: ${cidr}`);
  return range;
}

function inRange (bytes: AddressBytes, range: AddressRange): boolean {
  if (bytes.length !== range.bytes.length) return false;
  for (let index = 0; index * 8 < range.bits; index++) {
    const mask = maskByte(range.bits, index);
    if ((bytes[index]! & mask) !== (range.bytes[index]! & mask)) return false;
  }
  return true;
}

/** The prefix mask's byte at `index` for a prefix of `bits`. */
function maskByte (bits: number, index: number): number {
  const inByte = Math.min(8, Math.max(0, bits - index * 8));
  return (0xff << (8 - inByte)) & 0xff;
}

function addressBytes (text: string): AddressBytes | undefined {
  const address = text.replace(/%.*$/, '');
  if (isIPv4(address)) return Uint8Array.from(address.split('.').map(Number));
  if (!isIPv6(address)) return undefined;
  // A trailing dotted quad becomes two groups, then "::" is expanded to the zero groups it stands for.
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  let groupsText = address.toLowerCase();
  if (dotted !== null) {
    const [a, b, c, d] = dotted[2]!.split('.').map(Number) as [number, number, number, number];
    groupsText = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = groupsText.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups].map((group) => parseInt(group, 16));
  if (groups.length !== 8 || groups.some((group) => !(group >= 0 && group <= 0xffff))) return undefined;
  return Uint8Array.from(groups.flatMap((group) => [group >> 8, group & 0xff]));
}

/** IPv4 dotted, IPv6 as the URL parser writes it (lowercase, longest zero run as "::"), so messages show the URL's own spelling. */
function formatBytes (bytes: AddressBytes): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const groups = Array.from({ length: 8 }, (_, index) => (bytes[index * 2]! << 8) | bytes[index * 2 + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8;) {
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) [bestStart, bestLength] = [start, end - start];
    start = end === start ? start + 1 : end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
