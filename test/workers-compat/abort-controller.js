/* global AbortController, DOMException, Response -- the Workers globals springbok and workerd both have */
// AbortController: listeners and onabort run once in order, reason default and custom, abort
// twice keeps the first reason.
export default {
  async fetch () {
    const lines = [];
    const controller = new AbortController();
    const { signal } = controller;
    signal.addEventListener('abort', (event) => lines.push(`listener 1 ${event.type} ${event.target === signal}`));
    signal.onabort = () => lines.push('onabort');
    signal.addEventListener('abort', () => lines.push('listener 2'), { once: true });
    lines.push(`before ${signal.aborted} ${signal.reason}`);
    controller.abort();
    lines.push(`after ${signal.aborted} ${signal.reason.name} ${signal.reason instanceof DOMException} code ${signal.reason.code}`);
    controller.abort(new Error('second'));
    lines.push(`again ${signal.reason.name}`);
    const withReason = new AbortController();
    withReason.abort({ code: 42 });
    lines.push(`custom ${JSON.stringify(withReason.signal.reason)}`);
    const pending = new AbortController();
    const rejection = new Promise((resolve, reject) => {
      pending.signal.addEventListener('abort', () => reject(pending.signal.reason));
    }).catch((error) => `rejected with ${error}`);
    pending.abort('stop');
    lines.push(await rejection);
    return new Response(lines.join('\n') + '\n');
  },
};
