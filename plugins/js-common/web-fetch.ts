import { kBlobSource } from './web-blob.ts';
import { kBodySource } from './web-body.ts';
import { kFormDataSource } from './web-form-data.ts';
import { kHeadersSource } from './web-headers.ts';
import { kUrlSource } from './web-url.ts';

/**
 * The fetch group of web globals for both JavaScript engines (issue #16, second slice): Headers,
 * URLSearchParams, URL, Request, Response, fetch, Blob, File and FormData. Like the first group (web-globals.ts),
 * it is guest code evaluated by the shared prelude, compiled the first time one of its globals is
 * read, from builtins captured when the prelude ran, and it runs on the function's own CPU and
 * memory budgets. It builds on the first group's internals (UTF-8, DOMException, AbortSignal).
 *
 * Its two host calls, passed in by the prelude:
 *   startFetch(url, method, headersJson, body, onValue, onError)  the ctx.fetch path, for the
 *     invocation whose entry is running; onValue([status, headersJson, body]) or onError(error with code)
 *   hostUrl(input, base, setter, value)                            URL parsing (web-url.ts)
 */

/** The group's globals, each first an accessor that builds them all. */
export const kWebFetchNames = ['Headers', 'URLSearchParams', 'URL', 'Request', 'Response', 'fetch', 'Blob', 'File', 'FormData'];

/** Builtins the group needs beyond the first group's, captured when the prelude runs (declared by {@link kWebFetchCaptureSource}). */
export const kWebFetchCapturedNames = [
  'toUpperCase', 'arraySort', 'jsonParse', 'jsonStringify', 'NativePromise', 'objectCreate', 'ownKeys', 'SymbolIterator',
  'SymbolToStringTag', 'IteratorPrototype', 'stringIndexOf', 'mathFloor', 'mathRandom',
];

/** Statements run inside web-globals' capture section (they may use what it captured). */
export const kWebFetchCaptureSource = `const toUpperCase = uncurry(String.prototype.toUpperCase), arraySort = uncurry(Array.prototype.sort);
const jsonParse = JSON.parse, jsonStringify = JSON.stringify, NativePromise = Promise, objectCreate = Object.create, ownKeys = Reflect.ownKeys;
const SymbolIterator = Symbol.iterator, SymbolToStringTag = Symbol.toStringTag, IteratorPrototype = getPrototypeOf(getPrototypeOf([][Symbol.iterator]()));
const stringIndexOf = uncurry(String.prototype.indexOf), mathFloor = Math.floor, mathRandom = Math.random;`;

