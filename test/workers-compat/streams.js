/* global ReadableStream, WritableStream, TransformStream, CountQueuingStrategy, Response, TextEncoder, TextDecoder -- the Workers globals springbok and workerd both have */
// Streams: a reader, async iteration, pipeThrough a TransformStream, pipeTo a WritableStream, tee,
// cancel, an errored stream, backpressure's desiredSize, and a Response's body as a stream.
export default {
  async fetch (request) {
    const lines = [];
    const numbers = () => new ReadableStream({
      start (controller) {
        for (const n of [1, 2, 3]) controller.enqueue(n);
        controller.close();
      },
    });
    const reader = numbers().getReader();
    const reads = [];
    for (;;) {
      const { done, value } = await reader.read();
      reads.push(done ? 'done' : value);
      if (done) break;
    }
    lines.push(`reader ${reads.join(',')}`);
    const iterated = [];
    for await (const n of numbers()) iterated.push(n);
    lines.push(`for await ${iterated.join(',')}`);
    const doubled = numbers().pipeThrough(new TransformStream({ transform (n, controller) { controller.enqueue(n * 2); } }));
    const written = [];
    await doubled.pipeTo(new WritableStream({ write (n) { written.push(n); }, close () { written.push('closed'); } }));
    lines.push(`pipeThrough pipeTo ${written.join(',')}`);
    const [left, right] = numbers().tee();
    const both = [];
    for await (const n of left) both.push(`l${n}`);
    for await (const n of right) both.push(`r${n}`);
    lines.push(`tee ${both.join(',')}`);
    let cancelled;
    const cancellable = new ReadableStream({ pull (controller) { controller.enqueue('x'); }, cancel (reason) { cancelled = reason; } });
    await cancellable.cancel('enough');
    lines.push(`cancel ${cancelled} locked ${cancellable.locked}`);
    const broken = new ReadableStream({ start (controller) { controller.error(new TypeError('broken')); } });
    try {
      await broken.getReader().read();
      lines.push('errored read resolved');
    } catch (error) {
      lines.push(`errored ${error.name} ${error.message}`);
    }
    let writer;
    const slow = new WritableStream({ write () { return new Promise(() => {}); } }, new CountQueuingStrategy({ highWaterMark: 2 }));
    writer = slow.getWriter();
    const sizes = [writer.desiredSize];
    writer.write('a');
    sizes.push(writer.desiredSize);
    writer.write('b');
    sizes.push(writer.desiredSize);
    lines.push(`desiredSize ${sizes.join(',')}`);
    const body = new Response('streamed body').body;
    const chunks = [];
    for await (const chunk of body) chunks.push(new TextDecoder().decode(chunk));
    lines.push(`response body ${body instanceof ReadableStream} ${chunks.join('')}`);
    const requestBody = request.body;
    lines.push(`request body ${requestBody instanceof ReadableStream} ${await new Response(requestBody).text()} used ${request.bodyUsed}`);
    const fromStream = new Response(new ReadableStream({ start (controller) { controller.enqueue(new TextEncoder().encode('from ')); controller.enqueue(new Uint8Array([0x73, 0x74, 0x72, 0x65, 0x61, 0x6d])); controller.close(); } }));
    lines.push(`response of a stream ${JSON.stringify(await fromStream.text())} content-type ${fromStream.headers.get('content-type')}`);
    return new Response(lines.join('\n') + '\n');
  },
};
