/* global Response, TextEncoder, crypto -- the Workers globals springbok and workerd both have */
// MD5 through crypto.subtle.digest: not in the Web Crypto standard, an extension of workerd's.
const hex = (buffer) => Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, '0')).join('');

export default {
  async fetch () {
    try {
      return new Response(`MD5 abc ${hex(await crypto.subtle.digest('MD5', new TextEncoder().encode('abc')))}\n`);
    } catch (error) {
      return new Response(`MD5 ${error.name}\n`);
    }
  },
};
