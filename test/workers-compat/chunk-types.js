/* global ReadableStream, Response -- the Workers globals springbok and workerd both have */
// Which chunks a stream body may give: a Uint8Array, other views, an ArrayBuffer, a string.
export default {
  async fetch () {
    const lines = [];
    const chunks = { Uint8Array: new Uint8Array([104, 105]), Uint16Array: new Uint16Array([0x6968]), DataView: new DataView(new Uint8Array([104, 105]).buffer), ArrayBuffer: new Uint8Array([104, 105]).buffer, string: 'hi' };
    for (const [kind, chunk] of Object.entries(chunks)) {
      try {
        const text = await new Response(new ReadableStream({ start (c) { c.enqueue(chunk); c.close(); } })).text();
        lines.push(`${kind} ${text}`);
      } catch (error) {
        lines.push(`${kind} ${error.name}`);
      }
    }
    return new Response(lines.join('\n') + '\n');
  },
};