/** Helpers the parts share. */
const kHelpersSource = `'use strict';
const { DOMException, Text, bytesOf, append, createDataProperty, stateOf, encodeUtf8, decodeUtf8, newSignal, abortSignal, signalState } = base;
const exported = { __proto__: null };
function define (name, value) { exported[name] = value; }
// A pair list's set(): the first pair of that name takes the value, later ones go; appended if none.
function withSet (list, name, value) {
  const kept = [];
  let found = false;
  for (let i = 0; i < list.length; i++) {
    const pair = list[i];
    if (pair[0] !== name) append(kept, pair);
    else if (!found) { found = true; append(kept, [name, value]); }
  }
  if (!found) append(kept, [name, value]);
  return kept;
}
function need (count, wanted, what) {
  if (count < wanted) throw new NativeTypeError(what + ': ' + wanted + ' argument' + (wanted === 1 ? '' : 's') + ' required, ' + count + ' given');
}
// A USVString: lone surrogates become U+FFFD.
function toUSV (value) {
  const s = NativeString(value), length = s.length;
  for (let i = 0; i < length; i++) {
    const c = codeUnitAt(s, i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < length) {
      const d = codeUnitAt(s, i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; }
    }
    return decodeUtf8(encodeUtf8(s), true);
  }
  return s;
}
function toByteString (value, what) {
  const s = NativeString(value), length = s.length;
  for (let i = 0; i < length; i++) if (codeUnitAt(s, i) > 0xff) throw new NativeTypeError(what + ' has a character above U+00FF');
  return s;
}
// A WebIDL sequence as an array: arrays read by index, other iterables through their iterator.
function listOf (value, what) {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) throw new NativeTypeError(what + ': a sequence is needed');
  const list = [];
  if (isArray(value)) {
    for (let i = 0; i < value.length; i++) append(list, value[i]);
    return list;
  }
  const method = value[SymbolIterator];
  if (typeof method !== 'function') throw new NativeTypeError(what + ': a sequence is needed');
  const iterator = apply(method, value, []), next = iterator.next;
  for (;;) {
    const step = apply(next, iterator, []);
    if ((typeof step !== 'object' && typeof step !== 'function') || step === null) throw new NativeTypeError(what + ': the iterator gave a non-object');
    if (step.done) return list;
    append(list, step.value);
  }
}
// Pairs sorted by name in code units, keeping the order of equal names.
function stableSortByName (list) {
  const indexed = [];
  for (let i = 0; i < list.length; i++) append(indexed, [list[i][0], list[i][1], i]);
  arraySort(indexed, (a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[2] - b[2]);
  const sorted = [];
  for (let i = 0; i < indexed.length; i++) append(sorted, [indexed[i][0], indexed[i][1]]);
  return sorted;
}
function copyBytes (view) {
  const copy = new NativeUint8Array(typedLength(view));
  typedSet(copy, view);
  return copy;
}
function bufferSource (value) {
  try { return bytesOf(value, ''); } catch { return undefined; }
}
function methods (prototype, table) {
  const names = objectKeys(table);
  for (let i = 0; i < names.length; i++) defineProperty(prototype, names[i], { __proto__: null, value: table[names[i]], writable: true, enumerable: true, configurable: true });
}
function tag (Class, name) {
  defineProperty(Class.prototype, SymbolToStringTag, { __proto__: null, value: name, configurable: true });
}
// entries, keys, values, forEach and iteration over pairsOf(state), read afresh at every step.
function iterable (Class, iteratorTag, pairsOf, stateOfSelf) {
  const iterators = new NativeWeakMap(), prototype = objectCreate(IteratorPrototype);
  methods(prototype, {
    next () {
      const it = stateOf(iterators, this, iteratorTag), pairs = pairsOf(it.state);
      if (it.index >= pairs.length) return { value: undefined, done: true };
      const pair = pairs[it.index++];
      return { value: it.kind === 0 ? [pair[0], pair[1]] : it.kind === 1 ? pair[0] : pair[1], done: false };
    },
  });
  tag({ prototype }, iteratorTag);
  const iterate = (self, kind) => {
    const it = objectCreate(prototype);
    weakSet(iterators, it, { __proto__: null, state: stateOfSelf(self), kind, index: 0 });
    return it;
  };
  methods(Class.prototype, {
    entries () { return iterate(this, 0); },
    keys () { return iterate(this, 1); },
    values () { return iterate(this, 2); },
    forEach (callback, thisArg = undefined) {
      const state = stateOfSelf(this);
      if (typeof callback !== 'function') throw new NativeTypeError('forEach: the callback must be a function');
      for (let i = 0; ; i++) {
        const pairs = pairsOf(state);
        if (i >= pairs.length) return;
        apply(callback, thisArg, [pairs[i][1], pairs[i][0], this]);
      }
    },
  });
  defineProperty(Class.prototype, SymbolIterator, { __proto__: null, value: Class.prototype.entries, writable: true, configurable: true });
}
`;

/**
 * The group's implementation: a function body over `captured` (both groups' captured builtins, destructured
 * by web-globals.ts in front of it), `base` (the first group's internals), `startFetch`, `hostUrl` and
 * `buildStreams` (the streams group's builder: `buildStreams(true)` is undefined until a stream exists).
 * Comment lines and indentation are dropped: the text is held by every instance until first use.
 */
export const kWebFetchImplementationSource = compact(`${kHelpersSource}${kHeadersSource}${kUrlSource}${kBlobSource}${kFormDataSource}${kBodySource}
return exported;
`);

function compact (source: string): string {
  return source.replace(/^[ \t]*\/\/.*\n/gm, '').replace(/^[ \t]+/gm, '');
}
