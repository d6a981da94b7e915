/* global Headers, Response -- the Workers globals springbok and workerd both have */
// Headers: case-insensitive names, append joins with ", ", set replaces, delete, iteration sorted
// by name, getSetCookie keeps cookies apart, invalid names and values throw (the empty name and
// non-ASCII names are in header-names.js: workerd accepts them).
export default {
  async fetch () {
    const lines = [];
    const headers = new Headers({ 'X-B': 'two', 'x-a': 'one' });
    headers.append('X-A', 'uno');
    headers.append('Set-Cookie', 'a=1; Path=/');
    headers.append('set-cookie', 'b=2, c=3');
    headers.set('Content-Type', 'text/plain');
    headers.append('x-c', '  padded\t');
    lines.push(`entries ${JSON.stringify([...headers])}`);
    lines.push(`get x-a=${headers.get('x-a')} set-cookie=${headers.get('set-cookie')} missing=${headers.get('missing')} has X-B=${headers.has('X-B')}`);
    lines.push(`getSetCookie ${JSON.stringify(headers.getSetCookie())}`);
    headers.delete('x-b');
    headers.set('x-a', 'replaced');
    lines.push(`keys ${[...headers.keys()].join(',')} values ${JSON.stringify([...headers.values()])}`);
    const each = [];
    headers.forEach((value, name) => each.push(`${name}=${value}`));
    lines.push(`forEach ${each.join('|')}`);
    for (const [name, value] of [['bad name', 'v'], ['x-ok', 'bad\nvalue'], ['x(y)', 'v']]) {
      try {
        new Headers([[name, value]]);
        lines.push(`${JSON.stringify(name)} accepted`);
      } catch (error) {
        lines.push(`${JSON.stringify(name)} ${error.name}`);
      }
    }
    lines.push(`from pairs ${JSON.stringify([...new Headers([['a', '1'], ['A', '2']])])}`);
    lines.push(`copy ${JSON.stringify([...new Headers(headers)].length)}`);
    const response = new Response('x', { headers: { 'x-from': 'response' } });
    response.headers.set('x-added', 'later');
    lines.push(`response ${JSON.stringify([...response.headers])}`);
    try {
      Response.redirect('https://example.com/').headers.set('x', 'y');
      lines.push('immutable set accepted');
    } catch (error) {
      lines.push(`immutable ${error.name}`);
    }
    return new Response(lines.join('\n') + '\n');
  },
};
