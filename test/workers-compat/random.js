/* global Response, crypto -- the Workers globals springbok and workerd both have */
// crypto.randomUUID and getRandomValues, checked inside the Worker (their values are random): the
// output says only whether each check held.
export default {
  async fetch () {
    const uuids = Array.from({ length: 20 }, () => crypto.randomUUID());
    const checks = {
      uuidFormat: uuids.every((uuid) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uuid)),
      uuidsDistinct: new Set(uuids).size === uuids.length,
    };
    const bytes = new Uint8Array(64);
    checks.returnsSameArray = crypto.getRandomValues(bytes) === bytes;
    checks.bytesNotAllZero = bytes.some((byte) => byte !== 0);
    const words = crypto.getRandomValues(new Uint32Array(8));
    checks.wordsNotAllZero = words.some((word) => word !== 0);
    for (const [label, make] of [['floats', () => new Float64Array(2)], ['too many bytes', () => new Uint8Array(65537)]]) {
      try {
        crypto.getRandomValues(make());
        checks[label] = 'accepted';
      } catch (error) {
        checks[label] = error.name;
      }
    }
    return new Response(Object.entries(checks).map(([key, value]) => `${key} ${value}`).join('\n') + '\n');
  },
};
