/* global Request, Response, URLSearchParams -- the Workers globals springbok and workerd both have */
// Request and Response bodies: text/json/arrayBuffer/bytes/blob, clone, bodyUsed and the second
// read's TypeError, status and statusText, null bodies.
export default {
  async fetch (request) {
    const lines = [];
    const input = await request.clone().text();
    lines.push(`input ${JSON.stringify(input)} bodyUsed ${request.bodyUsed} then ${new Uint8Array(await request.arrayBuffer()).length} bodyUsed ${request.bodyUsed}`);
    try {
      await request.text();
      lines.push('second read accepted');
    } catch (error) {
      lines.push(`second read ${error.name}`);
    }
    const made = new Request('https://example.com/submit', { method: 'PUT', body: '{"k":[1,2]}', headers: { 'content-type': 'application/json' } });
    lines.push(`request ${made.method} ${made.url} ${JSON.stringify(await made.json())} ${made.bodyUsed}`);
    const response = new Response('héllo', { status: 202, statusText: 'Accepted Later', headers: { 'x-k': 'v' } });
    const copy = response.clone();
    lines.push(`response ${response.status} ${response.statusText} ok=${response.ok} ${await response.text()} clone ${[...new Uint8Array(await copy.arrayBuffer())].join(',')}`);
    const fromBytes = new Response(new Uint8Array([0xe2, 0x82, 0xac, 0x21]));
    lines.push(`bytes ${await fromBytes.text()} content-type ${fromBytes.headers.get('content-type')}`);
    const blob = await new Response('blob body').blob();
    lines.push(`blob ${blob.size} ${JSON.stringify(blob.type)} ${await blob.text()}`);
    const empty = new Response(null, { status: 204 });
    lines.push(`null body ${empty.status} ${JSON.stringify(await empty.text())} bodyUsed ${empty.bodyUsed}`);
    const params = new Response(new URLSearchParams({ a: 'b c' }));
    lines.push(`params ${params.headers.get('content-type')} ${await params.text()}`);
    try {
      new Response('x', { status: 99 });
      lines.push('status 99 accepted');
    } catch (error) {
      lines.push(`status 99 ${error.name}`);
    }
    const redirect = Response.redirect('https://example.com/next', 301);
    lines.push(`redirect ${redirect.status} ${redirect.headers.get('location')}`);
    const error = Response.error();
    lines.push(`error ${error.status} ${error.type}`);
    return new Response(lines.join('\n') + '\n');
  },
};
