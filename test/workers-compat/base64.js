/* global Response, atob, btoa -- the Workers globals springbok and workerd both have */
// atob/btoa: round trips over every byte value, padding forms, whitespace, and the errors for
// characters over U+00FF and bad input.
export default {
  async fetch () {
    const lines = [];
    const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
    const encoded = btoa(all);
    lines.push(`all ${encoded}`);
    lines.push(`round trip ${atob(encoded) === all}`);
    for (const text of ['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar']) lines.push(`btoa ${JSON.stringify(text)} ${btoa(text)}`);
    for (const text of ['Zm9v', 'Zm8=', 'Zm8', ' Zm 9v\n', 'Zg==', 'Zg', 'Zm9v====', 'Z', '!!!!', 'Zm9v=']) {
      try {
        lines.push(`atob ${JSON.stringify(text)} ${JSON.stringify(atob(text))}`);
      } catch (error) {
        lines.push(`atob ${JSON.stringify(text)} ${error.name}`);
      }
    }
    try {
      btoa('é🦌');
      lines.push('btoa non-latin1 accepted');
    } catch (error) {
      lines.push(`btoa non-latin1 ${error.name}`);
    }
    return new Response(lines.join('\n') + '\n');
  },
};
