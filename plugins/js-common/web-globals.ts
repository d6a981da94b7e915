import { randomFillSync } from 'node:crypto';
import { kWebCryptoImplementationSource, kWebCryptoNames } from './web-crypto.ts';
import { kWebFetchCaptureSource, kWebFetchCapturedNames, kWebFetchImplementationSource, kWebFetchNames } from './web-fetch.ts';
import { kWebStreamsImplementationSource, kWebStreamsNames } from './web-streams.ts';
import { kWebTimersImplementationSource, kWebTimersNames } from './web-timers.ts';

/**
 * Web-standard globals for both JavaScript engines (issue #16, first slice): TextEncoder,
 * TextDecoder (UTF-8), atob, btoa, queueMicrotask, reportError, structuredClone, DOMException,
 * Event, EventTarget, AbortController, AbortSignal (with AbortSignal.timeout) and crypto
 * (getRandomValues, randomUUID; crypto.subtle is web-crypto.ts's group).
 *
 * They are guest code, written once here and evaluated by the shared prelude (guest-prelude.ts)
 * inside every function's context, so they cost the function's own CPU and memory budgets like
 * any code it runs: a huge `encode` or `structuredClone` meets the memory budget, a long one the
 * CPU budget. Every builtin they use is captured when the prelude runs, so a function that
 * replaces `Uint8Array.prototype.set` or `String.prototype.charCodeAt` cannot change how they
 * behave. The only host call is for random bytes, which cross the boundary as a byte copy.
 */

/** Most bytes one `crypto.getRandomValues` call may fill (the Web Crypto limit). */
export const kMaxRandomBytes = 65_536;

/**
 * The host half of `crypto`: `byteCount` bytes from the host's CSPRNG.
 * @throws RangeError when byteCount is not an integer in 0..{@link kMaxRandomBytes} (the guest never asks for more).
 */
export function hostRandomBytes (byteCount: unknown): Uint8Array {
  if (typeof byteCount !== 'number' || !Number.isInteger(byteCount) || byteCount < 0 || byteCount > kMaxRandomBytes) {
    throw new RangeError(`random bytes: a count from 0 to ${kMaxRandomBytes} is needed, got ${String(byteCount)}`);
  }
  return randomFillSync(new Uint8Array(byteCount));
}

/**
 * The host half of the lazy groups: the body of a group's implementation, which the guest compiles the
 * first time one of the group's globals is read. A constant: nothing the guest sends reaches it but the name.
 * @returns the source of 'base' (this file's globals), 'fetch' (web-fetch.ts), 'crypto' (web-crypto.ts), 'timers' (web-timers.ts) or 'streams' (web-streams.ts), '' for any other name.
 */
export function webGlobalsGroupSource (group: unknown): string {
  switch (group) {
    case 'base': return kImplementationSource;
    case 'fetch': return kFetchGroupSource;
    case 'crypto': return kCryptoGroupSource;
    case 'timers': return kTimersGroupSource;
    case 'streams': return kWebStreamsImplementationSource;
    default: return '';
  }
}

/** Builtins the globals use, captured when the prelude runs (the capture section of kWebGlobalsSource declares them). */
const kCapturedNames = [
  'apply', 'construct', 'uncurry', 'defineProperty', 'getPrototypeOf', 'objectKeys', 'ownDescriptor', 'NativeObject',
  'hasOwn', 'isArray', 'getter', 'NativeString', 'NativeTypeError', 'NativeRangeError', 'NativeError',
  'NativeUint8Array', 'NativeArrayBuffer', 'NativeDataView', 'NativeMap', 'NativeSet', 'NativeDate', 'NativeRegExp',
  'NativeWeakMap', 'fromCharCode', 'codeUnitAt', 'toLowerCase', 'stringSlice', 'join', 'dateNow', 'timeOrigin',
  'mapGet', 'mapSet', 'setAdd', 'mapSize', 'setSize', 'mapEntries', 'setValues', 'mapIteratorNext', 'setIteratorNext',
  'weakGet', 'weakSet', 'weakHas', 'TypedArrayPrototype', 'typedTag', 'typedBuffer', 'typedByteOffset',
  'typedByteLength', 'typedLength', 'typedSet', 'bufferByteLength', 'viewBuffer', 'viewByteOffset', 'viewByteLength',
  'dateGetTime', 'regExpSource', 'booleanValueOf', 'numberValueOf', 'stringValueOf', 'bigintValueOf', 'isError',
  'typedArrays', 'regExpFlags', 'errorTypes', 'RegExpPrototype', 'kinds', 'kindGet', 'hex',
];

/** The globals defined, each first as an accessor that builds them all on first use. */
const kGlobalNames = ['DOMException', 'TextEncoder', 'TextDecoder', 'btoa', 'atob', 'queueMicrotask', 'reportError', 'structuredClone', 'Event', 'EventTarget', 'AbortSignal', 'AbortController', 'crypto'];

/**
 * The globals' implementation: a function body run once per context, the first time one of the globals is
 * read, with the captured builtins as `captured`. It returns the globals by name.
 */
