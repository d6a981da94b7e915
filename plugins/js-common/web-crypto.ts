import { createHash, createHmac } from 'node:crypto';

/**
 * `crypto.subtle` for both JavaScript engines (issue #16): digest (SHA-1, SHA-256, SHA-384,
 * SHA-512) and HMAC keys (importKey and exportKey of raw keys, sign, verify). A lazy group of web
 * globals (web-globals.ts) compiled the first time `crypto.subtle`, `SubtleCrypto` or `CryptoKey`
 * is read. Argument checking, keys and results are guest code; the hashing itself is the host's
 * (node:crypto), reached through one host function that takes bytes and returns bytes, so no host
 * object ever reaches the guest. The host's time is the calling function's CPU.
 */

/** Most bytes one digest, sign or verify call may hash, and longest HMAC key; past it the promise rejects with a QuotaExceededError. */
export const kMaxDigestBytes = 16 * 2 ** 20;

const kHashNames: Record<string, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

/**
 * The host half of `crypto.subtle`: the digest of `data` under `hash`, or its HMAC when `key` is given.
 * @param hash 'SHA-1', 'SHA-256', 'SHA-384' or 'SHA-512'
 * @param key the HMAC key's bytes, or undefined for a plain digest
 * @param data the bytes to hash
 * @throws TypeError or RangeError for anything else (the guest checks first and never sends it)
 */
export function hostDigest (hash: unknown, key: unknown, data: unknown): Uint8Array {
  const name = typeof hash === 'string' && Object.hasOwn(kHashNames, hash) ? kHashNames[hash] : undefined;
  if (name === undefined) throw new TypeError(`digest: unknown hash ${String(hash)}`);
  if (!(data instanceof Uint8Array) || (key !== undefined && !(key instanceof Uint8Array))) throw new TypeError('digest: the data and key must be bytes');
  if (data.byteLength > kMaxDigestBytes || (key !== undefined && key.byteLength > kMaxDigestBytes)) throw new RangeError(`digest: more than ${kMaxDigestBytes} bytes`);
  const hasher = key === undefined ? createHash(name) : createHmac(name, key);
  // A copy of exactly the digest's bytes: what crosses back is a plain byte array.
  return new Uint8Array(hasher.update(data).digest());
}

/** The group's globals; `crypto.subtle` is the group's `subtle`. */
export const kWebCryptoNames = ['SubtleCrypto', 'CryptoKey'];

/**
 * The group's implementation: a function body run once per context with the captured builtins as
 * `captured` (web-globals' and web-fetch's), the first group's internals as `base` and the host
 * function as `hostDigest(hash, key, data)` (a guest Uint8Array back). It returns the globals by name and `subtle`.
 */
