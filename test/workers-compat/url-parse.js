/* global Response, URL -- the Workers globals springbok and workerd both have */
// A table of URLs (with and without a base) and the components each parses to, or the error.
export default {
  async fetch () {
    const table = [
      ['https://user:pa%20ss@Example.COM:8080/a/./b/../c?x=1&y=2#frag'],
      ['http://example.com:80/'],
      ['HTTPS://例え.jp/パス?q=値'],
      ['http://[::1]:3000/x'],
      ['http://0x7f.1/'],
      ['file:///etc/hosts'],
      ['mailto:someone@example.com'],
      ['../up?q#h', 'https://example.com/a/b/c'],
      ['//other.example/p', 'https://example.com/'],
      ['?only=query', 'https://example.com/path'],
      ['not a url'],
      ['http://exa mple.com/'],
      ['https://example.com/sp ace/%7e/ü'],
    ];
    const keys = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];
    const rows = table.map(([input, base]) => {
      try {
        const url = base === undefined ? new URL(input) : new URL(input, base);
        return Object.fromEntries(keys.map((key) => [key, url[key]]));
      } catch (error) {
        return { input, error: error.name };
      }
    });
    const url = new URL('https://example.com/');
    url.pathname = '/new path';
    url.search = 'a=b c';
    url.hash = 'x y';
    url.port = '443';
    rows.push({ setters: url.href, json: url.toJSON(), string: String(url) });
    return new Response(JSON.stringify(rows, null, 1) + '\n');
  },
};