const kImplementationSource = `'use strict';
const { ${kCapturedNames.join(', ')} } = captured;
const exported = { __proto__: null };
function define (name, value) { exported[name] = value; }
// One descriptor reused for every property a clone or a list gets: no guest code runs between filling and using it.
const dataDescriptor = { __proto__: null, value: undefined, writable: true, enumerable: true, configurable: true };
function createDataProperty (object, key, value) {
  dataDescriptor.value = value;
  defineProperty(object, key, dataDescriptor);
  dataDescriptor.value = undefined;
}
function append (list, value) { createDataProperty(list, list.length, value); }
function isAsciiWhitespace (c) { return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d; }

// Code units to a string in pieces, so neither a call's argument list nor string concatenation grows with the input.
const kPieceUnits = 8192;
function Text () { this.units = []; this.count = 0; this.pieces = []; }
Text.prototype = { __proto__: null,
  unit (u) {
    this.units[this.count++] = u;
    if (this.count === kPieceUnits) this.flush();
  },
  flush () {
    if (this.count === 0) return;
    if (this.count < kPieceUnits) this.units.length = this.count;
    append(this.pieces, apply(fromCharCode, undefined, this.units));
    this.units = [];
    this.count = 0;
  },
  done () {
    this.flush();
    return this.pieces.length === 1 ? this.pieces[0] : join(this.pieces, '');
  },
};

// DOMException: the web's named errors (its prototype inherits from Error.prototype, as WebIDL says).
const kLegacyCodes = { __proto__: null, IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5, NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11, SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15, TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21, QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25 };
const domExceptionNames = new NativeWeakMap();
class DOMException extends NativeError {
  constructor (message = '', name = 'Error') {
    super(NativeString(message));
    weakSet(domExceptionNames, this, NativeString(name));
  }
  get name () { return weakHas(domExceptionNames, this) ? weakGet(domExceptionNames, this) : 'Error'; }
  get code () { return kLegacyCodes[this.name] ?? 0; }
}
define('DOMException', DOMException);

// TextEncoder / TextDecoder: UTF-8 only (the encoding every web runtime must have).
function scalarAt (s, i, length) {
  const c = codeUnitAt(s, i);
  if (c < 0xd800 || c > 0xdfff) return c;
  if (c <= 0xdbff && i + 1 < length) {
    const d = codeUnitAt(s, i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
  }
  return 0xfffd; // a lone surrogate
}
function utf8Length (s) {
  const length = s.length;
  let bytes = 0;
  for (let i = 0; i < length; i++) {
    const c = scalarAt(s, i, length);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c < 0x10000) bytes += 3;
    else { bytes += 4; i++; }
  }
  return bytes;
}
// Writes s as UTF-8 into bytes[0..capacity), stopping before a character that does not fit: [units read, bytes written].
function writeUtf8 (s, bytes, capacity) {
  const length = s.length;
  let i = 0, j = 0;
  while (i < length) {
    const c = scalarAt(s, i, length);
    if (c < 0x80) {
      if (j + 1 > capacity) break;
      bytes[j++] = c;
    } else if (c < 0x800) {
      if (j + 2 > capacity) break;
      bytes[j++] = 0xc0 | (c >> 6); bytes[j++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      if (j + 3 > capacity) break;
      bytes[j++] = 0xe0 | (c >> 12); bytes[j++] = 0x80 | ((c >> 6) & 0x3f); bytes[j++] = 0x80 | (c & 0x3f);
    } else {
      if (j + 4 > capacity) break;
      bytes[j++] = 0xf0 | (c >> 18); bytes[j++] = 0x80 | ((c >> 12) & 0x3f); bytes[j++] = 0x80 | ((c >> 6) & 0x3f); bytes[j++] = 0x80 | (c & 0x3f);
      i++;
    }
    i++;
  }
  return [i, j];
}
class TextEncoder {
  get encoding () { return 'utf-8'; }
  encode (input = '') {
    const s = NativeString(input);
    const bytes = new NativeUint8Array(utf8Length(s));
    writeUtf8(s, bytes, bytes.length);
    return bytes;
  }
  encodeInto (source, destination) {
    if (typeof destination !== 'object' || destination === null || typedTag(destination) !== 'Uint8Array') throw new NativeTypeError('TextEncoder.encodeInto: the destination must be a Uint8Array');
    const done = writeUtf8(NativeString(source), destination, typedLength(destination));
    return { read: done[0], written: done[1] };
  }
}
define('TextEncoder', TextEncoder);

// The bytes of a BufferSource (ArrayBuffer, typed array or DataView), as a Uint8Array over the same memory.
function bytesOf (input, what) {
  if (typeof input === 'object' && input !== null) {
    if (typedTag(input) !== undefined) return new NativeUint8Array(typedBuffer(input), typedByteOffset(input), typedByteLength(input));
    try { return new NativeUint8Array(viewBuffer(input), viewByteOffset(input), viewByteLength(input)); } catch {}
    try { bufferByteLength(input); return new NativeUint8Array(input); } catch {}
  }
  throw new NativeTypeError(what + ': an ArrayBuffer, a typed array or a DataView is needed');
}
// An object's state lives in a WeakMap of the implementation, out of the guest's reach; a method
// called on anything else is an illegal invocation. Every group uses this one (internals.stateOf).
function stateOf (states, self, what) {
  const state = weakGet(states, self);
  if (state === undefined) throw new NativeTypeError('Illegal invocation: not ' + (what[0] === 'A' || what[0] === 'E' ? 'an ' : 'a ') + what);
  return state;
}
const kUtf8Labels = ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8', 'x-unicode20utf8'];
const decoders = new NativeWeakMap();
function decoderOf (self) { return stateOf(decoders, self, 'TextDecoder'); }
class TextDecoder {
  constructor (label = 'utf-8', options = undefined) {
    let name = NativeString(label), start = 0, end = name.length;
    while (start < end && isAsciiWhitespace(codeUnitAt(name, start))) start++;
    while (end > start && isAsciiWhitespace(codeUnitAt(name, end - 1))) end--;
    name = toLowerCase(stringSlice(name, start, end));
    let known = false;
    for (let i = 0; i < kUtf8Labels.length; i++) if (kUtf8Labels[i] === name) known = true;
    if (!known) throw new NativeRangeError('TextDecoder: the encoding "' + NativeString(label) + '" is not supported (only UTF-8 is)');
    const fatal = options == null ? false : !!options.fatal, ignoreBOM = options == null ? false : !!options.ignoreBOM;
    weakSet(decoders, this, { __proto__: null, fatal, ignoreBOM, streaming: false, bomSeen: false, codePoint: 0, seen: 0, needed: 0, lower: 0x80, upper: 0xbf });
  }
  get encoding () { decoderOf(this); return 'utf-8'; }
  get fatal () { return decoderOf(this).fatal; }
  get ignoreBOM () { return decoderOf(this).ignoreBOM; }
  decode (input = undefined, options = undefined) {
    const state = decoderOf(this);
    const bytes = input === undefined ? new NativeUint8Array(0) : bytesOf(input, 'TextDecoder.decode');
    const stream = options == null ? false : !!options.stream;
    if (!state.streaming) { state.bomSeen = false; state.codePoint = state.seen = state.needed = 0; state.lower = 0x80; state.upper = 0xbf; }
    state.streaming = stream;
    const text = new Text();
    let { codePoint, seen, needed, lower, upper, bomSeen } = state;
    const fatal = state.fatal, ignoreBOM = state.ignoreBOM;
    const emit = (c) => {
      if (!bomSeen) { bomSeen = true; if (c === 0xfeff && !ignoreBOM) return; }
      if (c < 0x10000) text.unit(c);
      else { c -= 0x10000; text.unit(0xd800 | (c >> 10)); text.unit(0xdc00 | (c & 0x3ff)); }
    };
    const fail = () => {
      if (fatal) { state.streaming = false; throw new NativeTypeError('TextDecoder.decode: the input is not valid UTF-8'); }
      emit(0xfffd);
    };
    const length = bytes.length;
    for (let i = 0; i < length; i++) {
      const b = bytes[i];
      if (needed === 0) {
        if (b < 0x80) emit(b);
        else if (b >= 0xc2 && b <= 0xdf) { needed = 1; codePoint = b & 0x1f; }
        else if (b >= 0xe0 && b <= 0xef) { if (b === 0xe0) lower = 0xa0; else if (b === 0xed) upper = 0x9f; needed = 2; codePoint = b & 0xf; }
        else if (b >= 0xf0 && b <= 0xf4) { if (b === 0xf0) lower = 0x90; else if (b === 0xf4) upper = 0x8f; needed = 3; codePoint = b & 0x7; }
        else fail();
        continue;
      }
      if (b < lower || b > upper) {
        // The sequence ends badly: the byte is read again as the start of the next one.
        codePoint = seen = needed = 0; lower = 0x80; upper = 0xbf;
        i--;
        fail();
        continue;
      }
      lower = 0x80; upper = 0xbf;
      codePoint = (codePoint << 6) | (b & 0x3f);
      if (++seen === needed) { emit(codePoint); codePoint = seen = needed = 0; }
    }
    if (!stream && needed !== 0) { codePoint = seen = needed = 0; lower = 0x80; upper = 0xbf; fail(); }
    state.codePoint = codePoint; state.seen = seen; state.needed = needed; state.lower = lower; state.upper = upper; state.bomSeen = bomSeen;
    return text.done();
  }
}
define('TextDecoder', TextDecoder);

// atob / btoa: base64 of "binary strings" (one byte per character).
const kBase64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const base64Units = [], base64Values = [];
for (let i = 0; i < 128; i++) base64Values[i] = -1;
for (let i = 0; i < 64; i++) { base64Units[i] = codeUnitAt(kBase64, i); base64Values[base64Units[i]] = i; }
const kPad = 64;
base64Values[0x3d] = kPad;
function invalidCharacter (message) { return new DOMException(message, 'InvalidCharacterError'); }
function btoa (data) {
  if (arguments.length < 1) throw new NativeTypeError('btoa: 1 argument required');
  const s = NativeString(data), length = s.length;
  for (let i = 0; i < length; i++) if (codeUnitAt(s, i) > 0xff) throw invalidCharacter('btoa: the string has a character outside of Latin1');
  const text = new Text();
  let i = 0;
  for (; i + 2 < length; i += 3) {
    const n = (codeUnitAt(s, i) << 16) | (codeUnitAt(s, i + 1) << 8) | codeUnitAt(s, i + 2);
    text.unit(base64Units[n >> 18]); text.unit(base64Units[(n >> 12) & 63]); text.unit(base64Units[(n >> 6) & 63]); text.unit(base64Units[n & 63]);
  }
  if (length - i === 1) {
    const n = codeUnitAt(s, i) << 16;
    text.unit(base64Units[n >> 18]); text.unit(base64Units[(n >> 12) & 63]); text.unit(0x3d); text.unit(0x3d);
  } else if (length - i === 2) {
    const n = (codeUnitAt(s, i) << 16) | (codeUnitAt(s, i + 1) << 8);
    text.unit(base64Units[n >> 18]); text.unit(base64Units[(n >> 12) & 63]); text.unit(base64Units[(n >> 6) & 63]); text.unit(0x3d);
  }
  return text.done();
}
// The WHATWG forgiving-base64 decode: ASCII whitespace ignored, padding optional, leftover bits dropped.
function atob (data) {
  if (arguments.length < 1) throw new NativeTypeError('atob: 1 argument required');
  const s = NativeString(data), length = s.length;
  const values = new NativeUint8Array(length);
  let n = 0;
  for (let i = 0; i < length; i++) {
    const c = codeUnitAt(s, i);
    if (isAsciiWhitespace(c)) continue;
    const value = c < 128 ? base64Values[c] : -1;
    if (value < 0) throw invalidCharacter('atob: the string is not correctly encoded');
    values[n++] = value;
  }
  if (n % 4 === 0 && n > 0 && values[n - 1] === kPad) { n--; if (values[n - 1] === kPad) n--; }
  if (n % 4 === 1) throw invalidCharacter('atob: the string is not correctly encoded');
  for (let i = 0; i < n; i++) if (values[i] === kPad) throw invalidCharacter('atob: the string is not correctly encoded');
  const text = new Text();
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const v = (values[i] << 18) | (values[i + 1] << 12) | (values[i + 2] << 6) | values[i + 3];
    text.unit(v >> 16); text.unit((v >> 8) & 0xff); text.unit(v & 0xff);
  }
  if (n - i === 2) text.unit(((values[i] << 18) | (values[i + 1] << 12)) >> 16);
  else if (n - i === 3) {
    const v = (values[i] << 18) | (values[i + 1] << 12) | (values[i + 2] << 6);
    text.unit(v >> 16); text.unit((v >> 8) & 0xff);
  }
  return text.done();
}
define('btoa', btoa);
define('atob', atob);

// queueMicrotask and reportError: a callback's exception has no caller to go to, so it is reported.
async function runMicrotask (callback) {
  await undefined;
  try { callback(); } catch (error) { reportError(error); }
}
define('queueMicrotask', function queueMicrotask (callback) {
  if (typeof callback !== 'function') throw new NativeTypeError('queueMicrotask: the callback must be a function');
  runMicrotask(callback);
});
define('reportError', function (error) {
  if (arguments.length < 1) throw new NativeTypeError('reportError: 1 argument required');
  reportError(error);
});

// structuredClone: the HTML structured clone of plain data, in the guest's own realm.
function dataCloneError (what) { return new DOMException(what + ' could not be cloned', 'DataCloneError'); }
function kindOf (value) {
  for (let proto = getPrototypeOf(value); proto !== null; proto = getPrototypeOf(proto)) {
    const kind = kindGet(kinds, proto);
    if (kind !== undefined) return kind;
  }
  return 'Object';
}
const kErrorFields = ['message', 'stack', 'cause'];
/**
 * The originals already cloned, and their copies. Where the engine caps collections (V8), it is kept
 * in Maps of at most kMemoChunkEntries: V8 grows a Map's table in one piece, and one large table
 * grown near the heap limit fails as a catastrophic out-of-memory (the isolate's thread is lost)
 * where many small ones fail gracefully. Measured under 16 MiB: one Map failed so at 150,000 objects.
 */
const kMemoChunkEntries = smallCollections ? 16384 : Infinity;
function Memo () { this.last = new NativeMap(); this.full = []; }
Memo.prototype = { __proto__: null,
  get (key) {
    let value = mapGet(this.last, key);
    for (let i = 0; value === undefined && i < this.full.length; i++) value = mapGet(this.full[i], key);
    return value;
  },
  set (key, value) {
    if (mapSize(this.last) >= kMemoChunkEntries) { append(this.full, this.last); this.last = new NativeMap(); }
    mapSet(this.last, key, value);
  },
};
function isBrand (check, value) {
  try { check(value); return true; } catch { return false; }
}
function cloneBuffer (buffer, memo) {
  const copy = new NativeArrayBuffer(bufferByteLength(buffer));
  memo.set(buffer, copy);
  typedSet(new NativeUint8Array(copy), new NativeUint8Array(buffer));
  return copy;
}
function cloneEntries (next, iterator) {
  const entries = [];
  for (;;) {
    const step = next(iterator);
    if (step.done) return entries;
    append(entries, step.value);
  }
}
function cloneObject (value, copy, memo) {
  const keys = objectKeys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (hasOwn(value, key)) createDataProperty(copy, key, clone(value[key], memo));
  }
  return copy;
}
function clone (value, memo) {
  const type = typeof value;
  if (type === 'function') throw dataCloneError('a function');
  if (type === 'symbol') throw dataCloneError('a symbol');
  if (type !== 'object' || value === null) return value;
  const seen = memo.get(value);
  if (seen !== undefined) return seen;
  if (isArray(value)) {
    const length = value.length, copy = [];
    memo.set(value, copy);
    for (let i = 0; i < length; i++) if (hasOwn(value, i)) createDataProperty(copy, i, clone(value[i], memo));
    copy.length = length;
    return copy;
  }
  const tag = typedTag(value);
  if (tag !== undefined) {
    const buffer = clone(typedBuffer(value), memo);
    const copy = construct(typedArrays[tag], [buffer, typedByteOffset(value), typedLength(value)]);
    memo.set(value, copy);
    return copy;
  }
  const kind = kindOf(value);
  let copy;
  switch (kind) {
    case 'Map':
      if (!isBrand(mapSize, value)) break;
      copy = new NativeMap();
      memo.set(value, copy);
      for (let i = 0, entries = cloneEntries(mapIteratorNext, mapEntries(value)); i < entries.length; i++) mapSet(copy, clone(entries[i][0], memo), clone(entries[i][1], memo));
      return copy;
    case 'Set':
      if (!isBrand(setSize, value)) break;
      copy = new NativeSet();
      memo.set(value, copy);
      for (let i = 0, entries = cloneEntries(setIteratorNext, setValues(value)); i < entries.length; i++) setAdd(copy, clone(entries[i], memo));
      return copy;
    case 'Date':
      if (isBrand(dateGetTime, value)) copy = new NativeDate(dateGetTime(value));
      break;
    case 'RegExp':
      if (value !== RegExpPrototype && isBrand(regExpSource, value)) {
        let flags = '';
        for (let i = 0; i < regExpFlags.length; i++) if (regExpFlags[i][1](value)) flags += regExpFlags[i][0];
        copy = new NativeRegExp(regExpSource(value), flags);
      }
      break;
    case 'ArrayBuffer':
      if (isBrand(bufferByteLength, value)) return cloneBuffer(value, memo);
      break;
    case 'DataView':
      if (isBrand(viewBuffer, value)) copy = new NativeDataView(clone(viewBuffer(value), memo), viewByteOffset(value), viewByteLength(value));
      break;
    case 'Boolean': if (isBrand(booleanValueOf, value)) copy = NativeObject(booleanValueOf(value)); break;
    case 'Number': if (isBrand(numberValueOf, value)) copy = NativeObject(numberValueOf(value)); break;
    case 'String': if (isBrand(stringValueOf, value)) copy = NativeObject(stringValueOf(value)); break;
    case 'BigInt': if (isBrand(bigintValueOf, value)) copy = NativeObject(bigintValueOf(value)); break;
    case 'Error': {
      if (!isError(value)) break;
      const name = value.name;
      const Type = typeof name === 'string' && errorTypes[name] !== undefined ? errorTypes[name] : NativeError;
      copy = new Type();
      memo.set(value, copy);
      const message = ownDescriptor(value, 'message');
      if (message !== undefined && hasOwn(message, 'value')) createDataProperty(copy, 'message', NativeString(message.value));
      const stack = value.stack;
      if (typeof stack === 'string') { try { createDataProperty(copy, 'stack', stack); } catch {} }
      const cause = ownDescriptor(value, 'cause');
      if (cause !== undefined && hasOwn(cause, 'value')) createDataProperty(copy, 'cause', clone(cause.value, memo));
      for (let i = 0; i < kErrorFields.length; i++) if (hasOwn(copy, kErrorFields[i])) defineProperty(copy, kErrorFields[i], { __proto__: null, enumerable: false });
      return copy;
    }
    case 'a Symbol object': case 'a WeakMap': case 'a WeakSet': case 'a Promise':
      throw dataCloneError(kind);
  }
  if (copy !== undefined) {
    memo.set(value, copy);
    return copy;
  }
  copy = {};
  memo.set(value, copy);
  return cloneObject(value, copy, memo);
}
define('structuredClone', function structuredClone (value, options = undefined) {
  if (arguments.length < 1) throw new NativeTypeError('structuredClone: 1 argument required');
  const transfer = options == null ? undefined : options.transfer;
  if (transfer != null && transfer.length > 0) throw dataCloneError('transfer is not supported: a transfer list');
  return clone(value, new Memo());
});

// Event, EventTarget: dispatch to one target (no tree), capturing listeners first as at a target.
const events = new NativeWeakMap();
function eventOf (self) { return stateOf(events, self, 'Event'); }
class Event {
  constructor (type, init = undefined) {
    if (arguments.length < 1) throw new NativeTypeError('Event: 1 argument required');
    const options = init == null ? {} : init;
    weakSet(events, this, { __proto__: null, type: NativeString(type), bubbles: !!options.bubbles, cancelable: !!options.cancelable, composed: !!options.composed,
      target: null, currentTarget: null, phase: 0, canceled: false, stop: false, stopNow: false, passive: false, dispatching: false, trusted: false, timeStamp: dateNow() - timeOrigin });
  }
  get type () { return eventOf(this).type; }
  get bubbles () { return eventOf(this).bubbles; }
  get cancelable () { return eventOf(this).cancelable; }
  get composed () { return eventOf(this).composed; }
  get target () { return eventOf(this).target; }
  get srcElement () { return eventOf(this).target; }
  get currentTarget () { return eventOf(this).currentTarget; }
  get eventPhase () { return eventOf(this).phase; }
  get defaultPrevented () { return eventOf(this).canceled; }
  get returnValue () { return !eventOf(this).canceled; }
  get cancelBubble () { return eventOf(this).stop; }
  get isTrusted () { return eventOf(this).trusted; }
  get timeStamp () { return eventOf(this).timeStamp; }
  composedPath () { const state = eventOf(this); return state.dispatching ? [state.currentTarget] : []; }
  preventDefault () { const state = eventOf(this); if (state.cancelable && !state.passive) state.canceled = true; }
  stopPropagation () { eventOf(this).stop = true; }
  stopImmediatePropagation () { const state = eventOf(this); state.stop = state.stopNow = true; }
}
const kPhases = ['NONE', 'CAPTURING_PHASE', 'AT_TARGET', 'BUBBLING_PHASE'];
for (let value = 0; value < kPhases.length; value++) {
  defineProperty(Event, kPhases[value], { __proto__: null, value, enumerable: true });
  defineProperty(Event.prototype, kPhases[value], { __proto__: null, value, enumerable: true });
}
define('Event', Event);

const targets = new NativeWeakMap();
function listenersOf (self) {
  const listeners = weakGet(targets, self);
  if (listeners === undefined) throw new NativeTypeError('Illegal invocation: not an EventTarget');
  return listeners;
}
function captureOf (options) {
  return typeof options === 'boolean' ? options : options != null && !!options.capture;
}
function removeListener (listeners, listener) {
  listener.removed = true;
  for (let i = 0; i < listeners.length; i++) {
    if (listeners[i] !== listener) continue;
    for (let j = i; j + 1 < listeners.length; j++) listeners[j] = listeners[j + 1];
    listeners.length--;
    return;
  }
}
function invoke (target, event, state, listeners, capture) {
  for (let i = 0; i < listeners.length && !state.stopNow; i++) {
    const listener = listeners[i];
    if (listener.removed || listener.capture !== capture || listener.type !== state.type) continue;
    if (listener.once) removeListener(listenersOf(target), listener);
    state.passive = listener.passive;
    try {
      const callback = listener.callback;
      if (typeof callback === 'function') apply(callback, target, [event]);
      else {
        const handleEvent = callback.handleEvent;
        if (typeof handleEvent !== 'function') throw new NativeTypeError('the event listener has no handleEvent method');
        apply(handleEvent, callback, [event]);
      }
    } catch (error) {
      reportError(error);
    }
    state.passive = false;
  }
}
function dispatch (target, event, trusted) {
  const state = eventOf(event);
  if (state.dispatching) throw new DOMException('the event is already being dispatched', 'InvalidStateError');
  const snapshot = [];
  const listeners = listenersOf(target);
  for (let i = 0; i < listeners.length; i++) append(snapshot, listeners[i]);
  state.trusted = trusted; state.dispatching = true; state.target = target; state.currentTarget = target; state.phase = 2;
  try {
    invoke(target, event, state, snapshot, true);
    invoke(target, event, state, snapshot, false);
  } finally {
    state.dispatching = false; state.currentTarget = null; state.phase = 0; state.stop = state.stopNow = false;
  }
  return !state.canceled;
}
class EventTarget {
  constructor () { weakSet(targets, this, []); }
  addEventListener (type, callback, options = undefined) {
    const listeners = listenersOf(this);
    if (callback == null) return;
    if (typeof callback !== 'function' && typeof callback !== 'object') throw new NativeTypeError('addEventListener: the listener must be a function or an object');
    const capture = captureOf(options);
    const object = typeof options === 'object' && options !== null;
    const once = object && !!options.once, passive = object && !!options.passive, signal = object ? options.signal : undefined;
    if (signal !== undefined && !weakHas(signals, signal)) throw new NativeTypeError('addEventListener: signal is not an AbortSignal');
    if (signal !== undefined && weakGet(signals, signal).aborted) return;
    const name = NativeString(type);
    for (let i = 0; i < listeners.length; i++) {
      const listener = listeners[i];
      if (listener.type === name && listener.callback === callback && listener.capture === capture) return;
    }
    const listener = { __proto__: null, type: name, callback, capture, once, passive, removed: false };
    append(listeners, listener);
    if (signal !== undefined) append(weakGet(signals, signal).algorithms, () => removeListener(listeners, listener));
  }
  removeEventListener (type, callback, options = undefined) {
    const listeners = listenersOf(this), name = NativeString(type), capture = captureOf(options);
    for (let i = 0; i < listeners.length; i++) {
      const listener = listeners[i];
      if (listener.type === name && listener.callback === callback && listener.capture === capture) return removeListener(listeners, listener);
    }
  }
  dispatchEvent (event) {
    listenersOf(this);
    return dispatch(this, event, false);
  }
}
define('EventTarget', EventTarget);

// AbortController, AbortSignal.
const signals = new NativeWeakMap();
const kNewSignal = {};
function signalOf (self) { return stateOf(signals, self, 'AbortSignal'); }
function abort (signal, reason) {
  const state = signalOf(signal);
  if (state.aborted) return;
  state.aborted = true;
  state.reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
  const algorithms = state.algorithms;
  state.algorithms = [];
  for (let i = 0; i < algorithms.length; i++) algorithms[i]();
  dispatch(signal, new Event('abort'), true);
}
class AbortSignal extends EventTarget {
  constructor (key = undefined) {
    if (key !== kNewSignal) throw new NativeTypeError('Illegal constructor: use new AbortController().signal or AbortSignal.abort()');
    super();
    weakSet(signals, this, { __proto__: null, aborted: false, reason: undefined, algorithms: [], onabort: null, handlerAdded: false });
  }
  static abort (reason = undefined) {
    const signal = new AbortSignal(kNewSignal);
    abort(signal, reason);
    return signal;
  }
  static timeout (milliseconds) {
    if (arguments.length < 1) throw new NativeTypeError('AbortSignal.timeout: 1 argument required');
    const delay = +milliseconds;
    if (!(delay >= 0 && delay <= 9007199254740991)) throw new NativeTypeError('AbortSignal.timeout: the delay must be a number of milliseconds from 0 to 2^53 - 1');
    const signal = new AbortSignal(kNewSignal);
    startTimer('AbortSignal.timeout', delay, false, () => abort(signal, new DOMException('The operation timed out', 'TimeoutError')));
    return signal;
  }
  get aborted () { return signalOf(this).aborted; }
  get reason () { return signalOf(this).reason; }
  throwIfAborted () { const state = signalOf(this); if (state.aborted) throw state.reason; }
  get onabort () { return signalOf(this).onabort; }
  set onabort (handler) {
    const state = signalOf(this);
    state.onabort = typeof handler === 'function' || (typeof handler === 'object' && handler !== null) ? handler : null;
    if (state.handlerAdded) return;
    // An event handler attribute is one listener, added the first time it is set, that calls the current handler.
    state.handlerAdded = true;
    apply(EventTarget.prototype.addEventListener, this, ['abort', function (event) {
      if (typeof state.onabort === 'function') apply(state.onabort, this, [event]);
    }]);
  }
}
define('AbortSignal', AbortSignal);
const controllers = new NativeWeakMap();
function controlledSignal (self) {
  const signal = weakGet(controllers, self);
  if (signal === undefined) throw new NativeTypeError('Illegal invocation: not an AbortController');
  return signal;
}
class AbortController {
  constructor () { weakSet(controllers, this, new AbortSignal(kNewSignal)); }
  get signal () { return controlledSignal(this); }
  abort (reason = undefined) { abort(controlledSignal(this), reason); }
}
define('AbortController', AbortController);

// crypto: random bytes from the host's CSPRNG, copied in as bytes.
const kMaxRandomBytes = ${kMaxRandomBytes};
const integerArrays = { __proto__: null, Int8Array: true, Uint8Array: true, Uint8ClampedArray: true, Int16Array: true, Uint16Array: true, Int32Array: true, Uint32Array: true, BigInt64Array: true, BigUint64Array: true };
function getRandomValues (array) {
  if (arguments.length < 1) throw new NativeTypeError('crypto.getRandomValues: 1 argument required');
  const tag = typeof array === 'object' && array !== null ? typedTag(array) : undefined;
  if (tag === undefined || integerArrays[tag] !== true) {
    if (tag !== undefined || (typeof array === 'object' && array !== null && isBrand(viewBuffer, array))) throw new DOMException('crypto.getRandomValues: the array must be an integer typed array', 'TypeMismatchError');
    throw new NativeTypeError('crypto.getRandomValues: an integer typed array is needed');
  }
  const byteLength = typedByteLength(array);
  if (byteLength > kMaxRandomBytes) throw new DOMException('crypto.getRandomValues: ' + byteLength + ' bytes asked for, more than the ' + kMaxRandomBytes + ' one call may have', 'QuotaExceededError');
  if (byteLength > 0) typedSet(new NativeUint8Array(typedBuffer(array), typedByteOffset(array), byteLength), hostRandom(byteLength));
  return array;
}
function randomUUID () {
  const b = hostRandom(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return hex[b[0]] + hex[b[1]] + hex[b[2]] + hex[b[3]] + '-' + hex[b[4]] + hex[b[5]] + '-' + hex[b[6]] + hex[b[7]] + '-' + hex[b[8]] + hex[b[9]] + '-' + hex[b[10]] + hex[b[11]] + hex[b[12]] + hex[b[13]] + hex[b[14]] + hex[b[15]];
}
define('crypto', { getRandomValues, randomUUID, get subtle () { return buildCrypto().subtle; } });
// What the fetch globals (web-fetch.ts) build on, never a global itself. decode is taken now, before a
// function can replace it on the prototype (the global's own); without stream, each decode starts afresh,
// so two decoders serve every call.
const decodeMethod = TextDecoder.prototype.decode;
const keepBOM = new TextDecoder('utf-8', { __proto__: null, ignoreBOM: true }), dropBOM = new TextDecoder();
exported.internals = { __proto__: null, DOMException, Text, bytesOf, append, createDataProperty, stateOf,
  encodeUtf8 (s) { const bytes = new NativeUint8Array(utf8Length(s)); writeUtf8(s, bytes, bytes.length); return bytes; },
  decodeUtf8 (bytes, ignoreBOM) { return apply(decodeMethod, ignoreBOM ? keepBOM : dropBOM, [bytes]); },
  newSignal () { return new AbortSignal(kNewSignal); }, abortSignal: abort, signalState (signal) { return weakGet(signals, signal); } };
return exported;
`;

