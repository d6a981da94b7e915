/* global Response, structuredClone -- the Workers globals springbok and workerd both have */
// structuredClone of plain data: shared references and cycles kept, Map/Set/Date/RegExp/typed
// arrays/errors copied, functions refused with DataCloneError.
export default {
  async fetch () {
    const shared = { s: 1 };
    const source = {
      number: 1.5, string: 'é', bool: true, nil: null, undef: undefined, big: 12345678901234567890n,
      date: new Date(Date.UTC(2020, 1, 29)), regexp: /a+b/gi, map: new Map([[1, 'one'], ['k', shared]]), set: new Set([1, 'a', shared]),
      bytes: new Uint8Array([1, 2, 255]), floats: new Float64Array([0.5, -2]), buffer: new Uint16Array([513]).buffer,
      error: new RangeError('out of range'), list: [shared, shared], sparse: Object.assign(new Array(3), { 0: 1, 2: 3 }),
    };
    source.self = source;
    const copy = structuredClone(source);
    const lines = [
      `distinct ${copy !== source} self ${copy.self === copy} shared ${copy.list[0] === copy.list[1]} map-shared ${copy.map.get('k') === copy.list[0]}`,
      `number ${copy.number} string ${copy.string} bool ${copy.bool} nil ${copy.nil} undef ${'undef' in copy} ${copy.undef} big ${copy.big}`,
      `date ${copy.date instanceof Date} ${copy.date.toISOString()} regexp ${copy.regexp instanceof RegExp} ${copy.regexp.source} ${copy.regexp.flags}`,
      `map ${copy.map instanceof Map} ${JSON.stringify([...copy.map])} set ${copy.set instanceof Set} ${JSON.stringify([...copy.set])}`,
      `bytes ${copy.bytes.constructor.name} ${Array.from(copy.bytes).join(',')} floats ${copy.floats.constructor.name} ${Array.from(copy.floats).join(',')} buffer ${copy.buffer.constructor.name} ${copy.buffer.byteLength} ${new Uint8Array(copy.buffer).join(',')}`,
      `error ${copy.error instanceof RangeError} ${copy.error.name} ${copy.error.message}`,
      `sparse ${copy.sparse.length} ${1 in copy.sparse}`,
    ];
    for (const bad of [() => 1, { f () {} }, Symbol('s')]) {
      try {
        structuredClone(bad);
        lines.push('cloned');
      } catch (error) {
        lines.push(`${typeof bad} ${error.name}`);
      }
    }
    return new Response(lines.join('\n') + '\n');
  },
};
