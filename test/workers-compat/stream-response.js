/* global ReadableStream, TextEncoder, Response, setTimeout -- the Workers globals springbok and workerd both have */
// A streamed response: the Worker returns at once with a stream its timers fill, chunk by chunk,
// with its own status and headers (springbok buffers the stream whole before it answers).
export default {
  async fetch () {
    const encoder = new TextEncoder();
    let sent = 0;
    const body = new ReadableStream({
      async pull (controller) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        sent++;
        controller.enqueue(encoder.encode(`chunk ${sent}\n`));
        if (sent === 5) controller.close();
      },
    });
    return new Response(body, { status: 201, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-streamed': 'yes' } });
  },
};
