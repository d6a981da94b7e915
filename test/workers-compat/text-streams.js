/* global ReadableStream, TextEncoderStream, TextDecoderStream, Response -- the Workers globals springbok and workerd both have */
// TextEncoderStream and TextDecoderStream: strings to UTF-8 and back, a character split between
// chunks, a surrogate pair split between written strings, and an invalid byte as U+FFFD.
export default {
  async fetch () {
    const lines = [];
    const encoder = new TextEncoderStream();
    const writer = encoder.writable.getWriter();
    writer.write('h\u00e9llo ');
    writer.write('\ud83e');
    writer.write('\udd8c!');
    writer.close();
    const bytes = [];
    for await (const chunk of encoder.readable) bytes.push(...chunk);
    lines.push(`encoder ${encoder.encoding} ${bytes.join(',')}`);
    const split = new ReadableStream({
      start (controller) {
        controller.enqueue(new Uint8Array([0x63, 0x61, 0x66, 0xc3]));
        controller.enqueue(new Uint8Array([0xa9, 0x20, 0xf0, 0x9f]));
        controller.enqueue(new Uint8Array([0xa6, 0x8c, 0xff]));
        controller.close();
      },
    });
    const decoder = new TextDecoderStream();
    const texts = [];
    for await (const text of split.pipeThrough(decoder)) texts.push(text);
    lines.push(`decoder ${decoder.encoding} fatal=${decoder.fatal} ${JSON.stringify(texts.join(''))}`);
    const roundTrip = new Response(new Response('round \u2713 trip').body.pipeThrough(new TextDecoderStream()).pipeThrough(new TextEncoderStream()));
    lines.push(`round trip ${await roundTrip.text()}`);
    return new Response(lines.join('\n') + '\n');
  },
};
