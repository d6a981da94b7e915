/* global Response, URL, URLSearchParams -- the Workers globals springbok and workerd both have */
// URLSearchParams: parsing, repeated keys, append/set/delete/sort, encoding of spaces and symbols,
// and a URL's live searchParams.
export default {
  async fetch () {
    const lines = [];
    const params = new URLSearchParams('?a=1&b=2&a=3&c=%20x+y&d&=e&f=%F0%9F%A6%8C');
    lines.push(`entries ${JSON.stringify([...params])}`);
    lines.push(`get a=${params.get('a')} getAll a=${JSON.stringify(params.getAll('a'))} has z=${params.has('z')} size=${params.size}`);
    params.append('z', 'a b&c=d/é');
    params.set('a', 'only');
    params.delete('b');
    lines.push(`mutated ${params.toString()}`);
    params.sort();
    lines.push(`sorted ${params.toString()}`);
    lines.push(`from object ${new URLSearchParams({ q: 'x y', n: 1, t: true })}`);
    lines.push(`from pairs ${new URLSearchParams([['k', 'v'], ['k', 'w']])}`);
    const url = new URL('https://example.com/s?q=1');
    url.searchParams.append('r', 'two words');
    url.searchParams.set('q', '~!*()\'');
    lines.push(`url ${url.href}`);
    const each = [];
    new URLSearchParams('x=1&y=2').forEach((value, key) => each.push(`${key}:${value}`));
    lines.push(`forEach ${each.join(',')} keys ${[...new URLSearchParams('x=1&y=2').keys()].join(',')}`);
    return new Response(lines.join('\n') + '\n');
  },
};
