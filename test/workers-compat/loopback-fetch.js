/* global Headers, Request, Response, URL, URLSearchParams, fetch -- the Workers globals springbok and workerd both have */
// fetch to a loopback server both runtimes may reach (its origin in env.LOOPBACK): a POST with
// headers and a body, a GET through a Request, a 404, and the Response's parts (not its url: the
// origin's port changes each run).
export default {
  async fetch (request, env) {
    const lines = [];
    const posted = await fetch(`${env.LOOPBACK}/echo?q=1`, { method: 'POST', headers: { 'x-custom': 'yes', 'content-type': 'text/plain' }, body: await request.text() });
    lines.push(`post ${posted.status} ${posted.ok} ${posted.headers.get('content-type')} ${posted.headers.get('x-served-by')} ${await posted.text()}`);
    const viaRequest = await fetch(new Request(`${env.LOOPBACK}/get`, { headers: new Headers([['x-a', '1'], ['x-b', '2']]) }));
    lines.push(`get ${viaRequest.status} ${JSON.stringify(await viaRequest.json())} bodyUsed ${viaRequest.bodyUsed} same origin ${new URL(viaRequest.url).origin === env.LOOPBACK}`);
    const missing = await fetch(`${env.LOOPBACK}/missing`);
    lines.push(`missing ${missing.status} ${missing.ok} ${(await missing.json()).path}`);
    const json = await fetch(`${env.LOOPBACK}/json`, { method: 'PUT', body: new URLSearchParams({ k: 'v w' }) });
    lines.push(`urlencoded ${(await json.json()).headers.map(([name, value]) => `${name}=${value}`).join(' ')}`);
    return new Response(lines.join('\n') + '\n');
  },
};
