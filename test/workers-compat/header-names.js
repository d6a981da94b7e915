/* global Headers, Response -- the Workers globals springbok and workerd both have */
// Header names outside the standard's token characters (the empty name, non-ASCII letters): the
// Fetch standard throws a TypeError for them.
export default {
  async fetch () {
    const lines = [];
    for (const name of ['', 'x-é', 'x-ü-2']) {
      try {
        const headers = new Headers([[name, 'v']]);
        lines.push(`${JSON.stringify(name)} accepted ${JSON.stringify([...headers])}`);
      } catch (error) {
        lines.push(`${JSON.stringify(name)} ${error.name}`);
      }
    }
    return new Response(lines.join('\n') + '\n');
  },
};
