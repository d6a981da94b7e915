import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyAddress, inRanges, parseAddressRange } from '../engine/network/address-policy.ts';
import { findRule, parseAllowEntry } from '../engine/network/allow-list.ts';
import { resolveDestination } from '../engine/network/destination.ts';

/**
 * Every spelling of an internal address, through the path ctx.fetch takes: the WHATWG URL parser
 * (which rewrites decimal, hex, octal and short IPv4 and IPv6 forms), then resolveDestination (DNS
 * for names, the deny list for every address). `address` is what the request would connect to.
 */
const kForms: readonly { readonly host: string, readonly address: string, readonly range: RegExp }[] = [
  { host: '127.0.0.1', address: '127.0.0.1', range: /^loopback$/ },
  { host: '[::127.0.0.1]', address: '::7f00:1', range: /^loopback \(IPv4-compatible/ },
  { host: '[64:ff9b::7f00:1]', address: '64:ff9b::7f00:1', range: /^loopback \(NAT64 127\.0\.0\.1\)$/ },
  { host: '[64:ff9b:1::a00:1]', address: '64:ff9b:1::a00:1', range: /^private \(local-use NAT64 10\.0\.0\.1\)$/ },
  { host: '[2002:7f00:1::]', address: '2002:7f00:1::', range: /^loopback \(6to4 127\.0\.0\.1\)$/ },
  { host: '[::ffff:7f00:1]', address: '::ffff:7f00:1', range: /^loopback \(IPv4-mapped 127\.0\.0\.1\)$/ },
  { host: '[::ffff:127.0.0.1]', address: '::ffff:7f00:1', range: /^loopback \(IPv4-mapped 127\.0\.0\.1\)$/ },
  { host: '[::ffff:169.254.169.254]', address: '::ffff:a9fe:a9fe', range: /^cloud metadata \(link-local\) \(IPv4-mapped/ },
  { host: '[::1]', address: '::1', range: /^loopback$/ },
  { host: '0.0.0.0', address: '0.0.0.0', range: /^unspecified$/ },
  { host: '0', address: '0.0.0.0', range: /^unspecified$/ },
  { host: '0.1.2.3', address: '0.1.2.3', range: /^this network/ },
  { host: '[::]', address: '::', range: /^unspecified$/ },
  { host: '2130706433', address: '127.0.0.1', range: /^loopback$/ },
  { host: '0x7f000001', address: '127.0.0.1', range: /^loopback$/ },
  { host: '0x7f.1', address: '127.0.0.1', range: /^loopback$/ },
  { host: '0177.0.0.1', address: '127.0.0.1', range: /^loopback$/ },
  { host: '127.1', address: '127.0.0.1', range: /^loopback$/ },
  { host: '127.255.255.254', address: '127.255.255.254', range: /^loopback$/ },
  { host: 'localhost', address: '127.0.0.1', range: /^loopback$/ },
  { host: 'localhost.', address: '127.0.0.1', range: /^loopback$/ },
  { host: 'tenant.localhost', address: '127.0.0.1', range: /^loopback$/ },
  { host: '10.1.2.3', address: '10.1.2.3', range: /^private$/ },
  { host: '172.16.0.1', address: '172.16.0.1', range: /^private$/ },
  { host: '172.31.255.255', address: '172.31.255.255', range: /^private$/ },
  { host: '192.168.1.1', address: '192.168.1.1', range: /^private$/ },
  { host: '[fd00::]', address: 'fd00::', range: /^unique local/ },
  { host: '[fc00::1]', address: 'fc00::1', range: /^unique local/ },
  { host: '169.254.169.254', address: '169.254.169.254', range: /^cloud metadata/ },
  { host: '0xa9fea9fe', address: '169.254.169.254', range: /^cloud metadata/ },
  { host: '[fd00:ec2::254]', address: 'fd00:ec2::254', range: /^cloud metadata/ },
  { host: '169.254.1.1', address: '169.254.1.1', range: /^link-local$/ },
  { host: '[fe80::1]', address: 'fe80::1', range: /^link-local$/ },
  { host: '[fec0::1]', address: 'fec0::1', range: /^site-local/ },
  { host: '100.64.0.1', address: '100.64.0.1', range: /carrier-grade NAT/ },
  { host: '100.127.255.254', address: '100.127.255.254', range: /carrier-grade NAT/ },
  { host: '224.0.0.1', address: '224.0.0.1', range: /^multicast$/ },
  { host: '239.255.255.250', address: '239.255.255.250', range: /^multicast$/ },
  { host: '[ff02::1]', address: 'ff02::1', range: /^multicast$/ },
  { host: '255.255.255.255', address: '255.255.255.255', range: /^broadcast$/ },
  { host: '240.0.0.1', address: '240.0.0.1', range: /^reserved$/ },
  { host: '192.0.0.170', address: '192.0.0.170', range: /^IETF protocol assignments$/ },
  { host: '192.0.2.1', address: '192.0.2.1', range: /^documentation$/ },
  { host: '198.51.100.7', address: '198.51.100.7', range: /^documentation$/ },
  { host: '203.0.113.9', address: '203.0.113.9', range: /^documentation$/ },
  { host: '[2001:db8::1]', address: '2001:db8::1', range: /^documentation$/ },
  { host: '198.18.0.1', address: '198.18.0.1', range: /^benchmarking$/ },
  { host: '198.19.255.255', address: '198.19.255.255', range: /^benchmarking$/ },
  { host: '[2001:2::1]', address: '2001:2::1', range: /^benchmarking$/ },
  { host: '192.88.99.1', address: '192.88.99.1', range: /6to4 relay/ },
  { host: '[100::1]', address: '100::1', range: /^discard-only$/ },
  { host: '[2001::1]', address: '2001::1', range: /Teredo/ },
  { host: '[2001:0:4136:e378:8000:63bf:80ff:fffe]', address: '2001:0:4136:e378:8000:63bf:80ff:fffe', range: /^loopback \(Teredo 127\.0\.0\.1\)$/ },
  { host: '[4000::1]', address: '4000::1', range: /outside IPv6 global unicast/ },
];

/** Public addresses stay reachable (the deny list must not refuse the internet). */
const kPublic: readonly { readonly host: string, readonly address: string }[] = [
  { host: '93.184.215.14', address: '93.184.215.14' },
  { host: '1.1.1.1', address: '1.1.1.1' },
  { host: '8.8.8.8', address: '8.8.8.8' },
  { host: '172.32.0.1', address: '172.32.0.1' },
  { host: '100.128.0.1', address: '100.128.0.1' },
  { host: '169.253.255.255', address: '169.253.255.255' },
  { host: '198.20.0.1', address: '198.20.0.1' },
  { host: '223.255.255.255', address: '223.255.255.255' },
  { host: '[2606:4700::1]', address: '2606:4700::1' },
  { host: '[2a00:1450:4001::200e]', address: '2a00:1450:4001::200e' },
  { host: '[::ffff:93.184.215.14]', address: '::ffff:5db8:d70e' },
  { host: '[64:ff9b::808:808]', address: '64:ff9b::808:808' },
];

for (const { host, address, range } of kForms) {
  test(`deny list: http://${host}/ connects to ${address}, refused as ${range.source}`, async () => {
    const destination = await resolveDestination(new URL(`http://${host}:8080/path`), []);
    assert.ok(destination.refused !== undefined, `${host} was let through to ${destination.address}`);
    assert.match(destination.refused, /is not a public address/);
    assert.match(destination.refused, /net-allow-private/, 'the message says how an operator opens it');
    const found = classifyAddress(address);
    assert.equal(found?.isPublic, false);
    assert.match(found.range, range);
    assert.ok(destination.refused.includes(`(${found.range})`), `${destination.refused} names the range ${found.range}`);
  });
}

for (const { host, address } of kPublic) {
  test(`deny list: http://${host}/ is public and stays reachable`, async () => {
    const destination = await resolveDestination(new URL(`https://${host}/`), []);
    assert.deepEqual(destination, { address });
  });
}

test('a name is refused if any one of its answers is internal, and passes only when all are public', async () => {
  const resolver = (answers: string[]) => async (): Promise<string[]> => answers;
  const url = new URL('http://tenant.example/');
  assert.deepEqual(await resolveDestination(url, [], resolver(['93.184.215.14', '2606:4700::1'])), { address: '93.184.215.14' });
  const mixed = await resolveDestination(url, [], resolver(['93.184.215.14', '10.0.0.7']));
  assert.match(mixed.refused ?? '', /^tenant\.example resolves to 10\.0\.0\.7, which is not a public address \(private\)/);
  assert.match((await resolveDestination(url, [], resolver([]))).refused ?? '', /resolves to nothing/);
  await assert.rejects(resolveDestination(new URL('http://no-such-host.invalid/'), []), 'a name that does not resolve fails (the caller makes it ERR_NETWORK)');
});

test('only ranges the operator opened let an internal address through, in every spelling of it', async () => {
  const loopback = [parseAddressRange('127.0.0.0/8')!];
  for (const host of ['127.0.0.1', '2130706433', '0x7f.1', '0177.0.0.1', '127.1', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', 'localhost.']) {
    const destination = await resolveDestination(new URL(`http://${host}:9/`), loopback);
    assert.equal(destination.refused, undefined, `${host}: ${destination.refused}`);
  }
  // Opening loopback opens neither the unspecified address nor the transition forms that embed it, nor 127's neighbours.
  for (const host of ['0.0.0.0', '[::]', '[64:ff9b::7f00:1]', '[2002:7f00:1::]', '[::127.0.0.1]', '10.0.0.1', '169.254.169.254', '[::1]']) {
    assert.ok((await resolveDestination(new URL(`http://${host}:9/`), loopback)).refused !== undefined, `${host} went through with only 127.0.0.0/8 open`);
  }
  const single = [parseAddressRange('10.1.2.3')!, parseAddressRange('fd00::/8')!];
  assert.equal((await resolveDestination(new URL('http://10.1.2.3/'), single)).refused, undefined);
  assert.ok((await resolveDestination(new URL('http://10.1.2.4/'), single)).refused !== undefined, 'a lone address opens only itself');
  assert.equal((await resolveDestination(new URL('http://[fd12::1]/'), single)).refused, undefined);
  assert.ok(inRanges('::ffff:10.1.2.3', single), 'an IPv4 range covers the IPv4-mapped form');
});

test('operator ranges: CIDR and lone addresses parse; typos and host bits are refused', () => {
  assert.deepEqual(parseAddressRange('10.0.0.0/8'), { bytes: Uint8Array.from([10, 0, 0, 0]), bits: 8 });
  assert.equal(parseAddressRange('127.0.0.1')?.bits, 32);
  assert.equal(parseAddressRange('[::1]')?.bits, 128);
  assert.equal(parseAddressRange('fd00::/8')?.bits, 8);
  for (const bad of ['10.0.0.1/8', '10.0.0.0/33', '::/129', 'localhost', '10/8', '', '1.2.3.4/', '1.2.3']) {
    assert.equal(parseAddressRange(bad), undefined, bad);
  }
});

test('allow-list entries are compared in the URL parser\'s spelling, so no form slips past or around an entry', () => {
  const url = (text: string): URL => new URL(text);
  for (const entry of ['127.0.0.1:8080', '2130706433:8080', '0x7f.1:8080', '0177.0.0.1:8080', '127.1:8080']) {
    const rules = [parseAllowEntry(entry)];
    assert.ok(findRule(rules, url('http://127.0.0.1:8080/')), entry);
    assert.ok(findRule(rules, url('http://0x7f000001:8080/')), `${entry} and 0x7f000001 are the same host`);
    assert.equal(findRule(rules, url('http://127.0.0.1:8081/')), undefined);
  }
  const mapped = [parseAllowEntry('[::ffff:127.0.0.1]:9000')];
  assert.ok(findRule(mapped, url('http://[::ffff:7f00:1]:9000/')));
  const dotted = [parseAllowEntry('localhost.:9000')];
  assert.ok(findRule(dotted, url('http://localhost.:9000/')));
  assert.equal(findRule(dotted, url('http://localhost:9000/')), undefined, 'a trailing dot is another name, matched exactly');
});
