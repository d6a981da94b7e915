/* global Response, clearInterval, clearTimeout, queueMicrotask, scheduler, setInterval, setTimeout -- the Workers globals springbok and workerd both have */
// Timer ordering: by delay, then by order of creation (as far as the standard fixes it); microtasks before timers; clearTimeout;
// setInterval cleared after three ticks; scheduler.wait.
export default {
  async fetch () {
    const order = [];
    await new Promise((resolve) => {
      // Set in order of delay: the standard orders a timer after those set before it with a delay no
      // longer than its own, and no more. Set the other way round, the order depends on how long the
      // code between the calls took (on a loaded machine a 5 ms timer set first came before 0 ms ones).
      setTimeout(() => order.push('timeout 0 a'), 0);
      setTimeout(() => order.push('timeout 0 b'));
      setTimeout(() => order.push('timeout 1'), 1);
      setTimeout(() => order.push('timeout 5'), 5);
      const cancelled = setTimeout(() => order.push('cancelled'), 2);
      clearTimeout(cancelled);
      queueMicrotask(() => order.push('microtask'));
      Promise.resolve().then(() => order.push('promise'));
      let ticks = 0;
      const interval = setInterval(() => {
        ticks++;
        order.push(`interval ${ticks}`);
        if (ticks === 3) {
          clearInterval(interval);
          // Resolved from the last tick, not at a fixed time: a slow machine cannot cut the ticks short.
          resolve();
        }
      }, 20);
      order.push('sync');
    });
    await scheduler.wait(10);
    order.push('after scheduler.wait');
    return new Response(order.join('\n') + '\n');
  },
};