export const kWebCryptoImplementationSource = `'use strict';
const { DOMException, bytesOf, append } = base;
const exported = { __proto__: null };
const kMaxBytes = ${kMaxDigestBytes};
// The hashes, by their names in upper case, with their block size in bits (an HMAC key's default length).
const kHashes = { __proto__: null, 'SHA-1': 512, 'SHA-256': 512, 'SHA-384': 1024, 'SHA-512': 1024 };
const kOtherFormats = { __proto__: null, jwk: true, spki: true, pkcs8: true };
function domError (message, name) { return new DOMException(message, name); }
function need (count, wanted, what) {
  if (count < wanted) throw new NativeTypeError(what + ': ' + wanted + ' arguments required, ' + count + ' given');
}
// An AlgorithmIdentifier's name, in upper case (names are matched without regard to case).
function algorithmName (algorithm, what) {
  let name = algorithm;
  if (typeof algorithm === 'object' && algorithm !== null) {
    name = algorithm.name;
    if (name === undefined) throw new NativeTypeError(what + ': the algorithm has no name');
  } else if (typeof algorithm !== 'string') {
    throw new NativeTypeError(what + ': an algorithm name or an object with a name is needed');
  }
  return toUpperCase(NativeString(name));
}
function hashName (algorithm, what) {
  const name = algorithmName(algorithm, what);
  if (kHashes[name] === undefined) throw domError(what + ': the algorithm ' + name + ' is not supported (SHA-1, SHA-256, SHA-384 and SHA-512 are)', 'NotSupportedError');
  return name;
}
// The bytes of a BufferSource, checked against the host's limit.
function inputBytes (data, what) {
  const bytes = bytesOf(data, what);
  if (typedByteLength(bytes) > kMaxBytes) throw domError(what + ': ' + typedByteLength(bytes) + ' bytes, more than the ' + kMaxBytes + ' one call may hash', 'QuotaExceededError');
  return bytes;
}
function arrayBufferOf (bytes) {
  const length = typedByteLength(bytes), buffer = typedBuffer(bytes);
  if (typedByteOffset(bytes) === 0 && bufferByteLength(buffer) === length) return buffer;
  const copy = new NativeArrayBuffer(length);
  typedSet(new NativeUint8Array(copy), bytes);
  return copy;
}

// CryptoKey: what a key is lies in the guest's own WeakMap; the getters show copies made at import.
const keys = new NativeWeakMap();
const kNewKey = {};
function keyOf (self, what) {
  const state = typeof self === 'object' && self !== null ? weakGet(keys, self) : undefined;
  if (state === undefined) throw new NativeTypeError(what + ': not a CryptoKey');
  return state;
}
class CryptoKey {
  constructor (token = undefined, state = undefined) {
    if (token !== kNewKey) throw new NativeTypeError('Illegal constructor: keys come from crypto.subtle.importKey');
    weakSet(keys, this, state);
  }
  get type () { return keyOf(this, 'CryptoKey.type').type; }
  get extractable () { return keyOf(this, 'CryptoKey.extractable').extractable; }
  get algorithm () { return keyOf(this, 'CryptoKey.algorithm').algorithm; }
  get usages () { return keyOf(this, 'CryptoKey.usages').usages; }
}
defineProperty(CryptoKey.prototype, SymbolToStringTag, { __proto__: null, value: 'CryptoKey', configurable: true });
exported.CryptoKey = CryptoKey;

// The usages an HMAC key may have, in the order the standard lists them.
const kHmacUsages = ['sign', 'verify'];
function hmacUsages (keyUsages) {
  if ((typeof keyUsages !== 'object' && typeof keyUsages !== 'function') || keyUsages === null || typeof keyUsages.length !== 'number') throw new NativeTypeError('importKey: the key usages must be a list');
  const wanted = { __proto__: null };
  for (let i = 0; i < keyUsages.length; i++) {
    const usage = NativeString(keyUsages[i]);
    if (usage !== 'sign' && usage !== 'verify') throw domError('importKey: an HMAC key cannot be used to ' + usage, 'SyntaxError');
    wanted[usage] = true;
  }
  if (wanted.sign !== true && wanted.verify !== true) throw domError('importKey: a secret key needs at least one usage', 'SyntaxError');
  return wanted;
}
// The usages as the key shows them: a list of its own, so changing it changes nothing the key may do.
function usageList (allowed) {
  const list = [];
  for (let i = 0; i < kHmacUsages.length; i++) if (allowed[kHmacUsages[i]] === true) append(list, kHmacUsages[i]);
  return list;
}
// The key's HMAC for an operation it was imported for.
function hmacOf (algorithm, key, usage, data, what) {
  if (algorithmName(algorithm, what) !== 'HMAC') throw domError(what + ': the algorithm ' + algorithmName(algorithm, what) + ' is not supported (HMAC is)', 'NotSupportedError');
  const state = keyOf(key, what);
  if (state.allowed[usage] !== true) throw domError(what + ': the key may not be used to ' + usage, 'InvalidAccessError');
  return hostDigest(state.hash, state.bytes, inputBytes(data, what));
}

const kNewSubtle = {};
let subtle;
function checkSubtle (self, what) {
  if (self !== subtle) throw new NativeTypeError('Illegal invocation: ' + what + ' must be called on crypto.subtle');
}
class SubtleCrypto {
  constructor (token = undefined) {
    if (token !== kNewSubtle) throw new NativeTypeError('Illegal constructor: use crypto.subtle');
  }
  async digest (algorithm, data) {
    checkSubtle(this, 'digest');
    need(arguments.length, 2, 'digest');
    const name = hashName(algorithm, 'digest');
    return arrayBufferOf(hostDigest(name, undefined, inputBytes(data, 'digest')));
  }
  async importKey (format, keyData, algorithm, extractable, keyUsages) {
    checkSubtle(this, 'importKey');
    need(arguments.length, 5, 'importKey');
    const kind = NativeString(format);
    if (kind !== 'raw') throw kOtherFormats[kind] === true ? domError('importKey: the ' + kind + ' format is not supported (raw is)', 'NotSupportedError') : new NativeTypeError('importKey: unknown key format ' + kind);
    const name = algorithmName(algorithm, 'importKey');
    if (name !== 'HMAC') throw domError('importKey: the algorithm ' + name + ' is not supported (HMAC is)', 'NotSupportedError');
    if (algorithm.hash === undefined) throw new NativeTypeError('importKey: an HMAC key needs a hash');
    const hash = hashName(algorithm.hash, 'importKey');
    const allowed = hmacUsages(keyUsages);
    const view = inputBytes(keyData, 'importKey');
    // A copy: the caller may change its buffer afterwards.
    const bytes = new NativeUint8Array(typedByteLength(view));
    typedSet(bytes, view);
    const bits = typedLength(bytes) * 8;
    if (bits === 0) throw domError('importKey: an HMAC key cannot be empty', 'DataError');
    if (algorithm.length !== undefined && algorithm.length !== bits) throw domError('importKey: only a length equal to the key data\\'s (' + bits + ' bits) is supported', 'DataError');
    return new CryptoKey(kNewKey, { __proto__: null, type: 'secret', extractable: !!extractable, allowed, usages: usageList(allowed), hash, bytes,
      algorithm: { name: 'HMAC', hash: { name: hash }, length: bits } });
  }
  async exportKey (format, key) {
    checkSubtle(this, 'exportKey');
    need(arguments.length, 2, 'exportKey');
    const kind = NativeString(format);
    if (kind !== 'raw') throw kOtherFormats[kind] === true ? domError('exportKey: the ' + kind + ' format is not supported (raw is)', 'NotSupportedError') : new NativeTypeError('exportKey: unknown key format ' + kind);
    const state = keyOf(key, 'exportKey');
    if (!state.extractable) throw domError('exportKey: the key is not extractable', 'InvalidAccessError');
    const copy = new NativeArrayBuffer(typedLength(state.bytes));
    typedSet(new NativeUint8Array(copy), state.bytes);
    return copy;
  }
  async sign (algorithm, key, data) {
    checkSubtle(this, 'sign');
    need(arguments.length, 3, 'sign');
    return arrayBufferOf(hmacOf(algorithm, key, 'sign', data, 'sign'));
  }
  async verify (algorithm, key, signature, data) {
    checkSubtle(this, 'verify');
    need(arguments.length, 4, 'verify');
    const claimed = bytesOf(signature, 'verify');
    const expected = hmacOf(algorithm, key, 'verify', data, 'verify');
    const length = typedLength(expected);
    if (typedLength(claimed) !== length) return false;
    // Every byte is compared, whatever the first difference.
    let difference = 0;
    for (let i = 0; i < length; i++) difference |= claimed[i] ^ expected[i];
    return difference === 0;
  }
}
// What crypto.subtle does not have yet rejects clearly rather than being missing.
const kMissing = ['encrypt', 'decrypt', 'generateKey', 'deriveKey', 'deriveBits', 'wrapKey', 'unwrapKey'];
for (let i = 0; i < kMissing.length; i++) {
  const name = kMissing[i];
  defineProperty(SubtleCrypto.prototype, name, { __proto__: null, writable: true, configurable: true, enumerable: false, value: {
    async [name] () { throw domError('crypto.subtle.' + name + ' is not supported (digest, importKey, exportKey, sign and verify are)', 'NotSupportedError'); },
  }[name] });
}
defineProperty(SubtleCrypto.prototype, SymbolToStringTag, { __proto__: null, value: 'SubtleCrypto', configurable: true });
exported.SubtleCrypto = SubtleCrypto;
subtle = new SubtleCrypto(kNewSubtle);
exported.subtle = subtle;
return exported;
`;
