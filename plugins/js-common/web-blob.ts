/**
 * Blob for both JavaScript engines (part of the fetch group, web-fetch.ts): guest source. A Blob is
 * its bytes, held whole (`stream()` is a byte stream of a copy of them); `endings` is ignored ('transparent').
 */
export const kBlobSource = `
const blobStates = new NativeWeakMap();
function blobOf (self) { return stateOf(blobStates, self, 'Blob'); }
// A type that is not printable ASCII is dropped; the rest is lower-cased.
function blobType (value) {
  const s = NativeString(value);
  for (let i = 0; i < s.length; i++) {
    const c = codeUnitAt(s, i);
    if (c < 0x20 || c > 0x7e) return '';
  }
  return toLowerCase(s);
}
function makeBlob (bytes, type) {
  const blob = objectCreate(Blob.prototype);
  weakSet(blobStates, blob, { __proto__: null, bytes, type });
  return blob;
}
class Blob {
  constructor (parts = undefined, options = undefined) {
    const list = parts === undefined ? [] : listOf(parts, 'Blob'), pieces = [];
    let size = 0;
    for (let i = 0; i < list.length; i++) {
      const part = list[i];
      const blob = typeof part === 'object' && part !== null ? weakGet(blobStates, part) : undefined;
      const view = blob === undefined && typeof part === 'object' && part !== null ? bufferSource(part) : undefined;
      const bytes = blob !== undefined ? blob.bytes : view !== undefined ? view : encodeUtf8(toUSV(part));
      append(pieces, bytes);
      size += typedLength(bytes);
    }
    const bytes = new NativeUint8Array(size);
    for (let i = 0, at = 0; i < pieces.length; i++) { typedSet(bytes, pieces[i], at); at += typedLength(pieces[i]); }
    const type = options === undefined || options === null ? '' : options.type === undefined ? '' : blobType(options.type);
    weakSet(blobStates, this, { __proto__: null, bytes, type });
  }
  get size () { return typedLength(blobOf(this).bytes); }
  get type () { return blobOf(this).type; }
  slice (start = undefined, end = undefined, contentType = undefined) {
    const state = blobOf(this), size = typedLength(state.bytes);
    const from = relativeIndex(start, 0, size), to = relativeIndex(end, size, size);
    return makeBlob(copyBytes(new NativeUint8Array(typedBuffer(state.bytes), typedByteOffset(state.bytes) + from, to > from ? to - from : 0)), contentType === undefined ? '' : blobType(contentType));
  }
  async text () { return decodeUtf8(blobOf(this).bytes, false); }
  async arrayBuffer () { return typedBuffer(copyBytes(blobOf(this).bytes)); }
  async bytes () { return copyBytes(blobOf(this).bytes); }
  stream () { return streams().fromBytes(copyBytes(blobOf(this).bytes)); }
}
// A slice index: negative counts from the end; clamped to 0..size.
function relativeIndex (value, fallback, size) {
  if (value === undefined) return fallback;
  let n = +value;
  n = n !== n ? 0 : n < 0 ? -mathFloor(-n) : mathFloor(n);
  if (n < 0) return n + size < 0 ? 0 : n + size;
  return n > size ? size : n;
}
tag(Blob, 'Blob');
define('Blob', Blob);
`;
