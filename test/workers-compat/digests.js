/* global Response, TextEncoder, crypto -- the Workers globals springbok and workerd both have */
// crypto.subtle.digest against known vectors (FIPS 180 "abc", the empty string, a million 'a's)
// as hex.
const hex = (buffer) => Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, '0')).join('');

export default {
  async fetch () {
    const encode = (text) => new TextEncoder().encode(text);
    const inputs = [['empty', encode('')], ['abc', encode('abc')], ['448 bits', encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')], ['utf-8', encode('springbok 🦌')], ['million a', new Uint8Array(1_000_000).fill(0x61)]];
    const lines = [];
    for (const algorithm of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512']) {
      for (const [label, data] of inputs) {
        lines.push(`${algorithm} ${label} ${hex(await crypto.subtle.digest(algorithm, data))}`);
      }
    }
    lines.push(`object form ${hex(await crypto.subtle.digest({ name: 'sha-256' }, new Uint8Array([1, 2, 3]).buffer))}`);
    try {
      await crypto.subtle.digest('SHA-3', new Uint8Array(1));
      lines.push('SHA-3 digested');
    } catch (error) {
      lines.push(`SHA-3 ${error.name}`);
    }
    return new Response(lines.join('\n') + '\n');
  },
};
