/* global Event, EventTarget, Response -- the Workers globals springbok and workerd both have */
// Event and EventTarget: listener order, once, removeEventListener, handleEvent objects,
// stopImmediatePropagation, preventDefault with cancelable, CustomEvent-like subclasses (an event
// not yet dispatched and preventDefault without cancelable are in event-edges.js).
export default {
  async fetch () {
    const lines = [];
    const target = new EventTarget();
    const removed = () => lines.push('removed ran');
    target.addEventListener('ping', (event) => lines.push(`first ${event.type} ${event.eventPhase} ${event.target === target} ${event.currentTarget === target}`));
    target.addEventListener('ping', removed);
    target.removeEventListener('ping', removed);
    target.addEventListener('ping', { handleEvent (event) { lines.push(`object ${event.type}`); } });
    target.addEventListener('ping', () => lines.push('once'), { once: true });
    lines.push(`dispatch ${target.dispatchEvent(new Event('ping'))}`);
    lines.push(`dispatch again ${target.dispatchEvent(new Event('ping'))}`);
    target.addEventListener('stop', (event) => { lines.push('stopper'); event.stopImmediatePropagation(); });
    target.addEventListener('stop', () => lines.push('after stop'));
    target.dispatchEvent(new Event('stop'));
    target.addEventListener('cancel', (event) => event.preventDefault());
    const cancelable = new Event('cancel', { cancelable: true });
    lines.push(`cancelable ${target.dispatchEvent(cancelable)} defaultPrevented ${cancelable.defaultPrevented}`);
    class Ping extends Event {
      constructor (detail) { super('custom'); this.detail = detail; }
    }
    target.addEventListener('custom', (event) => lines.push(`custom ${event.detail} ${event instanceof Event}`));
    target.dispatchEvent(new Ping('payload'));
    const event = new Event('fresh', { bubbles: true });
    lines.push(`fresh ${event.type} bubbles=${event.bubbles} cancelable=${event.cancelable} phase=${event.eventPhase} trusted=${event.isTrusted}`);
    try {
      target.dispatchEvent('not an event');
      lines.push('dispatch string accepted');
    } catch (error) {
      lines.push(`dispatch string ${error.name}`);
    }
    return new Response(lines.join('\n') + '\n');
  },
};
