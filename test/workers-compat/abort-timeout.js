/* global AbortSignal, DOMException, Response -- the Workers globals springbok and workerd both have */
// AbortSignal.timeout fires an abort event whose reason is a TimeoutError DOMException; an
// already aborted signal; throwIfAborted.
export default {
  async fetch () {
    const lines = [];
    const signal = AbortSignal.timeout(10);
    lines.push(`before aborted=${signal.aborted}`);
    const event = await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    lines.push(`event ${event.type} aborted=${signal.aborted} reason ${signal.reason.name} ${signal.reason instanceof DOMException} code ${signal.reason.code}`);
    try {
      signal.throwIfAborted();
      lines.push('throwIfAborted returned');
    } catch (error) {
      lines.push(`throwIfAborted ${error.name}`);
    }
    const aborted = AbortSignal.abort();
    lines.push(`AbortSignal.abort ${aborted.aborted} ${aborted.reason.name} code ${aborted.reason.code}`);
    const custom = AbortSignal.abort('why');
    lines.push(`custom reason ${JSON.stringify(custom.reason)}`);
    return new Response(lines.join('\n') + '\n');
  },
};
