/**
 * The guest side of both JavaScript engines: a script each engine evaluates in a function's context
 * before the function's module. It is the only code that talks to the host, through host
 * functions that it takes off the global object and hides in its closure:
 *
 *   __sbHostLog(line)                                         console.log and friends
 *   __sbHostCall(invocationId, callId, op, a, b, c, d)        starts an asynchronous host call: fetch, ctx.invoke, ctx.kv (js-common/host-calls.ts lists them)
 *   __sbHostSettled(invocationId, ok, payload, response)      an async function finished (payload: output, or [code, message]; response: a Worker's status and headers as JSON, or undefined)
 *   __sbHostRandom(byteCount)                                 a Uint8Array of byteCount random bytes (at most 65,536), for crypto
 *   __sbHostUrl(input, base, setter, value)                   URL parsing, answered as a JSON array of strings (web-url.ts)
 *   __sbHostSource(group)                                     the source of a group of web globals, compiled on first use (web-globals.ts)
 *   __sbHostDigest(hash, key, data)                           a digest (HMAC when key is given) as a Uint8Array, for crypto.subtle (web-crypto.ts)
 *   __sbHostTimer(invocationId, timerId, delayMs)             sets a timer (-1: cancels it); false when the invocation has too many (web-timers.ts)
 *
 * and it returns the entry points the host calls (see {@link GuestApi}). Everything the guest sees
 * (ctx, console, the fetch response, the web globals of web-globals.ts and web-fetch.ts) is created here, inside the guest, from plain strings and bytes:
 * no host object ever reaches guest code, so there is no host constructor chain or prototype to reach.
 *
 * Output rules (doc/js.md): a string is returned as is; a Uint8Array as its bytes; anything else is
 * JSON-encoded (undefined, a function or a symbol give empty output). Payloads are encoded here so the
 * cost of JSON.stringify is charged to the function that asked for it.
 */

import type { ErrorRecord } from '../../engine/errors.ts';
import type { InvocationRequest, InvocationResponse, SliceOutcome } from '../../engine/plugin.ts';
import { entryCheckpointsSource } from './entry-checkpoints.ts';
import { failureRecord, outputBytes } from './host-values.ts';
import { kWebGlobalsSource } from './web-globals.ts';
import { kMaxPendingTimers } from './web-timers.ts';

/** The URL of the request a Workers-format function gets when its caller sent no HTTP request (the socket protocol). */
export const kSocketRequestUrl = 'http://function.invalid/';
/** Most response headers a Workers-format function may answer with. */
const kMaxResponseHeaders = 256;
/** Longest response description (status and headers as JSON) taken from the guest, in characters. */
const kMaxResponseJsonChars = 64 * 1024;

/**
 * A Workers-format function's response description from the guest, checked: the status an
 * integer from 200 to 599, the headers pairs of strings that HTTP allows.
 * @returns the response, or the error that fails the invocation.
 */
export function workerResponse (json: unknown): InvocationResponse | ErrorRecord {
  const refused = (why: string): ErrorRecord => ({ code: 'ERR_FUNCTION', message: `the function's Response cannot be answered: ${why}` });
  if (typeof json !== 'string' || json.length > kMaxResponseJsonChars) return refused(`its status and headers take more than ${kMaxResponseJsonChars} characters`);
  let parsed: unknown;
  try { parsed = JSON.parse(json); } catch { return refused('it is malformed'); }
  if (!Array.isArray(parsed) || parsed.length !== 2 || !Array.isArray(parsed[1])) return refused('it is malformed');
  const [status, list] = parsed as [unknown, unknown[]];
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) return refused(`status ${String(status)} is not from 200 to 599`);
  if (list.length > kMaxResponseHeaders) return refused(`it has ${list.length} headers, more than ${kMaxResponseHeaders}`);
  const headers: [string, string][] = [];
  for (const pair of list) {
    if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') return refused('a header is not a pair of strings');
    const [name, value] = pair as [string, string];
    if (!kHeaderName.test(name) || !kHeaderValue.test(value)) return refused(`header ${JSON.stringify(name.slice(0, 64))} is not a valid HTTP header`);
    headers.push([name, value]);
  }
  return { status, headers };
}
/** The request as start() takes it: `[method, url, [[name, value], ...]]` as JSON, or undefined. */
export function requestJson (request: InvocationRequest | undefined): string | undefined {
  return request === undefined ? undefined : JSON.stringify([request.method, request.url, request.headers]);
}

