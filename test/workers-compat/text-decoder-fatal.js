/* global Response, TextDecoder -- the Workers globals springbok and workerd both have */
// Invalid UTF-8: replaced with U+FFFD by default, a TypeError with fatal, and streaming decode of a
// character split across chunks.
export default {
  async fetch () {
    const invalid = [[0xff], [0xc3], [0xe6, 0x97], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x41, 0x80, 0x42], [0xc0, 0xaf]];
    const lines = invalid.map((bytes) => {
      const replaced = new TextDecoder().decode(new Uint8Array(bytes));
      let fatal;
      try {
        fatal = JSON.stringify(new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes)));
      } catch (error) {
        fatal = error.name;
      }
      return `[${bytes.join(',')}] ${JSON.stringify(replaced)} ${Array.from(replaced, (c) => c.codePointAt(0).toString(16)).join(' ')} fatal:${fatal}`;
    });
    const decoder = new TextDecoder();
    const euro = [0xe2, 0x82, 0xac];
    const parts = [decoder.decode(new Uint8Array(euro.slice(0, 1)), { stream: true }), decoder.decode(new Uint8Array(euro.slice(1)), { stream: true }), decoder.decode()];
    lines.push(`stream ${JSON.stringify(parts)}`);
    const dangling = new TextDecoder();
    lines.push(`dangling ${JSON.stringify(dangling.decode(new Uint8Array([0xe2, 0x82]), { stream: true }))} then ${JSON.stringify(dangling.decode())}`);
    return new Response(lines.join('\n') + '\n');
  },
};
