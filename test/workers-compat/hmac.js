/* global Response, TextEncoder, crypto -- the Workers globals springbok and workerd both have */
// HMAC sign and verify against the RFC 4231 test cases 1, 2 and 6 (SHA-256 and SHA-512) and
// RFC 2202 case 2 (SHA-1); verify rejects a tampered message; raw export of the key.
const hex = (buffer) => Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, '0')).join('');
const bytes = (text) => new TextEncoder().encode(text);

export default {
  async fetch () {
    const cases = [
      ['rfc4231-1', new Uint8Array(20).fill(0x0b), bytes('Hi There')],
      ['rfc4231-2', bytes('Jefe'), bytes('what do ya want for nothing?')],
      ['rfc4231-6', new Uint8Array(131).fill(0xaa), bytes('Test Using Larger Than Block-Size Key - Hash Key First')],
    ];
    const lines = [];
    for (const hash of ['SHA-1', 'SHA-256', 'SHA-512']) {
      for (const [label, keyBytes, message] of cases) {
        const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash }, true, ['sign', 'verify']);
        const signature = await crypto.subtle.sign('HMAC', key, message);
        const good = await crypto.subtle.verify('HMAC', key, signature, message);
        const tampered = await crypto.subtle.verify('HMAC', key, signature, bytes('tampered'));
        lines.push(`${hash} ${label} ${hex(signature)} verify=${good} tampered=${tampered}`);
      }
    }
    const key = await crypto.subtle.importKey('raw', bytes('Jefe'), { name: 'HMAC', hash: { name: 'SHA-256' } }, true, ['sign']);
    lines.push(`key type=${key.type} extractable=${key.extractable} algorithm=${key.algorithm.name}/${key.algorithm.hash.name}/${key.algorithm.length} usages=${key.usages.join(',')}`);
    lines.push(`export ${hex(await crypto.subtle.exportKey('raw', key))}`);
    try {
      await crypto.subtle.verify('HMAC', key, new Uint8Array(32), bytes('x'));
      lines.push('verify without the usage succeeded');
    } catch (error) {
      lines.push(`verify without the usage ${error.name}`);
    }
    return new Response(lines.join('\n') + '\n');
  },
};
