/* global AbortController, Response -- the Workers globals springbok and workerd both have */
// The message of the AbortError an AbortController gives when aborted without a reason: the
// standard leaves the wording to the host.
export default {
  async fetch () {
    const controller = new AbortController();
    controller.abort();
    return new Response(`${controller.signal.reason.name}: ${controller.signal.reason.message}\n`);
  },
};