/** The fetch group's body: both groups' captured builtins, then web-fetch.ts's implementation. */
const kFetchGroupSource = `const { ${[...kCapturedNames, ...kWebFetchCapturedNames].join(', ')} } = captured;\n${kWebFetchImplementationSource}`;
/** The crypto and timers groups' bodies: they use the same builtins as the fetch group. */
const kCryptoGroupSource = `const { ${[...kCapturedNames, ...kWebFetchCapturedNames].join(', ')} } = captured;\n${kWebCryptoImplementationSource}`;
const kTimersGroupSource = `const { ${[...kCapturedNames, ...kWebFetchCapturedNames].join(', ')} } = captured;\n${kWebTimersImplementationSource}`;

/**
 * The guest source: `function (hostRandom, reportError, smallCollections, startFetch, hostUrl, hostSource, hostDigest, startTimer, stopTimer)`
 * that defines the globals, these, the fetch ones of web-fetch.ts, the crypto ones of web-crypto.ts, the
 * timers of web-timers.ts and the streams of web-streams.ts, each group built the first time
 * one of its globals is read from the source `hostSource(group)` returns ({@link webGlobalsGroupSource}).
 * `hostRandom(n)` returns a guest Uint8Array of n random bytes;
 * `reportError(error)` reports an exception no caller can catch (a throwing event listener or
 * microtask), as the console does; `smallCollections` is true where the engine needs its hash tables
 * kept small (V8, see Memo); `startFetch` and `hostUrl` are described in web-fetch.ts, `hostDigest` in
 * web-crypto.ts; `startTimer(what, delayMs, repeat, fire)` calls fire once delayMs have passed (again
 * every delayMs when repeat) in the invocation that called it and returns the timer's id, `stopTimer(id)`
 * cancels one of that invocation's timers (the prelude's, guest-prelude.ts).
 */
