/* global Response, TextDecoder, TextEncoder -- the Workers globals springbok and workerd both have */
// TextEncoder/TextDecoder round trips: ASCII, two-, three- and four-byte UTF-8, a lone surrogate
// (encoded as U+FFFD), encodeInto with a short destination, and a BOM.
export default {
  async fetch () {
    const encoder = new TextEncoder();
    const decoder = new TextDecoder();
    const samples = ['hello', 'héllo wörld', '日本語テキスト', '🦌 springbok 🐆', 'a\uD800b', ''];
    const lines = samples.map((text) => {
      const bytes = encoder.encode(text);
      return `${JSON.stringify(text)} ${bytes.length} [${Array.from(bytes).join(',')}] ${JSON.stringify(decoder.decode(bytes))}`;
    });
    const destination = new Uint8Array(5);
    const into = encoder.encodeInto('aé日🦌', destination);
    lines.push(`encodeInto read=${into.read} written=${into.written} [${Array.from(destination).join(',')}]`);
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, 0x41]);
    lines.push(`bom ${JSON.stringify(new TextDecoder().decode(bom))} ignoreBOM ${JSON.stringify(new TextDecoder('utf-8', { ignoreBOM: true }).decode(bom))}`);
    lines.push(`encoding ${encoder.encoding} ${decoder.encoding} fatal=${decoder.fatal} ignoreBOM=${decoder.ignoreBOM}`);
    return new Response(lines.join('\n') + '\n');
  },
};
