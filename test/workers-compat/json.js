/* global Response -- the Workers globals springbok and workerd both have */
// JSON.parse with a reviver, JSON.stringify with a replacer function, a key list, indentation,
// toJSON, unicode escapes and the errors; Response.json and request.json() on the body.
export default {
  async fetch (request) {
    const lines = [];
    const input = await request.json();
    lines.push(`input ${JSON.stringify(input)}`);
    const revived = JSON.parse('{"n":1,"date":"2024-01-02T03:04:05.000Z","nested":{"n":2},"list":[1,2,3]}', (key, value) => {
      if (key === 'date') return new Date(value).getUTCFullYear();
      return typeof value === 'number' ? value * 10 : value;
    });
    lines.push(`revived ${JSON.stringify(revived)}`);
    const value = { b: 2, a: [1, 'two', null, undefined, () => 0], c: { d: new Date(0), e: NaN, f: -0 }, g: undefined, toString () { return 'x'; } };
    lines.push(`replacer ${JSON.stringify(value, (key, v) => (typeof v === 'number' ? v + 1 : v))}`);
    lines.push(`keys ${JSON.stringify(value, ['a', 'c', 'e'])}`);
    lines.push(`indent\n${JSON.stringify({ a: [1, { b: 2 }], s: 'é\u2028"\\' }, null, '\t')}`);
    lines.push(`toJSON ${JSON.stringify({ when: { toJSON: (key) => `key:${key}` } })}`);
    lines.push(`escapes ${JSON.stringify('\u0000\u001f\ud800 🦌 </script>')}`);
    for (const text of ['{"a":1,}', '[1,2', "{'a':1}", '']) {
      try {
        JSON.parse(text);
        lines.push(`parsed ${JSON.stringify(text)}`);
      } catch (error) {
        lines.push(`${JSON.stringify(text)} ${error.name}`);
      }
    }
    const response = Response.json({ ok: true, list: [1, 2] }, { status: 201 });
    lines.push(`Response.json ${response.status} ${response.headers.get('content-type')} ${await response.text()}`);
    return new Response(lines.join('\n') + '\n');
  },
};
