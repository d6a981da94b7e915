/**
 * QuickJS's side of the guest boundary, evaluated in a function's context before the shared
 * prelude (js-common/guest-prelude.ts). The prelude expects host functions taking plain
 * values; the host functions here take only strings, numbers and ArrayBuffers (what the host can
 * read from a QuickJS handle without running guest code), so this script installs guest wrappers
 * under the prelude's names that convert a Uint8Array to a fresh ArrayBuffer and a failure
 * `[code, message]` to two strings, that wrap the ArrayBuffer of random bytes the host returns
 * in a Uint8Array (and so the digests of crypto.subtle, whose bytes go out as ArrayBuffers too), that
 * pass URL parsing's optional base as a string or undefined, and that make a timer's answer a boolean.
 *
 * The host cannot pass arguments to a call it enters through JSPI (the raw QTS_Call is called with
 * none), so it writes them into `box` (a null-prototype object: writing to it runs no guest
 * setter, even with Object.prototype polluted) and calls `step`, which reads them, calls the
 * prelude's API and reports through `result(kind, ...)`:
 *   result(1, output)              start finished: output a string or ArrayBuffer
 *   result(0, code, message)       start failed (or a step threw where nothing should)
 *   result(2)                      start returned a promise; its end comes through settled()
 *   result(3)                      deliver, forget or bind done
 *   result(4)                      bind done, of a Workers-format module (its start takes bytes)
 * A step that never calls result was interrupted (CPU budget, cancel) or ran out of memory.
 *
 * Script completion value: `function (hostLog, hostCall, hostSettled, hostResult, box, hostRandom, hostUrl, hostSource, hostDigest, hostTimer)` that
 * installs the wrappers and returns `function (api)`, which binds the prelude's API and returns `step`.
 */
export const kGuestBridgeSource = `(function (hostLog, hostCall, hostSettled, hostResult, box, hostRandom, hostUrl, hostSource, hostDigest, hostTimer) {
'use strict';
const g = globalThis, apply = Reflect.apply, NativeUint8Array = Uint8Array, NativeString = String;
const slice = Uint8Array.prototype.slice;
const bufferOf = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'buffer').get;
function wire (value) {
  return value instanceof NativeUint8Array ? apply(bufferOf, apply(slice, value, []), []) : value;
}
g.__sbHostLog = (line) => { hostLog(NativeString(line)); };
g.__sbHostCall = (id, callId, op, a, b, c, d) => { hostCall(id, callId, op, wire(a), wire(b), wire(c), wire(d)); };
g.__sbHostSettled = (id, ok, payload, response) => {
  if (ok) hostSettled(id, 1, wire(payload), response);
  else hostSettled(id, 0, NativeString(payload[0]), NativeString(payload[1]));
};
g.__sbHostRandom = (byteCount) => new NativeUint8Array(hostRandom(byteCount));
g.__sbHostSource = (group) => hostSource(NativeString(group));
g.__sbHostDigest = (hash, key, data) => new NativeUint8Array(hostDigest(NativeString(hash), key === undefined ? undefined : wire(key), wire(data)));
g.__sbHostTimer = (id, timerId, delayMs) => hostTimer(id, timerId, delayMs) === 1;
g.__sbHostUrl = (input, base, setter, value) => hostUrl(NativeString(input), base === undefined ? undefined : NativeString(base), NativeString(setter), NativeString(value));
return function (api) {
  const start = api.start, deliver = api.deliver, forget = api.forget, bind = api.bind;
  return function step () {
    try {
      switch (box.op) {
        case 'start': {
          const input = box.input;
          const result = apply(start, undefined, [box.id, typeof input === 'string' ? input : new NativeUint8Array(input), box.request]);
          box.input = undefined;
          box.request = undefined;
          if (result === undefined) return hostResult(2);
          if (result[0] === 1) return hostResult(1, wire(result[1]));
          return hostResult(0, NativeString(result[1][0]), NativeString(result[1][1]));
        }
        case 'deliver': {
          const value = box.ok ? [box.a, box.b, new NativeUint8Array(box.c)] : [box.a, box.b];
          box.c = undefined;
          apply(deliver, undefined, [[[box.fetchId, box.ok, value]]]);
          return hostResult(3);
        }
        case 'forget': apply(forget, undefined, [box.id]); return hostResult(3);
        case 'bind': {
          const worker = apply(bind, undefined, [box.fn, box.env]) === true;
          box.fn = undefined;
          box.env = undefined;
          return hostResult(worker ? 4 : 3);
        }
      }
    } catch (error) {
      let message = 'the function failed';
      try { message = NativeString(error && error.message); } catch {}
      return hostResult(0, 'ERR_FUNCTION', message);
    }
  };
};
})`;
