import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findRule, kAllowEntryPattern, parseAllowEntry, type AllowRule } from '../../engine/network/allow-list.ts';

const allows = (rules: readonly AllowRule[], url: string): boolean => findRule(rules, new URL(url)) !== undefined;

test('an entry is read as scheme, host as the URL parser writes it, and port; case does not matter', () => {
  assert.deepEqual(parseAllowEntry('example.com'), { scheme: undefined, host: 'example.com', port: undefined });
  assert.deepEqual(parseAllowEntry('HTTPS://Example.COM:8443'), { scheme: 'https:', host: 'example.com', port: 8443 });
  assert.deepEqual(parseAllowEntry('http://127.0.0.1:9000'), { scheme: 'http:', host: '127.0.0.1', port: 9000 });
  assert.deepEqual(parseAllowEntry('[::1]:80'), { scheme: undefined, host: '::1', port: 80 });
  assert.deepEqual(parseAllowEntry('[::FFFF:127.0.0.1]'), { scheme: undefined, host: '::ffff:7f00:1', port: undefined });
  assert.deepEqual(parseAllowEntry('2130706433:8080'), { scheme: undefined, host: '127.0.0.1', port: 8080 });
  assert.throws(() => parseAllowEntry('http://'), /not a host entry: http:\/\//);
  assert.throws(() => parseAllowEntry('example.com:port'), /not a host entry/);
});

test('without a port an entry opens http on 80 and https on 443; a port opens both schemes there; a scheme only itself', () => {
  const bare = [parseAllowEntry('example.com')];
  assert.ok(allows(bare, 'http://example.com/path?q=1'));
  assert.ok(allows(bare, 'https://example.com/'));
  assert.ok(allows(bare, 'http://example.com:80/'), 'the default port written out is the same URL');
  assert.ok(!allows(bare, 'http://example.com:443/'), 'http on 443 is not what the entry opens');
  assert.ok(!allows(bare, 'https://example.com:80/'));
  assert.ok(!allows(bare, 'http://example.com:8080/'));

  const port = [parseAllowEntry('example.com:8080')];
  assert.ok(allows(port, 'http://example.com:8080/'));
  assert.ok(allows(port, 'https://example.com:8080/'));
  assert.ok(!allows(port, 'http://example.com/'));

  const https = [parseAllowEntry('https://example.com')];
  assert.ok(allows(https, 'https://example.com/'));
  assert.ok(!allows(https, 'http://example.com/'));
  assert.ok(!allows(https, 'https://example.com:8443/'));

  const both = [parseAllowEntry('http://example.com:9000'), parseAllowEntry('https://api.example.com')];
  assert.equal(findRule(both, new URL('https://api.example.com/v1')), both[1]);
  assert.equal(findRule(both, new URL('http://example.com:9000/')), both[0]);
});

test('host names match exactly: no subdomains, no parent, no suffix tricks; an IDN matches its punycode entry', () => {
  const rules = [parseAllowEntry('example.com')];
  for (const url of ['http://api.example.com/', 'http://com/', 'http://example.com.evil.test/', 'http://evilexample.com/', 'http://example.co/']) {
    assert.ok(!allows(rules, url), url);
  }
  assert.ok(allows(rules, 'http://EXAMPLE.com/'));
  assert.ok(allows(rules, 'http://user:pw@example.com/'), 'credentials do not change the host');
  assert.ok(allows([parseAllowEntry('xn--bcher-kva.example')], 'http://bücher.example/'));
});

test('entries are compared in the URL parser\'s spelling, so no form slips past or around an entry', () => {
  for (const entry of ['127.0.0.1:8080', '2130706433:8080', '0x7f.1:8080', '0177.0.0.1:8080', '127.1:8080']) {
    const rules = [parseAllowEntry(entry)];
    assert.ok(allows(rules, 'http://127.0.0.1:8080/'), entry);
    assert.ok(allows(rules, 'http://0x7f000001:8080/'), `${entry} and 0x7f000001 are the same host`);
    assert.ok(!allows(rules, 'http://127.0.0.1:8081/'));
    assert.ok(!allows(rules, 'http://127.0.0.2:8080/'));
  }
  const mapped = [parseAllowEntry('[::ffff:127.0.0.1]:9000')];
  assert.ok(allows(mapped, 'http://[::ffff:7f00:1]:9000/'));
  assert.ok(!allows(mapped, 'http://127.0.0.1:9000/'), 'the mapped spelling is another URL host (the deny list judges what it reaches)');
  const dotted = [parseAllowEntry('localhost.:9000')];
  assert.ok(allows(dotted, 'http://localhost.:9000/'));
  assert.ok(!allows(dotted, 'http://localhost:9000/'), 'a trailing dot is another name, matched exactly');
});

test('the entry pattern budgets are validated with: names, IP literals, optional scheme and port; nothing else', () => {
  for (const entry of ['example.com', 'a.b.c.example.', 'xn--bcher-kva.example', 'a-b.example.com', 'HTTP://Example.com', 'https://1.2.3.4:9000', '[::1]:80', '[::ffff:127.0.0.1]', 'localhost', '0x7f.1']) {
    assert.ok(kAllowEntryPattern.test(entry), entry);
    assert.doesNotThrow(() => parseAllowEntry(entry), entry);
  }
  for (const entry of ['', 'example.com/', 'example.com/path', 'user@example.com', '*.example.com', '-a.example', 'a-.example', 'a..b', '.example', 'ftp://example.com',
    'http://', 'example.com:', 'example.com:123456', '[::1', '::1', '[fe80::1%eth0]', 'bücher.example', 'example.com?x', `${'a'.repeat(64)}.example`, 'exa mple.com']) {
    assert.ok(!kAllowEntryPattern.test(entry), entry);
  }
});