/**
 * How an invocation ends, from what the guest reported (start's `[1, output]` / `[0, [code, message]]`,
 * or __sbHostSettled's arguments): `response` is a Workers-format function's status and headers.
 */
export function settledOutcome (ok: boolean, payload: unknown, response: unknown): SliceOutcome {
  if (!ok) return { state: 'failed', error: failureRecord(payload) };
  const output = outputBytes(payload);
  if (!(output instanceof Uint8Array)) return { state: 'failed', error: output };
  if (response === undefined) return { state: 'done', output };
  const checked = workerResponse(response);
  return 'status' in checked ? { state: 'done', output, response: checked } : { state: 'failed', error: checked };
}

const kHeaderName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Visible ASCII, space, tab and obs-text; no CR, LF or NUL.
const kHeaderValue = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Error codes the prelude reports in a failure payload `[code, message]`. */
export type GuestFailureCode = 'ERR_FUNCTION' | 'ERR_MEMORY_BUDGET' | 'ERR_OUTPUT_TOO_LARGE';

/** What the host calls in the guest, in order: bind once, then start per invocation and deliver per settled fetch. */
export interface GuestApi {
  /**
   * bind(defaultExport, envJson): checks that the module's default export is a function, or an
   * object with a fetch method (the Workers format); envJson is the function's deploy-time
   * variables as a JSON object of strings, or undefined. Returns true for the Workers format:
   * start then takes the input as bytes (a Uint8Array, the request's body), else as a string.
   */
  readonly bind: unknown;
  /**
   * start(invocationId, input, requestJson): calls the function. Returns `[1, output]` or `[0, [code, message]]`
   * when it finished synchronously, or `undefined` when it returned a promise (its end comes
   * through __sbHostSettled). requestJson is the HTTP request `[method, url, [[name, value], ...]]`,
   * or undefined (a Workers-format function then gets a POST to {@link kSocketRequestUrl}). A
   * Workers-format function always ends through __sbHostSettled, with a third argument: its
   * response's `[status, [[name, value], ...]]` as JSON (see {@link workerResponse}).
   */
  readonly start: unknown;
  /** deliver(list): settles host calls and timers; list is `[[callId, ok, value], ...]`, value `[a, b, c]` (host-calls.ts) or `[code, message]`. */
  readonly deliver: unknown;
  /** forget(invocationId): drops what the guest holds for an invocation that was cancelled. */
  readonly forget: unknown;
}

export interface PreludeLimits {
  /**
   * Largest array length `Array(n)`, `new Array(n)` and `Array.prototype.fill` accept. Past it they
   * throw a RangeError that fails the invocation with ERR_MEMORY_BUDGET when uncaught. It exists
   * because V8 allocates `new Array(n)` (n < 2^25) in one piece, before any heap limit can object.
   */
  readonly maxArrayElements: number;
  /** Largest output in characters or bytes; past it ERR_OUTPUT_TOO_LARGE, before anything is copied out. */
  readonly maxOutputUnits: number;
  /** Longest console line kept, in characters; longer lines are cut so a log call copies a bounded amount. */
  readonly maxLogLineChars: number;
  /**
   * Most entries one Map or Set may hold; past it `set`/`add` of a new key throws a RangeError that
   * fails the invocation with ERR_MEMORY_BUDGET. It exists because V8 allocates a growing hash table
   * in one piece: under a small heap limit that allocation fails as a catastrophic out-of-memory
   * (the isolate's thread is lost) before any graceful limit sees it. Unset: no cap.
   */
  readonly maxCollectionEntries?: number;
  /**
   * Most Intl objects (Collator, DateTimeFormat, ...) alive at once; past it their constructors throw
   * a RangeError (ERR_MEMORY_BUDGET). Their ICU memory lies outside the JavaScript heap and no heap
   * limit counts it (a DateTimeFormat holds ~28 KiB of ICU memory for ~0.3 KiB of heap). An object
   * counts until the garbage collector has found it unreachable. Unset: no cap.
   */
  readonly maxIntlObjects?: number;
  /**
   * Removes FinalizationRegistry and WeakRef from the guest: a finalization callback runs as a task
   * of the engine's own, outside any invocation, where no per-invocation timeout applies.
   */
  readonly hideWeakReferences?: boolean;
  /** Wraps V8's long-running builtins so each call is a point where a termination is seen (see entry-checkpoints.ts). */
  readonly checkpointLongBuiltins?: boolean;
}

