import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Streams for both JavaScript engines (issue #16): ReadableStream (readers, pipeTo, pipeThrough,
 * tee, async iteration, byte streams), WritableStream, TransformStream, their queuing strategies,
 * TextEncoderStream and TextDecoderStream. A lazy group of web globals (web-globals.ts): compiled
 * the first time one of them is read (or a Request's or Response's `body` is), so a function that
 * never uses a stream never pays for it.
 *
 * The streams themselves are web-streams-polyfill (the WHATWG reference implementation, tested
 * against the web-platform-tests), evaluated as it is shipped inside the guest: pure JavaScript,
 * no host object, on the function's own CPU and memory budgets. Unlike the groups written here it
 * reads the builtins (Promise, Symbol) when it runs, not when the prelude ran: a function that
 * replaces them changes only its own streams.
 */

/** The group's globals. */
export const kWebStreamsNames = [
  'ReadableStream', 'ReadableStreamDefaultReader', 'ReadableStreamBYOBReader', 'ReadableStreamDefaultController',
  'ReadableByteStreamController', 'ReadableStreamBYOBRequest', 'WritableStream', 'WritableStreamDefaultWriter',
  'WritableStreamDefaultController', 'TransformStream', 'TransformStreamDefaultController', 'ByteLengthQueuingStrategy',
  'CountQueuingStrategy', 'TextEncoderStream', 'TextDecoderStream',
];

const kPolyfillSource = readFileSync(createRequire(import.meta.url).resolve('web-streams-polyfill'), 'utf8');

/**
 * The group's implementation: a function body run once per context with the first group's globals
 * as `base` (its TextEncoder and TextDecoder). It returns the globals by name.
 * The polyfill is a UMD bundle: given `exports` and `module`, it fills `exports`.
 */
export const kWebStreamsImplementationSource = `'use strict';
const exports = {}, module = { exports };
${kPolyfillSource}
const exported = { __proto__: null };
for (const name of ${JSON.stringify(kWebStreamsNames.slice(0, -2))}) exported[name] = exports[name];
const { TransformStream } = exports;
const encodeMethod = base.TextEncoder.prototype.encode, decodeMethod = base.TextDecoder.prototype.decode;
const streamStates = new WeakMap();
function streamOf (self, what) {
  const state = streamStates.get(self);
  if (state === undefined) throw new TypeError('Illegal invocation: not a ' + what);
  return state;
}
// Strings in, UTF-8 out; a high surrogate that ends a chunk waits for the next one.
class TextEncoderStream {
  constructor () {
    const encoder = new base.TextEncoder();
    let pending = '';
    const transform = new TransformStream({
      transform (chunk, controller) {
        let text = pending + String(chunk);
        pending = '';
        const last = text.length > 0 ? text.charCodeAt(text.length - 1) : 0;
        if (last >= 0xd800 && last <= 0xdbff) { pending = text.slice(-1); text = text.slice(0, -1); }
        if (text.length > 0) controller.enqueue(Reflect.apply(encodeMethod, encoder, [text]));
      },
      flush (controller) {
        if (pending !== '') controller.enqueue(Reflect.apply(encodeMethod, encoder, [pending]));
      },
    });
    streamStates.set(this, { encoding: 'utf-8', transform });
  }
  get encoding () { return streamOf(this, 'TextEncoderStream').encoding; }
  get readable () { return streamOf(this, 'TextEncoderStream').transform.readable; }
  get writable () { return streamOf(this, 'TextEncoderStream').transform.writable; }
}
// Bytes in, strings out, with TextDecoder's streaming mode carrying a split character over.
class TextDecoderStream {
  constructor (label = 'utf-8', options = undefined) {
    const decoder = new base.TextDecoder(label, options);
    const transform = new TransformStream({
      transform (chunk, controller) {
        const text = Reflect.apply(decodeMethod, decoder, [chunk, { stream: true }]);
        if (text !== '') controller.enqueue(text);
      },
      flush (controller) {
        const text = Reflect.apply(decodeMethod, decoder, []);
        if (text !== '') controller.enqueue(text);
      },
    });
    streamStates.set(this, { encoding: decoder.encoding, fatal: decoder.fatal, ignoreBOM: decoder.ignoreBOM, transform });
  }
  get encoding () { return streamOf(this, 'TextDecoderStream').encoding; }
  get fatal () { return streamOf(this, 'TextDecoderStream').fatal; }
  get ignoreBOM () { return streamOf(this, 'TextDecoderStream').ignoreBOM; }
  get readable () { return streamOf(this, 'TextDecoderStream').transform.readable; }
  get writable () { return streamOf(this, 'TextDecoderStream').transform.writable; }
}
for (const Class of [TextEncoderStream, TextDecoderStream]) Object.defineProperty(Class.prototype, Symbol.toStringTag, { value: Class.name, configurable: true });
exported.TextEncoderStream = TextEncoderStream;
exported.TextDecoderStream = TextDecoderStream;

// What Request and Response (web-body.ts) build their bodies on, taken before a function can replace any of it.
const NativeReadableStream = exports.ReadableStream, streamPrototype = NativeReadableStream.prototype;
const uncurry = (fn) => Function.prototype.call.bind(fn);
const lockedOf = uncurry(Object.getOwnPropertyDescriptor(streamPrototype, 'locked').get);
const getReader = uncurry(streamPrototype.getReader), tee = uncurry(streamPrototype.tee);
const readerPrototype = exports.ReadableStreamDefaultReader.prototype;
const read = uncurry(readerPrototype.read), readerCancel = uncurry(readerPrototype.cancel);
const { bytesOf } = base.internals;
const NativeUint8Array = Uint8Array, typedSet = uncurry(Object.getPrototypeOf(Uint8Array.prototype).set);
function isStream (value) {
  try { lockedOf(value); return true; } catch { return false; }
}
exported.internals = {
  __proto__: null,
  isStream,
  // A body's bytes as a byte stream (a BYOB reader can read it); the stream takes the bytes over.
  fromBytes (bytes) {
    return new NativeReadableStream({ type: 'bytes', start (controller) {
      if (bytes.length > 0) controller.enqueue(bytes);
      controller.close();
    } });
  },
  // The stream of a body already read whole: locked and disturbed, as the reader that read it left it.
  readStream () {
    const stream = exported.internals.fromBytes(new NativeUint8Array(0));
    read(getReader(stream));
    return stream;
  },
  // A stream that has been read from (or is being read) cannot be a body any more. The standard's
  // [[disturbed]] slot has no public accessor: the polyfill keeps it as the stream's _disturbed.
  unusable (stream) { return lockedOf(stream) || stream._disturbed === true; },
  disturbed (stream) { return stream._disturbed === true; },
  tee,
  // A copy of the whole stream as one Uint8Array; each chunk must be bytes (an ArrayBuffer or a view), as a body's are.
  async readAll (stream, what) {
    const reader = getReader(stream), pieces = [];
    let size = 0;
    for (;;) {
      const step = await read(reader);
      if (step.done) break;
      let piece;
      try {
        piece = bytesOf(step.value, what);
      } catch {
        const error = new TypeError(what + ': the body stream gave a chunk that is not bytes (an ArrayBuffer or a typed array)');
        readerCancel(reader, error);
        throw error;
      }
      pieces[pieces.length] = piece;
      size += piece.length;
    }
    const whole = new NativeUint8Array(size);
    for (let i = 0, at = 0; i < pieces.length; i++) { typedSet(whole, pieces[i], at); at += pieces[i].length; }
    return whole;
  },
};
return exported;
`;
