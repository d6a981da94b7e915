/* global Response, URL -- the Workers globals springbok and workerd both have */
// A router over the request's method, path and body: the body is a list of commands, one a line,
// each "VERB /path arguments"; the request itself must be a POST to "/" (request.url's host is
// not printed: it differs between hosts).
const routes = {
  'GET /hello': (args) => `hello, ${args || 'world'}`,
  'GET /add': (args) => String(args.split(' ').map(Number).reduce((sum, n) => sum + n, 0)),
  'POST /reverse': (args) => [...args].reverse().join(''),
  'GET /query': (args) => {
    const url = new URL(`/query?${args}`, 'http://router.invalid');
    return JSON.stringify(Object.fromEntries(url.searchParams));
  },
};

export default {
  async fetch (request) {
    const url = new URL(request.url);
    const lines = [`${request.method} ${url.pathname}${url.search} ${url.protocol}`];
    for (const command of (await request.text()).split('\n').filter(Boolean)) {
      const [verb, path, ...rest] = command.split(' ');
      const route = routes[`${verb} ${new URL(path, 'http://router.invalid').pathname}`];
      lines.push(route === undefined ? `404 ${verb} ${path}` : `200 ${route(rest.join(' '))}`);
    }
    return new Response(lines.join('\n') + '\n', { headers: { 'x-router': 'ok' } });
  },
};