export const kWebGlobalsSource = `(function (hostRandom, reportError, smallCollections, startFetch, hostUrl, hostSource, hostDigest, startTimer, stopTimer) {
'use strict';
const g = globalThis;
const apply = Reflect.apply, construct = Reflect.construct;
const uncurry = (fn) => apply(Function.prototype.bind, Function.prototype.call, [fn]);
const defineProperty = Object.defineProperty, getPrototypeOf = Object.getPrototypeOf, objectKeys = Object.keys;
const ownDescriptor = Object.getOwnPropertyDescriptor, NativeObject = Object;
const hasOwn = uncurry(Object.prototype.hasOwnProperty), isArray = Array.isArray;
const getter = (proto, key) => uncurry(ownDescriptor(proto, key).get);
const NativeString = String, NativeTypeError = TypeError, NativeRangeError = RangeError, NativeError = Error;
const NativeUint8Array = Uint8Array, NativeArrayBuffer = ArrayBuffer, NativeDataView = DataView;
const NativeMap = Map, NativeSet = Set, NativeDate = Date, NativeRegExp = RegExp, NativeWeakMap = WeakMap;
const fromCharCode = String.fromCharCode, codeUnitAt = uncurry(String.prototype.charCodeAt);
const toLowerCase = uncurry(String.prototype.toLowerCase), stringSlice = uncurry(String.prototype.slice);
const join = uncurry(Array.prototype.join);
const dateNow = Date.now, timeOrigin = Date.now();
// Map.prototype.set as the prelude left it: capped in entries where the engine needs that.
const mapGet = uncurry(Map.prototype.get), mapSet = uncurry(Map.prototype.set), setAdd = uncurry(Set.prototype.add);
const mapSize = getter(Map.prototype, 'size'), setSize = getter(Set.prototype, 'size');
const mapEntries = uncurry(Map.prototype.entries), setValues = uncurry(Set.prototype.values);
const mapIteratorNext = uncurry(getPrototypeOf(new NativeMap().entries()).next);
const setIteratorNext = uncurry(getPrototypeOf(new NativeSet().values()).next);
const weakGet = uncurry(WeakMap.prototype.get), weakSet = uncurry(WeakMap.prototype.set), weakHas = uncurry(WeakMap.prototype.has);
const TypedArrayPrototype = getPrototypeOf(NativeUint8Array.prototype);
const typedTag = getter(TypedArrayPrototype, Symbol.toStringTag), typedBuffer = getter(TypedArrayPrototype, 'buffer');
const typedByteOffset = getter(TypedArrayPrototype, 'byteOffset'), typedByteLength = getter(TypedArrayPrototype, 'byteLength');
const typedLength = getter(TypedArrayPrototype, 'length'), typedSet = uncurry(TypedArrayPrototype.set);
const bufferByteLength = getter(NativeArrayBuffer.prototype, 'byteLength');
const viewBuffer = getter(NativeDataView.prototype, 'buffer'), viewByteOffset = getter(NativeDataView.prototype, 'byteOffset');
const viewByteLength = getter(NativeDataView.prototype, 'byteLength');
const dateGetTime = uncurry(Date.prototype.getTime), regExpSource = getter(RegExp.prototype, 'source');
const booleanValueOf = uncurry(Boolean.prototype.valueOf), numberValueOf = uncurry(Number.prototype.valueOf);
const stringValueOf = uncurry(String.prototype.valueOf), bigintValueOf = uncurry(BigInt.prototype.valueOf);
const isError = typeof Error.isError === 'function' ? Error.isError : () => true;
const typedArrays = { __proto__: null };
for (const name of ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float16Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array']) {
  if (typeof g[name] === 'function') typedArrays[name] = g[name];
}
const regExpFlags = [];
for (const [flag, name] of [['d', 'hasIndices'], ['g', 'global'], ['i', 'ignoreCase'], ['m', 'multiline'], ['s', 'dotAll'], ['u', 'unicode'], ['v', 'unicodeSets'], ['y', 'sticky']]) {
  const descriptor = ownDescriptor(RegExp.prototype, name);
  if (descriptor !== undefined) regExpFlags[regExpFlags.length] = [flag, uncurry(descriptor.get)];
}
const errorTypes = { __proto__: null, Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
const RegExpPrototype = RegExp.prototype;
// What a value's prototype chain says it may be (structuredClone); confirmed by a brand check before it is trusted.
const kinds = new NativeMap();
for (const [Constructor, kind] of [[Map, 'Map'], [Set, 'Set'], [Date, 'Date'], [RegExp, 'RegExp'], [ArrayBuffer, 'ArrayBuffer'], [DataView, 'DataView'], [Error, 'Error'], [Boolean, 'Boolean'], [Number, 'Number'], [String, 'String'], [BigInt, 'BigInt'], [Symbol, 'a Symbol object'], [WeakMap, 'a WeakMap'], [WeakSet, 'a WeakSet'], [Promise, 'a Promise'], [Object, 'Object']]) {
  apply(NativeMap.prototype.set, kinds, [Constructor.prototype, kind]);
}
const kindGet = uncurry(NativeMap.prototype.get);
const hex = [];
for (let i = 0; i < 256; i++) hex[i] = (i < 16 ? '0' : '') + apply(Number.prototype.toString, i, [16]);

const NativeFunction = Function;
${kWebFetchCaptureSource}
function defineValue (name, value) {
  defineProperty(g, name, { __proto__: null, value, writable: true, configurable: true, enumerable: false });
}
// Each group is compiled on first use, from source the host hands over then: QuickJS compiles a whole
// script at once (an idle instance holding all of the first group grew by about 220 KB), and both
// engines keep a script's text as long as its functions live (holding the sources as string
// constants of the prelude cost each idle QuickJS instance some 80 KB more).
// build(true) answers undefined when the group is not built yet (then none of its objects exist).
function lazyGlobals (names, compile) {
  let built;
  const accessors = { __proto__: null };
  function build (onlyIfBuilt = false) {
    if (built !== undefined || onlyIfBuilt) return built;
    built = compile();
    for (let i = 0; i < names.length; i++) {
      const name = names[i], descriptor = ownDescriptor(g, name);
      if (descriptor !== undefined && descriptor.get === accessors[name]) defineValue(name, built[name]);
    }
    return built;
  }
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    accessors[name] = function () { return build()[name]; };
    defineProperty(g, name, { __proto__: null, get: accessors[name], set (value) { defineValue(name, value); }, configurable: true, enumerable: false });
  }
  return build;
}
// The fetch, crypto and timers groups take the same builtins (written out once: the prelude's text stays in every instance).
const groupCaptured = () => ({ __proto__: null, ${[...kCapturedNames, ...kWebFetchCapturedNames].join(', ')} });
const buildCrypto = lazyGlobals(${JSON.stringify(kWebCryptoNames)}, () => {
  const implementation = new NativeFunction('captured', 'base', 'hostDigest', hostSource('crypto'));
  return implementation(groupCaptured(), buildBase().internals, hostDigest);
});
const buildBase = lazyGlobals(${JSON.stringify(kGlobalNames)}, () => {
  const implementation = new NativeFunction('captured', 'hostRandom', 'reportError', 'smallCollections', 'buildCrypto', 'startTimer', hostSource('base'));
  return implementation({ __proto__: null, ${kCapturedNames.join(', ')} }, hostRandom, reportError, smallCollections, buildCrypto, startTimer);
});
// Streams keep no captured builtins of their own (web-streams.ts says why): they get the first group's encoders.
const buildStreams = lazyGlobals(${JSON.stringify(kWebStreamsNames)}, () => {
  const implementation = new NativeFunction('base', hostSource('streams'));
  return implementation(buildBase());
});
lazyGlobals(${JSON.stringify(kWebFetchNames)}, () => {
  const implementation = new NativeFunction('captured', 'base', 'startFetch', 'hostUrl', 'buildStreams', hostSource('fetch'));
  return implementation(groupCaptured(), buildBase().internals, startFetch, hostUrl, buildStreams);
});
lazyGlobals(${JSON.stringify(kWebTimersNames)}, () => {
  const implementation = new NativeFunction('captured', 'base', 'startTimer', 'stopTimer', hostSource('timers'));
  return implementation(groupCaptured(), buildBase().internals, startTimer, stopTimer);
});
})`;
