/* global Response, URL, console -- the web globals every springbok JavaScript function has (doc/js.md) */
// worker.js: a function in the Workers module format. Over HTTP it answers the requests sent to
// /functions/NAME/...; over the socket it gets a POST to http://function.invalid/ with the input as
// its body, and its response's body is the output.
//   GET  /hello/NAME   a greeting, in the language of env.GREETING (deploy --env GREETING=...)
//   POST /reverse      the body, reversed, with the length in a header
//   anything else      404, as JSON
const routes = {
  'GET /hello': (request, env, rest) => new Response(`${env.GREETING ?? 'hello'}, ${decodeURIComponent(rest) || 'world'}\n`),
  'POST /reverse': async (request) => {
    const text = await request.text();
    return new Response([...text].reverse().join(''), { headers: { 'x-length': String(text.length) } });
  },
  'POST /': async (request) => new Response((await request.text()).toUpperCase()),
};

export default {
  async fetch (request, env, ctx) {
    const { pathname } = new URL(request.url);
    const [, first = '', ...rest] = pathname.split('/');
    const route = routes[`${request.method} /${first}`];
    if (route === undefined) return Response.json({ error: `no route for ${request.method} ${pathname}` }, { status: 404 });
    // Background work: the invocation's result waits until it has settled.
    ctx.waitUntil(Promise.resolve().then(() => console.log(`${request.method} ${pathname}`)));
    return route(request, env, rest.join('/'));
  },
};