/**
 * The prelude's source: a script whose completion value is the {@link GuestApi} object.
 * @param limits numbers inlined into the script (validated integers only).
 */
export function guestPreludeSource (limits: PreludeLimits): string {
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value === 'boolean' || value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`prelude limit ${name} must be a non-negative integer: got ${value}`);
  }
  return `(() => {
'use strict';
const g = globalThis;
const hostLog = g.__sbHostLog, hostCall = g.__sbHostCall, hostSettled = g.__sbHostSettled, hostRandom = g.__sbHostRandom, hostUrl = g.__sbHostUrl, hostSource = g.__sbHostSource;
const hostDigest = g.__sbHostDigest, hostTimer = g.__sbHostTimer;
delete g.__sbHostLog; delete g.__sbHostCall; delete g.__sbHostSettled; delete g.__sbHostRandom; delete g.__sbHostUrl; delete g.__sbHostSource;
delete g.__sbHostDigest; delete g.__sbHostTimer;
// Things that could block or escape the engine's accounting are not offered (doc/js.md lists the globals).
for (const name of ['WebAssembly', 'SharedArrayBuffer', 'Atomics', 'std', 'os']) delete g[name];

const kMaxArrayElements = ${limits.maxArrayElements};
const kMaxCollectionEntries = ${limits.maxCollectionEntries ?? -1};
const kMaxIntlObjects = ${limits.maxIntlObjects ?? -1};
// Captured before the global is removed: the prelude's own finalization callback (counting Intl objects) is one line of its own code.
const FinalizationRegistryNative = g.FinalizationRegistry;
if (${limits.hideWeakReferences === true}) { delete g.FinalizationRegistry; delete g.WeakRef; }
const kMaxOutputUnits = ${limits.maxOutputUnits};
const kMaxLogLineChars = ${limits.maxLogLineChars};
const NativeArray = Array, NativeError = Error, NativeRangeError = RangeError, NativeTypeError = TypeError, NativeUint8Array = Uint8Array, NativePromise = Promise;
const stringify = JSON.stringify, parse = JSON.parse, apply = Reflect.apply, construct = Reflect.construct, isArray = Array.isArray;
const nativeFill = Array.prototype.fill, nativeMap = Array.prototype.map, nativeJoin = Array.prototype.join;
const nativeThen = Promise.prototype.then, freeze = Object.freeze, WeakSetNative = WeakSet, MapNative = Map;
const weakAdd = WeakSet.prototype.add, weakHas = WeakSet.prototype.has;
const mapGet = Map.prototype.get, mapSet = Map.prototype.set, mapDelete = Map.prototype.delete, mapForEach = Map.prototype.forEach;
const budgetErrors = new WeakSetNative();
// After the prelude took its own copies of the builtins it uses.
${limits.checkpointLongBuiltins === true ? entryCheckpointsSource() : ''}

function memoryError (what) {
  const error = new NativeRangeError(what + ' is over the memory budget');
  apply(weakAdd, budgetErrors, [error]);
  return error;
}
function checkLength (n, what) {
  if (typeof n === 'number' && n > kMaxArrayElements) throw memoryError(what + ' of ' + n + ' elements');
}
// Guards against one huge allocation that would pass the engine's heap limit (doc/js.md, "memory").
const GuardedArray = function Array (...args) {
  if (args.length === 1) checkLength(args[0], 'Array');
  return new.target === undefined ? apply(NativeArray, undefined, args) : construct(NativeArray, args, new.target === GuardedArray ? NativeArray : new.target);
};
GuardedArray.prototype = NativeArray.prototype;
for (const key of ['isArray', 'from', 'of', 'fromAsync']) if (key in NativeArray) GuardedArray[key] = NativeArray[key];
g.Array = GuardedArray;
NativeArray.prototype.fill = function fill (...args) {
  checkLength(this == null ? 0 : this.length, 'Array.prototype.fill');
  return apply(nativeFill, this, args);
};

// Hash tables (Map, Set) grow by reallocating in one piece: capped in entries (see PreludeLimits.maxCollectionEntries).
if (kMaxCollectionEntries >= 0) {
  for (const [Native, name] of [[MapNative, 'set'], [Set, 'add']]) {
    const native = Native.prototype[name], has = Native.prototype.has;
    const size = Object.getOwnPropertyDescriptor(Native.prototype, 'size').get;
    Object.defineProperty(Native.prototype, name, { value: { [name] (key, value) {
      if (apply(size, this, []) >= kMaxCollectionEntries && !apply(has, this, [key])) throw memoryError(Native.name + ' of more than ' + kMaxCollectionEntries + ' entries');
      return apply(native, this, [key, value]);
    } }[name], writable: true, configurable: true, enumerable: false });
  }
}
// ICU-backed objects hold memory outside the heap: capped in number alive (see PreludeLimits.maxIntlObjects).
if (kMaxIntlObjects >= 0 && typeof g.Intl === 'object' && typeof FinalizationRegistryNative === 'function') {
  let intlAlive = 0;
  const released = new FinalizationRegistryNative(() => { intlAlive--; });
  const register = FinalizationRegistryNative.prototype.register;
  for (const name of ['Collator', 'DateTimeFormat', 'DisplayNames', 'DurationFormat', 'ListFormat', 'Locale', 'NumberFormat', 'PluralRules', 'RelativeTimeFormat', 'Segmenter']) {
    const NativeIntl = g.Intl[name];
    if (typeof NativeIntl !== 'function') continue;
    const Guarded = function (...args) {
      if (new.target === undefined) throw new TypeError('Intl.' + name + ' must be called with new');
      if (intlAlive >= kMaxIntlObjects) throw memoryError('more than ' + kMaxIntlObjects + ' Intl objects alive');
      const made = construct(NativeIntl, args, new.target === Guarded ? NativeIntl : new.target);
      intlAlive++;
      apply(register, released, [made]);
      return made;
    };
    Object.defineProperty(Guarded, 'name', { value: name });
    Guarded.prototype = NativeIntl.prototype;
    Object.defineProperty(NativeIntl.prototype, 'constructor', { value: Guarded, writable: true, configurable: true, enumerable: false });
    for (const key of ['supportedLocalesOf']) if (key in NativeIntl) Guarded[key] = NativeIntl[key];
    Object.defineProperty(g.Intl, name, { value: Guarded, writable: true, configurable: true, enumerable: false });
  }
}

function text (value) {
  if (typeof value === 'string') return value;
  try {
    const json = stringify(value);
    return json === undefined ? String(value) : json;
  } catch { return String(value); }
}
// Each entry from the host may send at most this many lines, so a logging loop cannot keep the host thread busy.
let linesLeft = 1024;
function logLine (args) {
  if (linesLeft <= 0) return;
  linesLeft--;
  let line = apply(nativeJoin, apply(nativeMap, args, [text]), [' ']);
  if (line.length > kMaxLogLineChars) line = line.slice(0, kMaxLogLineChars) + '…';
  hostLog(line);
}
const console = freeze({
  log: (...args) => logLine(args), info: (...args) => logLine(args), warn: (...args) => logLine(args),
  error: (...args) => logLine(args), debug: (...args) => logLine(args),
});
Object.defineProperty(g, 'console', { value: console, writable: true, configurable: true, enumerable: false });

function describe (error) {
  try {
    if (error instanceof NativeError) return (error.name && error.name !== 'Error' ? error.name + ': ' : '') + String(error.message);
    return 'uncaught ' + text(error);
  } catch { return 'uncaught exception'; }
}
// An exception no caller can catch (a throwing event listener or microtask) goes to the log.
function reportUncaught (error) {
  let what;
  try { what = error instanceof NativeError ? describe(error) : text(error); } catch { what = 'exception'; }
  logLine(['Uncaught ' + what]);
}
const pending = new MapNative(); // callId -> [invocationId, onValue, onError], timerId -> [invocationId, fire, undefined, true, repeatMs or -1]
let nextFetchId = 1;
// The invocation whose entry is running: entries run one at a time, and the promise jobs an entry
// queues run before it ends, so code running now belongs to it (the global fetch is charged to it).
let runningInvocation = 0;
// Every asynchronous host call (fetch, ctx.invoke, ctx.kv) is pending work, settled through deliver().
function requestHostCall (invocationId, op, a, b, c, d, onValue, onError) {
  const callId = nextFetchId++;
  apply(mapSet, pending, [callId, [invocationId, onValue, onError]]);
  hostCall(invocationId, callId, op, a, b, c, d);
}
function requestFetch (invocationId, url, method, headersJson, body, onValue, onError) {
  requestHostCall(invocationId, 'fetch', url, method, headersJson, body, onValue, onError);
}
function startFetch (url, method, headersJson, body, onValue, onError) {
  if (runningInvocation === 0) throw new NativeTypeError('fetch: only an invocation can fetch, not the top level of the module');
  requestFetch(runningInvocation, url, method, headersJson, body, onValue, onError);
}
// A timer is pending work like a fetch, in the same map and delivered the same way (web-timers.ts).
// Its entry refers to nothing that refers back to it: QuickJS frees it as soon as it is dropped, no cycle collection needed.
function startTimer (what, delayMs, repeat, fire) {
  const invocationId = runningInvocation;
  if (invocationId === 0) throw new NativeTypeError(what + ': only an invocation can set a timer, not the top level of the module');
  const timerId = nextFetchId++;
  const waiter = [invocationId, fire, undefined, true, repeat ? delayMs : -1];
  if (!hostTimer(invocationId, timerId, delayMs)) throw new NativeRangeError(what + ': the invocation already has ${kMaxPendingTimers} timers pending, the most it may have');
  apply(mapSet, pending, [timerId, waiter]);
  return timerId;
}
function runTimer (timerId, waiter) {
  if (waiter[4] >= 0) {
    apply(mapSet, pending, [timerId, waiter]);
    hostTimer(waiter[0], timerId, waiter[4]);
  }
  try { waiter[1](); } catch (error) { reportUncaught(error); }
}
function stopTimer (timerId) {
  const waiter = apply(mapGet, pending, [timerId]);
  if (waiter === undefined || waiter[3] !== true || waiter[0] !== runningInvocation) return;
  apply(mapDelete, pending, [timerId]);
  hostTimer(waiter[0], timerId, -1);
}
// The invocation's result is known: its timers still pending never run (the host drops its side).
function dropTimers (invocationId) {
  apply(mapForEach, pending, [(waiter, id) => { if (waiter[0] === invocationId && waiter[3] === true) apply(mapDelete, pending, [id]); }]);
}
// After the caps above: the web globals' own Maps are capped like the function's.
(${kWebGlobalsSource})(hostRandom, reportUncaught, kMaxCollectionEntries >= 0, startFetch, hostUrl, hostSource, hostDigest, startTimer, stopTimer);

// The engines' own refusals of an allocation, as V8 and QuickJS word them.
const kOutOfMemory = /^(Invalid string length|Array buffer allocation failed|Invalid array length|Invalid typed array length|Array too large|out of memory)/;
function failure (error) {
  if (typeof error === 'object' && error !== null && apply(weakHas, budgetErrors, [error])) return ['ERR_MEMORY_BUDGET', String(error.message)];
  try {
    if (error instanceof NativeError && (error.name === 'RangeError' || error.name === 'InternalError') && kOutOfMemory.test(String(error.message))) return ['ERR_MEMORY_BUDGET', 'the function ran out of memory: ' + String(error.message)];
  } catch {}
  return ['ERR_FUNCTION', describe(error)];
}
function encode (value) {
  if (typeof value === 'string') {
    if (value.length > kMaxOutputUnits) return [0, ['ERR_OUTPUT_TOO_LARGE', 'output of ' + value.length + ' characters is over the limit of ' + kMaxOutputUnits]];
    return [1, value];
  }
  if (value instanceof NativeUint8Array) {
    if (value.byteLength > kMaxOutputUnits) return [0, ['ERR_OUTPUT_TOO_LARGE', 'output of ' + value.byteLength + ' bytes is over the limit of ' + kMaxOutputUnits]];
    return [1, value];
  }
  const json = stringify(value);
  return encode(json === undefined ? '' : json);
}
function encodeOrFail (value) {
  try { return encode(value); } catch (error) { return [0, failure(error)]; }
}

// ctx.invoke and ctx.kv: the same for a plain function's ctx and a Worker's. The arguments are
// checked inside the promise, so a bad one is a rejection like the engine's refusals.
function hostPromise (invocationId, op, args, onValue) {
  return new NativePromise((resolve, reject) => {
    const checked = args();
    requestHostCall(invocationId, op, checked[0], checked[1], checked[2], undefined, (value) => resolve(onValue(value)), reject);
  });
}
function checkedBody (value, what) {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string' && !(value instanceof NativeUint8Array)) throw new NativeTypeError(what + ' must be a string or a Uint8Array');
  return value;
}
function checkedKey (key, what) {
  if (typeof key !== 'string') throw new NativeTypeError(what + ' must be a string');
  return key;
}
function namespaceOption (options) {
  if (options == null || options.namespace == null) return undefined;
  return String(options.namespace);
}
function makeInvoke (invocationId) {
  return function invoke (name, input) {
    return hostPromise(invocationId, 'invoke', () => [checkedKey(name, 'ctx.invoke: the name'), checkedBody(input, 'ctx.invoke: the input')], (value) => value[1]);
  };
}
function makeKv (invocationId) {
  return freeze({
    get (key, options) {
      const asBytes = options != null && options.type === 'bytes';
      return hostPromise(invocationId, 'kv.get', () => [checkedKey(key, 'ctx.kv.get: the key'), namespaceOption(options), asBytes], (value) => value[0] === 0 ? null : asBytes ? value[2] : value[1]);
    },
    put (key, value, options) {
      return hostPromise(invocationId, 'kv.put', () => [checkedKey(key, 'ctx.kv.put: the key'), checkedBody(value, 'ctx.kv.put: the value'), namespaceOption(options)], () => undefined);
    },
    delete (key, options) {
      return hostPromise(invocationId, 'kv.delete', () => [checkedKey(key, 'ctx.kv.delete: the key'), namespaceOption(options)], (value) => value[0] === 1);
    },
    list (prefix, options) {
      return hostPromise(invocationId, 'kv.list', () => [checkedKey(prefix === undefined ? '' : prefix, 'ctx.kv.list: the prefix'), namespaceOption(options)], (value) => parse(value[1]));
    },
  });
}

function makeContext (invocationId) {
  return freeze({
    fetch (url, init) {
      return new NativePromise((resolve, reject) => {
        const options = init == null ? {} : init;
        const headers = options.headers == null ? {} : options.headers;
        const body = options.body;
        if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof NativeUint8Array)) throw new TypeError('ctx.fetch: body must be a string or a Uint8Array');
        const onValue = (value) => resolve(freeze({ status: value[0], headers: freeze(parse(value[1])), body: value[2] }));
        requestFetch(invocationId, String(url), options.method == null ? 'GET' : String(options.method), stringify(headers), body == null ? undefined : body, onValue, reject);
      });
    },
    invoke: makeInvoke(invocationId),
    kv: makeKv(invocationId),
  });
}

// The Workers format: export default { fetch (request, env, ctx) { ... } }. The fetch group's own
// classes, from their accessors as the prelude left them: a function that replaces globalThis.Response
// cannot pass off something else as one.
const ownDescriptor = Object.getOwnPropertyDescriptor;
const requestClass = ownDescriptor(g, 'Request').get, responseClass = ownDescriptor(g, 'Response').get;
// What a Workers-format invocation resolves to: a prelude object, so no value of the function's can pass for one.
function WorkerAnswer (body, response) { this.body = body; this.response = response; }
function makeRequest (requestJson, input) {
  const RequestClass = apply(requestClass, g, []);
  if (requestJson === undefined) return new RequestClass('${kSocketRequestUrl}', { method: 'POST', body: input });
  const request = parse(requestJson), method = request[0];
  return new RequestClass(request[1], method === 'GET' || method === 'HEAD' ? { method, headers: request[2] } : { method, headers: request[2], body: input });
}
async function callWorker (invocationId, input, requestJson) {
  const waits = [];
  const ctx = freeze({
    // The invocation's result waits for these too; a rejection is logged, not a failure.
    waitUntil (promise) {
      waits[waits.length] = apply(nativeThen, NativePromise.resolve(promise), [undefined, (error) => logLine(['ctx.waitUntil: a promise rejected: ' + describe(error)])]);
    },
    passThroughOnException () {},
    invoke: makeInvoke(invocationId),
    kv: makeKv(invocationId),
  });
  const handler = worker.fetch;
  if (typeof handler !== 'function') throw new NativeTypeError('the default export has no fetch method any more');
  const response = await apply(handler, worker, [makeRequest(requestJson, input), env, ctx]);
  if (!(response instanceof apply(responseClass, g, []))) throw new NativeTypeError('fetch(request, env, ctx) must return a Response (or a promise of one): got ' + (response === null ? 'null' : typeof response));
  const headers = [];
  for (const pair of response.headers) headers[headers.length] = [pair[0], pair[1]];
  const answer = new WorkerAnswer(new NativeUint8Array(await response.arrayBuffer()), stringify([response.status, headers]));
  for (let i = 0; i < waits.length; i++) await waits[i];
  return answer;
}
function encodeAnswer (value) {
  if (!(value instanceof WorkerAnswer)) return encodeOrFail(value);
  const encoded = encodeOrFail(value.body);
  return encoded[0] === 1 ? [1, encoded[1], value.response] : encoded;
}

let entry, worker, env;
return freeze({
  bind (fn, envJson) {
    env = freeze(envJson === undefined ? {} : parse(envJson));
    if (typeof fn === 'function') {
      entry = fn;
    } else if (typeof fn === 'object' && fn !== null && typeof fn.fetch === 'function') {
      worker = fn;
      return true;
    } else {
      throw new TypeError('the default export is not a function, nor an object with a fetch method: export default function (input, ctx) { ... } or export default { fetch (request, env, ctx) { ... } }');
    }
    return false;
  },
  start (invocationId, input, requestJson) {
    linesLeft = 1024;
    runningInvocation = invocationId;
    let result;
    try {
      result = worker !== undefined ? callWorker(invocationId, input, requestJson) : entry(input, makeContext(invocationId));
    } catch (error) {
      dropTimers(invocationId);
      return [0, failure(error)];
    }
    if (result === null || (typeof result !== 'object' && typeof result !== 'function') || typeof result.then !== 'function') {
      dropTimers(invocationId);
      return encodeOrFail(result);
    }
    const settle = (outcome) => {
      dropTimers(invocationId);
      hostSettled(invocationId, outcome[0] === 1, outcome[1], outcome[2]);
    };
    try {
      apply(nativeThen, NativePromise.resolve(result), [(value) => settle(encodeAnswer(value)), (error) => settle([0, failure(error)])]);
    } catch (error) {
      return [0, failure(error)];
    }
    return undefined;
  },
  deliver (list) {
    linesLeft = 1024;
    // Indexed, not iterated: a function may have replaced the array iterator (a timer is delivered here too).
    for (let i = 0; i < list.length; i++) {
      const fetchId = list[i][0], ok = list[i][1], value = list[i][2];
      const waiter = apply(mapGet, pending, [fetchId]);
      if (waiter === undefined) continue;
      apply(mapDelete, pending, [fetchId]);
      runningInvocation = waiter[0];
      if (waiter[3] === true) {
        runTimer(fetchId, waiter);
      } else if (ok) {
        waiter[1](value);
      } else {
        const error = new NativeError(value[1]);
        error.code = value[0];
        waiter[2](error);
      }
    }
  },
  forget (invocationId) {
    for (const [fetchId, waiter] of pending) if (waiter[0] === invocationId) apply(mapDelete, pending, [fetchId]);
  },
});
})()`;
}
