/**
 * Timers for both JavaScript engines (issue #16): setTimeout, clearTimeout, setInterval,
 * clearInterval and scheduler.wait, a lazy group of web globals (web-globals.ts). A timer is
 * pending work of the invocation that set it, like a fetch: the prelude registers it with the host
 * (guest-prelude.ts, startTimer), the host wakes the invocation when it is due (timer-relay.ts) and
 * delivers it as it delivers a settled fetch, and the callback runs under the invocation's CPU
 * budget. The invocation ends when its result is known (the Workers rule): timers still pending
 * then are dropped, never run in a later invocation; waiting for one counts against the wall-clock budget.
 */

/** Most timers one invocation may have pending; one more throws a RangeError. */
export const kMaxPendingTimers = 1000;

/** Longest delay, in ms (the largest the web's timers take, 2^31 - 1); longer ones are cut to it. */
export const kMaxTimerDelayMs = 2 ** 31 - 1;

/** The group's globals. */
export const kWebTimersNames = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'scheduler'];

/**
 * The group's implementation: a function body run once per context with the captured builtins as
 * `captured`, the first group's internals as `base`, and the prelude's `startTimer` and `stopTimer`.
 * It returns the globals by name.
 */
export const kWebTimersImplementationSource = `'use strict';
const { DOMException, append, signalState } = base;
const exported = { __proto__: null };
const kMaxDelay = ${kMaxTimerDelayMs};
// A delay as the web's timers read it: not a number or negative is 0, fractions are dropped.
function delayOf (delay) {
  const ms = +delay;
  return ms > 0 ? (ms < kMaxDelay ? mathFloor(ms) : kMaxDelay) : 0;
}
function schedule (what, callback, delay, args, repeat) {
  if (typeof callback !== 'function') throw new NativeTypeError(what + ': the callback must be a function (a string of code is not run)');
  return startTimer(what, delayOf(delay), repeat, () => { apply(callback, undefined, args); });
}
exported.setTimeout = function setTimeout (callback, delay = 0, ...args) { return schedule('setTimeout', callback, delay, args, false); };
exported.setInterval = function setInterval (callback, delay = 0, ...args) { return schedule('setInterval', callback, delay, args, true); };
// Either clears either kind, as on the web; an id that is not a pending timer of this invocation is ignored.
exported.clearTimeout = function clearTimeout (id = undefined) { stopTimer(id); };
exported.clearInterval = function clearInterval (id = undefined) { stopTimer(id); };
exported.scheduler = { wait (delay = 0, options = undefined) {
  const signal = options == null ? undefined : options.signal;
  return new NativePromise((resolve, reject) => {
    const state = signal === undefined ? undefined : signalState(signal);
    if (signal !== undefined && state === undefined) throw new NativeTypeError('scheduler.wait: signal is not an AbortSignal');
    if (state !== undefined && state.aborted) return reject(state.reason);
    const id = startTimer('scheduler.wait', delayOf(delay), false, () => resolve());
    if (state !== undefined) append(state.algorithms, () => { stopTimer(id); reject(state.reason); });
  });
} };
return exported;
`;
