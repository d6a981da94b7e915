/* global Blob, Response -- the Workers globals springbok and workerd both have */
// Blob: parts of strings, bytes and blobs; size and type; slice with negative indexes; text and
// arrayBuffer.
export default {
  async fetch () {
    const lines = [];
    const blob = new Blob(['héllo ', new Uint8Array([0x77, 0x6f]), new Blob(['rld']), new Uint16Array([0x2121]).buffer], { type: 'Text/Plain' });
    lines.push(`size ${blob.size} type ${JSON.stringify(blob.type)} text ${JSON.stringify(await blob.text())}`);
    for (const [start, end] of [[0, 3], [1, 2], [-4], [-4, -1], [5, 100], [10, 2]]) {
      const part = blob.slice(start, end, 'application/x-part');
      lines.push(`slice(${start},${end}) ${part.size} ${part.type} [${[...new Uint8Array(await part.arrayBuffer())].join(',')}]`);
    }
    const empty = new Blob();
    lines.push(`empty ${empty.size} ${JSON.stringify(empty.type)} ${JSON.stringify(await empty.text())}`);
    lines.push(`string of ${new Blob([123, true, null]).size} ${await new Blob([123, true, null]).text()}`);
    return new Response(lines.join('\n') + '\n');
  },
};
