/* global Event, EventTarget, Response -- the Workers globals springbok and workerd both have */
// Two edges of the DOM standard: an event never dispatched has a null target, and preventDefault
// on an event that is not cancelable does nothing (dispatchEvent still answers true).
export default {
  async fetch () {
    const target = new EventTarget();
    target.addEventListener('plain', (event) => event.preventDefault());
    const plain = new Event('plain');
    const dispatched = target.dispatchEvent(plain);
    return new Response(`fresh target ${new Event('fresh').target}\nnot cancelable dispatch ${dispatched} defaultPrevented ${plain.defaultPrevented}\n`);
  },
};
