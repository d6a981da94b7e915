import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { canonicalAddress, classifyAddress, inRanges, parseAddressRange } from '../../engine/network/address-policy.ts';
import { resolveDestination, type NameResolver } from '../../engine/network/destination.ts';

/** For requests whose host is an IP address in any spelling: the system resolver must never see them. */
const kNoResolver: NameResolver = async (host) => assert.fail(`${host} was sent to the name resolver`);

/**
 * Every spelling of an internal address, through the path ctx.fetch takes: the WHATWG URL parser,
 * then resolveDestination. The URL parser rewrites every IPv4 spelling glibc's inet_aton accepts
 * (decimal, hex, octal, short, with a trailing dot) and more (full-width digits, the ideographic
 * full stop, a percent-encoded dot) to dotted decimal, and writes IPv6 lowercase and compressed;
 * the engine only ever sees that `address`, and connects to it.
 */
const kForms: readonly { readonly host: string, readonly address: string, readonly range: RegExp }[] = [
  { host: '127.0.0.1', address: '127.0.0.1', range: /^loopback$/ },
  { host: '2130706433', address: '127.0.0.1', range: /^loopback$/ },
  { host: '0x7f000001', address: '127.0.0.1', range: /^loopback$/ },
  { host: '017700000001', address: '127.0.0.1', range: /^loopback$/ },
  { host: '0x7f.1', address: '127.0.0.1', range: /^loopback$/ },
  { host: '0177.0.0.1', address: '127.0.0.1', range: /^loopback$/ },
  { host: '00000177.0.0.1', address: '127.0.0.1', range: /^loopback$/ },
  { host: '0177.1', address: '127.0.0.1', range: /^loopback$/ },
  { host: '127.1', address: '127.0.0.1', range: /^loopback$/ },
  { host: '127.0.1', address: '127.0.0.1', range: /^loopback$/ },
  { host: '127.0.0.1.', address: '127.0.0.1', range: /^loopback$/ },
  { host: '127.0.0.011', address: '127.0.0.9', range: /^loopback$/ },
  { host: '１２７.0.0.1', address: '127.0.0.1', range: /^loopback$/ },
  { host: '127。0。0。1', address: '127.0.0.1', range: /^loopback$/ },
  { host: '127%2e0.0.1', address: '127.0.0.1', range: /^loopback$/ },
  { host: '127.255.255.254', address: '127.255.255.254', range: /^loopback$/ },
  { host: 'localhost', address: '127.0.0.1', range: /^loopback$/ },
  { host: 'localhost.', address: '127.0.0.1', range: /^loopback$/ },
  { host: 'tenant.localhost', address: '127.0.0.1', range: /^loopback$/ },
  { host: '[::1]', address: '::1', range: /^loopback$/ },
  { host: '[0000:0000:0000:0000:0000:0000:0000:0001]', address: '::1', range: /^loopback$/ },
  { host: '[::0.0.0.1]', address: '::1', range: /^loopback$/ },
  { host: '[::127.0.0.1]', address: '::7f00:1', range: /^loopback \(IPv4-compatible \(deprecated\) 127\.0\.0\.1\)$/ },
  { host: '[::10.0.0.1]', address: '::a00:1', range: /^private \(IPv4-compatible/ },
  { host: '[::ffff:7f00:1]', address: '::ffff:7f00:1', range: /^loopback \(IPv4-mapped 127\.0\.0\.1\)$/ },
  { host: '[::FFFF:7F00:1]', address: '::ffff:7f00:1', range: /^loopback \(IPv4-mapped 127\.0\.0\.1\)$/ },
  { host: '[::ffff:127.0.0.1]', address: '::ffff:7f00:1', range: /^loopback \(IPv4-mapped 127\.0\.0\.1\)$/ },
  { host: '[0:0:0:0:0:ffff:127.0.0.1]', address: '::ffff:7f00:1', range: /^loopback \(IPv4-mapped 127\.0\.0\.1\)$/ },
  { host: '[::ffff:169.254.169.254]', address: '::ffff:a9fe:a9fe', range: /^cloud metadata \(link-local\) \(IPv4-mapped/ },
  { host: '[::ffff:100.64.0.1]', address: '::ffff:6440:1', range: /^shared \(carrier-grade NAT\) \(IPv4-mapped 100\.64\.0\.1\)$/ },
  { host: '[::ffff:224.0.0.1]', address: '::ffff:e000:1', range: /^multicast \(IPv4-mapped/ },
  { host: '[::ffff:0.0.0.0]', address: '::ffff:0:0', range: /^unspecified \(IPv4-mapped 0\.0\.0\.0\)$/ },
  // SIIT's IPv4-translated form is not routed to the IPv4 host; it is outside global unicast.
  { host: '[::ffff:0:7f00:1]', address: '::ffff:0:7f00:1', range: /^reserved \(outside IPv6 global unicast/ },
  { host: '[64:ff9b::7f00:1]', address: '64:ff9b::7f00:1', range: /^loopback \(NAT64 127\.0\.0\.1\)$/ },
  { host: '[64:ff9b::127.0.0.1]', address: '64:ff9b::7f00:1', range: /^loopback \(NAT64 127\.0\.0\.1\)$/ },
  { host: '[64:ff9b::a9fe:a9fe]', address: '64:ff9b::a9fe:a9fe', range: /^cloud metadata \(link-local\) \(NAT64 169\.254\.169\.254\)$/ },
  { host: '[64:ff9b:1::a00:1]', address: '64:ff9b:1::a00:1', range: /^private \(local-use NAT64 10\.0\.0\.1\)$/ },
  { host: '[2002:7f00:1::]', address: '2002:7f00:1::', range: /^loopback \(6to4 127\.0\.0\.1\)$/ },
  { host: '[2002:7f00:0001:0000::]', address: '2002:7f00:1::', range: /^loopback \(6to4 127\.0\.0\.1\)$/ },
  { host: '[2002:a9fe:a9fe::1]', address: '2002:a9fe:a9fe::1', range: /^cloud metadata \(link-local\) \(6to4 169\.254\.169\.254\)$/ },
  { host: '[2002:808:808::]', address: '2002:808:808::', range: /^6to4$/ },
  { host: '0.0.0.0', address: '0.0.0.0', range: /^unspecified$/ },
  { host: '0', address: '0.0.0.0', range: /^unspecified$/ },
  { host: '0x', address: '0.0.0.0', range: /^unspecified$/ },
  { host: '0.1.2.3', address: '0.1.2.3', range: /^this network/ },
  { host: '[::]', address: '::', range: /^unspecified$/ },
  { host: '[::0.0.0.0]', address: '::', range: /^unspecified$/ },
  { host: '10.1.2.3', address: '10.1.2.3', range: /^private$/ },
  { host: '172.16.0.1', address: '172.16.0.1', range: /^private$/ },
  { host: '172.31.255.255', address: '172.31.255.255', range: /^private$/ },
  { host: '192.168.1.1', address: '192.168.1.1', range: /^private$/ },
  { host: '[fd00::]', address: 'fd00::', range: /^unique local/ },
  { host: '[fc00::1]', address: 'fc00::1', range: /^unique local/ },
  { host: '169.254.169.254', address: '169.254.169.254', range: /^cloud metadata/ },
  { host: '0xa9fea9fe', address: '169.254.169.254', range: /^cloud metadata/ },
  { host: '0xa9.0xfe.0xa9.0xfe', address: '169.254.169.254', range: /^cloud metadata/ },
  { host: '[fd00:ec2::254]', address: 'fd00:ec2::254', range: /^cloud metadata/ },
  { host: '169.254.0.1', address: '169.254.0.1', range: /^link-local$/ },
  { host: '169.254.1.1', address: '169.254.1.1', range: /^link-local$/ },
  { host: '[fe80::1]', address: 'fe80::1', range: /^link-local$/ },
  { host: '[febf:ffff::1]', address: 'febf:ffff::1', range: /^link-local$/ },
  { host: '[fec0::1]', address: 'fec0::1', range: /^site-local/ },
  { host: '100.64.0.0', address: '100.64.0.0', range: /carrier-grade NAT/ },
  { host: '100.64.0.1', address: '100.64.0.1', range: /carrier-grade NAT/ },
  { host: '100.127.255.255', address: '100.127.255.255', range: /carrier-grade NAT/ },
  { host: '224.0.0.0', address: '224.0.0.0', range: /^multicast$/ },
  { host: '224.0.0.1', address: '224.0.0.1', range: /^multicast$/ },
  { host: '239.255.255.250', address: '239.255.255.250', range: /^multicast$/ },
  { host: '239.255.255.255', address: '239.255.255.255', range: /^multicast$/ },
  { host: '[ff02::1]', address: 'ff02::1', range: /^multicast$/ },
  { host: '[ff0e::1]', address: 'ff0e::1', range: /^multicast$/ },
  { host: '255.255.255.255', address: '255.255.255.255', range: /^broadcast$/ },
  { host: '4294967295', address: '255.255.255.255', range: /^broadcast$/ },
  { host: '240.0.0.1', address: '240.0.0.1', range: /^reserved$/ },
  { host: '192.0.0.170', address: '192.0.0.170', range: /^IETF protocol assignments$/ },
  { host: '192.0.2.1', address: '192.0.2.1', range: /^documentation$/ },
  { host: '198.51.100.7', address: '198.51.100.7', range: /^documentation$/ },
  { host: '203.0.113.9', address: '203.0.113.9', range: /^documentation$/ },
  { host: '[2001:db8::1]', address: '2001:db8::1', range: /^documentation$/ },
  { host: '[3fff::1]', address: '3fff::1', range: /^documentation$/ },
  { host: '198.18.0.1', address: '198.18.0.1', range: /^benchmarking$/ },
  { host: '198.19.255.255', address: '198.19.255.255', range: /^benchmarking$/ },
  { host: '[2001:2::1]', address: '2001:2::1', range: /^benchmarking$/ },
  { host: '192.88.99.1', address: '192.88.99.1', range: /6to4 relay/ },
  { host: '[100::1]', address: '100::1', range: /^discard-only$/ },
  { host: '[5f00::1]', address: '5f00::1', range: /^segment routing/ },
  { host: '[2001::1]', address: '2001::1', range: /Teredo/ },
  { host: '[2001:0:4136:e378:8000:63bf:80ff:fffe]', address: '2001:0:4136:e378:8000:63bf:80ff:fffe', range: /^loopback \(Teredo 127\.0\.0\.1\)$/ },
  { host: '[4000::1]', address: '4000::1', range: /outside IPv6 global unicast/ },
];

/** Public addresses stay reachable (the deny list must not refuse the internet). */
const kPublic: readonly { readonly host: string, readonly address: string }[] = [
  { host: '93.184.215.14', address: '93.184.215.14' },
  { host: '1.1.1.1', address: '1.1.1.1' },
  { host: '8.8.8.8', address: '8.8.8.8' },
  { host: '0x8080808', address: '8.8.8.8' },
  { host: '172.32.0.1', address: '172.32.0.1' },
  { host: '100.63.255.255', address: '100.63.255.255' },
  { host: '100.128.0.1', address: '100.128.0.1' },
  { host: '169.253.255.255', address: '169.253.255.255' },
  { host: '198.20.0.1', address: '198.20.0.1' },
  { host: '223.255.255.255', address: '223.255.255.255' },
  { host: '[2606:4700::1]', address: '2606:4700::1' },
  { host: '[2a00:1450:4001::200e]', address: '2a00:1450:4001::200e' },
  { host: '[::ffff:93.184.215.14]', address: '::ffff:5db8:d70e' },
  { host: '[64:ff9b::808:808]', address: '64:ff9b::808:808' },
  { host: '[64:ff9b::8.8.8.8]', address: '64:ff9b::808:808' },
];

const withoutBrackets = (host: string): string => host.replace(/^\[|\]$/g, '');

for (const { host, address, range } of kForms) {
  test(`deny list: http://${host}/ connects to ${address}, refused as ${range.source}`, async () => {
    const url = new URL(`http://${host}:8080/path`);
    if (!host.includes('localhost')) assert.equal(withoutBrackets(url.hostname), address, 'what the URL parser hands the engine');
    const destination = await resolveDestination(url, [], kNoResolver);
    assert.ok(destination.refused !== undefined, `${host} was let through to ${destination.address}`);
    assert.match(destination.refused, /is not a public address/);
    assert.match(destination.refused, /net-allow-private/, 'the message says how an operator opens it');
    const found = classifyAddress(address);
    assert.equal(found?.isPublic, false);
    assert.equal(found.address, address);
    assert.match(found.range, range);
    assert.ok(destination.refused.includes(`(${found.range})`), `${destination.refused} names the range ${found.range}`);
  });
}

for (const { host, address } of kPublic) {
  test(`deny list: http://${host}/ is public and stays reachable`, async () => {
    const destination = await resolveDestination(new URL(`https://${host}/`), [], kNoResolver);
    assert.deepEqual(destination, { address });
  });
}

test('the address classes are only for the canonical spelling: anything else is a name, sent to the resolver and judged by its answers', async () => {
  // The URL parser never hands these to the engine; a DNS answer is never written this way either.
  for (const text of ['2130706433', '0x7f000001', '0177.0.0.1', '127.1', '127.0.0.1.', ' 127.0.0.1', '[::1]', '1::2::3', '::g', '1.2.3.256']) {
    assert.equal(classifyAddress(text), undefined, text);
  }
  assert.equal(classifyAddress('fe80::1%eth0')?.range, 'link-local', 'a zone id (as in a DNS answer) is ignored');
  assert.equal(classifyAddress('FE80::1')?.address, 'fe80::1');
  const asked: string[] = [];
  const resolver: NameResolver = async (host) => { asked.push(host); return ['127.0.0.1']; };
  const byName = await resolveDestination(new URL('http://127.0.0.1.nip.io/'), [], resolver);
  assert.deepEqual(asked, ['127.0.0.1.nip.io']);
  assert.match(byName.refused ?? '', /^127\.0\.0\.1\.nip\.io resolves to 127\.0\.0\.1, which is not a public address \(loopback\)/);
});

/*
 * The oracle for the sweeps below: ranges written out from the IANA IPv4 and IPv6 special-purpose
 * registries (entries not globally reachable), and the ranges the engine refuses by design, matched
 * by Node's BlockList, not by the code under test.
 */
const kNotGloballyReachable4 = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/29',
  '192.0.0.8/32', '192.0.0.170/31', '192.0.2.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24',
  '203.0.113.0/24', '240.0.0.0/4', '255.255.255.255/32',
];
const kRefusedByDesign4 = [
  '192.0.0.0/24', // all of IETF protocol assignments, with its two global anycast addresses (.9 PCP, .10 TURN)
  '192.88.99.0/24', // the deprecated 6to4 relay anycast
  '224.0.0.0/4', // multicast is no unicast destination
];
const kNotGloballyReachable6 = [
  '::1/128', '::/128', '64:ff9b:1::/48', '100::/64', '100:0:0:1::/64', '2001::/23', '2001:2::/48', '2001:10::/28',
  '2001:db8::/32', '3fff::/20', '5f00::/16', 'fc00::/7', 'fe80::/10',
];
const kRefusedByDesign6 = [
  '2002::/16', // 6to4 is relayed to its IPv4 address by whoever runs a relay
  // and 2001::/23 whole (its global anycast and AMT, AS112, ORCHIDv2, drone ID blocks), everything outside 2000::/3
];
/** IPv6 ranges that reach exactly their last 32 bits as an IPv4 host: as public as that host. */
const kCarriesIPv4Host6 = ['::ffff:0:0/96', '64:ff9b::/96'];

function blockList (cidrs: readonly string[], family: 'ipv4' | 'ipv6'): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [network, bits] = cidr.split('/') as [string, string];
    list.addSubnet(network, Number(bits), family);
  }
  return list;
}

const kRefused4 = blockList([...kNotGloballyReachable4, ...kRefusedByDesign4], 'ipv4');
const kRefused6 = blockList([...kNotGloballyReachable6, ...kRefusedByDesign6], 'ipv6');
const kCarriesIPv4Host = blockList(kCarriesIPv4Host6, 'ipv6');
const kGlobalUnicast = blockList(['2000::/3'], 'ipv6');

/** Addresses as integers, spelled without any of the code under test's formatting. */
function toBigInt (text: string): bigint {
  if (text.includes('.')) return text.split('.').reduce((value, part) => (value << 8n) | BigInt(Number(part)), 0n);
  const [head = '', tail = ''] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups = text.includes('::') ? [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  return groups.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function ipv4Text (value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

/** All eight groups, zero-padded: a spelling the URL parser and isIPv6 accept, and that nothing shortens. */
function ipv6Text (value: bigint): string {
  return Array.from({ length: 8 }, (_, index) => ((value >> BigInt(112 - index * 16)) & 0xffffn).toString(16).padStart(4, '0')).join(':');
}

/** A seeded generator, so a failure names an address that fails again on the next run. */
function randomBits (seed: number): (bits: number) => bigint {
  let state = seed >>> 0;
  const next32 = (): bigint => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return BigInt((mixed ^ (mixed >>> 14)) >>> 0);
  };
  return (bits) => {
    let value = 0n;
    for (let have = 0; have < bits; have += 32) value = (value << 32n) | next32();
    return value & ((1n << BigInt(bits)) - 1n);
  };
}

/** First and last address of each range, their outside neighbours, and random addresses inside. */
function samplesOf (cidrs: readonly string[], width: 32 | 128, perRange: number, random: (bits: number) => bigint): bigint[] {
  const all = (1n << BigInt(width)) - 1n;
  return cidrs.flatMap((cidr) => {
    const [network, bits] = cidr.split('/') as [string, string];
    const hostBits = BigInt(width - Number(bits));
    const first = toBigInt(network);
    const last = first | ((1n << hostBits) - 1n);
    const inside = Array.from({ length: perRange }, () => first | random(Number(hostBits)));
    return [first, last, ...inside, ...(first > 0n ? [first - 1n] : []), ...(last < all ? [last + 1n] : [])];
  });
}

const kIPv4Ranges = [...kNotGloballyReachable4, ...kRefusedByDesign4];

test('IPv4 sweep: every address is public exactly when no special-purpose range holds it', () => {
  const random = randomBits(4);
  const samples = [...samplesOf(kIPv4Ranges, 32, 64, random), ...Array.from({ length: 20_000 }, () => random(32))];
  let refused = 0;
  for (const value of samples) {
    const address = ipv4Text(value);
    const found = classifyAddress(address);
    assert.equal(found?.address, address);
    assert.equal(found.isPublic, !kRefused4.check(address, 'ipv4'), `${address} classified ${found.range}`);
    if (!found.isPublic) refused++;
  }
  // The sweep has both kinds: a table that refused everything, or nothing, fails above.
  assert.ok(refused > 1000 && refused < samples.length - 1000, `${refused} of ${samples.length} refused`);
});

test('IPv6 sweep: special ranges refused, global unicast public, IPv4-mapped and NAT64 as their IPv4 host, in every spelling', () => {
  const random = randomBits(6);
  const ipv4Hosts = [...samplesOf(kIPv4Ranges, 32, 2, random), ...Array.from({ length: 200 }, () => random(32))];
  const embedded = ['::ffff:0:0', '64:ff9b::', '::', '64:ff9b:1::'].flatMap((prefix) => ipv4Hosts.map((host) => toBigInt(prefix) | host));
  const sixToFour = ipv4Hosts.map((host) => toBigInt('2002::') | (host << 80n) | random(80));
  const ranges = [...kNotGloballyReachable6, ...kRefusedByDesign6, ...kCarriesIPv4Host6, '2000::/3', '2001::/32', '::/96', 'fec0::/10', 'ff00::/8', '4000::/2', '::/0'];
  const samples = [...samplesOf(ranges, 128, 64, random), ...embedded, ...sixToFour];
  let publicCount = 0;
  for (const value of samples) {
    const spelled = ipv6Text(value);
    const expected = kCarriesIPv4Host.check(spelled, 'ipv6')
      ? !kRefused4.check(ipv4Text(value & 0xffffffffn), 'ipv4')
      : kGlobalUnicast.check(spelled, 'ipv6') && !kRefused6.check(spelled, 'ipv6');
    const found = classifyAddress(spelled);
    assert.equal(found?.isPublic, expected, `${spelled} classified ${found?.range}`);
    if (expected) publicCount++;
    assert.equal(found.address, withoutBrackets(new URL(`http://[${spelled}]/`).hostname), 'the URL parser\'s own spelling');
    const dottedTail = `${spelled.slice(0, 29)}:${ipv4Text(value & 0xffffffffn)}`;
    for (const other of [spelled.toUpperCase(), found.address, dottedTail]) assert.deepEqual(classifyAddress(other), found, `${other} is ${spelled}`);
  }
  assert.ok(publicCount > 200 && publicCount < samples.length - 200, `${publicCount} of ${samples.length} public`);
});

test('a name is refused if any one of its answers is internal, and passes only when all are public', async () => {
  const resolver = (answers: string[]): NameResolver => async () => answers;
  const url = new URL('http://tenant.example/');
  assert.deepEqual(await resolveDestination(url, [], resolver(['93.184.215.14', '2606:4700::1'])), { address: '93.184.215.14' });
  const mixed = await resolveDestination(url, [], resolver(['93.184.215.14', '10.0.0.7']));
  assert.match(mixed.refused ?? '', /^tenant\.example resolves to 10\.0\.0\.7, which is not a public address \(private\)/);
  const mapped = await resolveDestination(url, [], resolver(['2606:4700::1', '::ffff:169.254.169.254']));
  assert.match(mapped.refused ?? '', /resolves to ::ffff:169\.254\.169\.254, which is not a public address \(cloud metadata/);
  assert.match((await resolveDestination(url, [], resolver([]))).refused ?? '', /resolves to nothing/);
  const failing: NameResolver = async () => { throw new Error('getaddrinfo ENOTFOUND tenant.example'); };
  await assert.rejects(resolveDestination(url, [], failing), /ENOTFOUND/, 'a name that does not resolve fails (the caller makes it ERR_NETWORK)');
});

test('only ranges the operator opened let an internal address through, in every spelling of it', async () => {
  const loopback = [parseAddressRange('127.0.0.0/8')!];
  for (const host of ['127.0.0.1', '2130706433', '0x7f.1', '0177.0.0.1', '127.1', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', 'localhost.']) {
    const destination = await resolveDestination(new URL(`http://${host}:9/`), loopback, kNoResolver);
    assert.equal(destination.refused, undefined, `${host}: ${destination.refused}`);
  }
  // Opening loopback opens neither the unspecified address nor the transition forms that embed it, nor 127's neighbours.
  for (const host of ['0.0.0.0', '[::]', '[64:ff9b::7f00:1]', '[2002:7f00:1::]', '[::127.0.0.1]', '10.0.0.1', '169.254.169.254', '[::1]']) {
    assert.ok((await resolveDestination(new URL(`http://${host}:9/`), loopback, kNoResolver)).refused !== undefined, `${host} went through with only 127.0.0.0/8 open`);
  }
  const single = [parseAddressRange('10.1.2.3')!, parseAddressRange('fd00::/8')!];
  assert.equal((await resolveDestination(new URL('http://10.1.2.3/'), single, kNoResolver)).refused, undefined);
  assert.ok((await resolveDestination(new URL('http://10.1.2.4/'), single, kNoResolver)).refused !== undefined, 'a lone address opens only itself');
  assert.equal((await resolveDestination(new URL('http://[fd12::1]/'), single, kNoResolver)).refused, undefined);
  assert.ok((await resolveDestination(new URL('http://[fe12::1]/'), single, kNoResolver)).refused !== undefined);
});

test('an IPv4 range and its IPv4-mapped spelling open the same hosts, whichever the operator wrote', () => {
  const ipv4 = [parseAddressRange('10.0.0.0/8')!];
  const mapped = [parseAddressRange('::ffff:10.0.0.0/104')!];
  for (const ranges of [ipv4, mapped]) {
    for (const address of ['10.1.2.3', '::ffff:10.1.2.3', '::ffff:a01:203']) assert.ok(inRanges(address, ranges), `${address}`);
    for (const address of ['11.0.0.0', '::ffff:11.0.0.0', '::10.1.2.3', '64:ff9b::a01:203', '2002:a01:203::']) assert.ok(!inRanges(address, ranges), `${address}`);
  }
  assert.ok(!inRanges('10.1.2.3', [parseAddressRange('fd00::/8')!]));
  assert.ok(inRanges('10.1.2.3', [parseAddressRange('::/0')!]), '::/0 opens every address, IPv4 included through its mapped form');
  assert.ok(!inRanges('localhost', ipv4), 'a name is in no range');
});

test('operator ranges match as Node\'s BlockList does, on random prefixes and addresses of both families', () => {
  const random = randomBits(12);
  for (let round = 0; round < 300; round++) {
    const width = round % 2 === 0 ? 32 : 128;
    const family = width === 32 ? 'ipv4' : 'ipv6';
    const spell = width === 32 ? ipv4Text : ipv6Text;
    const bits = Number(random(8)) % (width + 1);
    const network = random(width) & ~((1n << BigInt(width - bits)) - 1n) & ((1n << BigInt(width)) - 1n);
    const range = parseAddressRange(`${spell(network)}/${bits}`);
    assert.ok(range !== undefined, `${spell(network)}/${bits}`);
    const oracle = blockList([`${spell(network)}/${bits}`], family);
    // Half the probes share the prefix, so both answers come up at every prefix length.
    for (let probe = 0; probe < 20; probe++) {
      const address = spell(probe % 2 === 0 ? network | random(width - bits) : random(width));
      assert.equal(inRanges(address, [range]), oracle.check(address, family), `${address} in ${spell(network)}/${bits}`);
    }
  }
});

test('operator ranges: CIDR and lone addresses parse; typos and host bits are refused', () => {
  assert.deepEqual(parseAddressRange('10.0.0.0/8'), { bytes: Uint8Array.from([10, 0, 0, 0]), bits: 8 });
  assert.deepEqual(parseAddressRange(' 192.168.0.0/16 '), { bytes: Uint8Array.from([192, 168, 0, 0]), bits: 16 });
  assert.equal(parseAddressRange('127.0.0.1')?.bits, 32);
  assert.equal(parseAddressRange('[::1]')?.bits, 128);
  assert.equal(parseAddressRange('fd00::/8')?.bits, 8);
  assert.equal(parseAddressRange('0.0.0.0/0')?.bits, 0);
  assert.deepEqual(parseAddressRange('::ffff:10.0.0.0/104')?.bytes, Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 0, 0, 0]));
  for (const bad of ['10.0.0.1/8', '10.0.0.0/33', '::/129', 'fd00::1/8', 'localhost', '10/8', '', '1.2.3.4/', '1.2.3', '2130706433', '0x7f.1/8', '10.0.0.0/-1', '10.0.0.0/8/8']) {
    assert.equal(parseAddressRange(bad), undefined, bad);
  }
});

test('canonicalAddress: the IPv4 host of an IPv4-mapped address, every other address as the URL parser writes it', () => {
  assert.equal(canonicalAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(canonicalAddress('::FFFF:7F00:1'), '127.0.0.1');
  assert.equal(canonicalAddress('0:0:0:0:0:ffff:a9fe:a9fe'), '169.254.169.254');
  // Only the mapped form: the others are other hosts (or reach their IPv4 host only through a gateway).
  assert.equal(canonicalAddress('::127.0.0.1'), '::7f00:1');
  assert.equal(canonicalAddress('64:ff9b::127.0.0.1'), '64:ff9b::7f00:1');
  assert.equal(canonicalAddress('::ffff:0:7f00:1'), '::ffff:0:7f00:1');
  assert.equal(canonicalAddress('2001:0DB8:0000:0000:0001:0000:0000:0001'), '2001:db8::1:0:0:1');
  assert.equal(canonicalAddress('2001:db8:0:0:1:0:0:0'), '2001:db8:0:0:1::', 'the longest run of zeros is the one compressed');
  assert.equal(canonicalAddress('Tenant.Example'), 'tenant.example', 'a name is only lowercased');
});
