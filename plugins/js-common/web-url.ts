/**
 * URL and URLSearchParams for both JavaScript engines (part of the fetch group, web-fetch.ts).
 *
 * URLSearchParams is guest code. URL parsing is the host's: the guest hands a string (and a base, or
 * a setter and its value) to `__sbHostUrl`, which runs Node's WHATWG parser and answers the parsed
 * components as a JSON array of strings, so no host object crosses. Node's parser follows the
 * standard to the letter (IDNA, IPv4 and IPv6 hosts, every scheme's rules) where a guest parser of
 * the same exactness would be a large script compiled into every instance that reads URL. The host's
 * work is bounded (inputs of at most {@link kMaxUrlInputChars} characters) and counted: on `quickjs`
 * it runs inside the slice, on `js` the isolate instance adds it to the entry's CPU.
 */

/** Longest URL text, base or setter value the host parses, in UTF-16 code units; longer ones are invalid URLs. */
export const kMaxUrlInputChars = 65_536;

const kSetters = new Set(['protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']);

/**
 * The host half of URL. With `setter` '' it parses `input` against `base` (a string, or undefined
 * for none); otherwise `input` is a URL's href and `setter` one of its setters, given `value`.
 * @returns `[href, origin, protocol, username, password, host, hostname, port, pathname, search, hash]`
 * as JSON, or '' when the input is not a valid URL or an argument is not what the guest sends.
 */
export function hostUrl (input: unknown, base: unknown, setter: unknown, value: unknown): string {
  if (!isBounded(input) || (base !== undefined && !isBounded(base))) return '';
  const url = URL.parse(input, base);
  if (url === null) return '';
  if (setter !== '') {
    if (typeof setter !== 'string' || !kSetters.has(setter) || !isBounded(value)) return '';
    (url as unknown as Record<string, string>)[setter] = value;
  }
  return JSON.stringify([url.href, url.origin, url.protocol, url.username, url.password, url.host, url.hostname, url.port, url.pathname, url.search, url.hash]);
}

function isBounded (text: unknown): text is string {
  return typeof text === 'string' && text.length <= kMaxUrlInputChars;
}

/** Guest source, run inside the fetch group's implementation (web-fetch.ts has the helpers it uses). */
export const kUrlSource = `
// URLSearchParams: a list of name-value pairs, application/x-www-form-urlencoded as text.
const paramStates = new NativeWeakMap();
function paramsOf (self) { return stateOf(paramStates, self, 'URLSearchParams'); }
const kFormSafe = [];
for (let c = 0; c < 128; c++) kFormSafe[c] = c === 0x2a || c === 0x2d || c === 0x2e || c === 0x5f || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const kHexUpper = '0123456789ABCDEF';
function hexValue (b) {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  return -1;
}
function formEncodeByte (text, b) {
  if (b === 0x20) text.unit(0x2b);
  else if (b < 128 && kFormSafe[b]) text.unit(b);
  else { text.unit(0x25); text.unit(codeUnitAt(kHexUpper, b >> 4)); text.unit(codeUnitAt(kHexUpper, b & 15)); }
}
// ASCII is its own UTF-8: only the rest of a string from its first other character is encoded to bytes.
function formEncode (text, s) {
  const length = s.length;
  for (let i = 0; i < length; i++) {
    const c = codeUnitAt(s, i);
    if (c < 0x80) { formEncodeByte(text, c); continue; }
    const bytes = encodeUtf8(stringSlice(s, i));
    for (let j = 0; j < bytes.length; j++) formEncodeByte(text, bytes[j]);
    return;
  }
}
function serializeParams (list) {
  const text = new Text();
  for (let i = 0; i < list.length; i++) {
    if (i > 0) text.unit(0x26);
    formEncode(text, list[i][0]);
    text.unit(0x3d);
    formEncode(text, list[i][1]);
  }
  return text.done();
}
// '+' to a space, %XX to its byte, then UTF-8 without BOM handling (a leading U+FEFF stays).
function formDecode (s) {
  let plain = true;
  for (let i = 0; i < s.length && plain; i++) {
    const c = codeUnitAt(s, i);
    plain = c < 0x80 && c !== 0x25 && c !== 0x2b;
  }
  if (plain) return s;
  const bytes = encodeUtf8(s), length = bytes.length, out = new NativeUint8Array(length);
  let j = 0;
  for (let i = 0; i < length; i++) {
    const b = bytes[i];
    if (b === 0x2b) out[j++] = 0x20;
    else if (b === 0x25 && i + 2 < length && hexValue(bytes[i + 1]) >= 0 && hexValue(bytes[i + 2]) >= 0) { out[j++] = (hexValue(bytes[i + 1]) << 4) | hexValue(bytes[i + 2]); i += 2; }
    else out[j++] = b;
  }
  return decodeUtf8(new NativeUint8Array(typedBuffer(out), 0, j), true);
}
function parseParams (s) {
  const list = [], length = s.length;
  let start = 0;
  while (start <= length) {
    let end = start;
    while (end < length && codeUnitAt(s, end) !== 0x26) end++;
    if (end > start) {
      let eq = start;
      while (eq < end && codeUnitAt(s, eq) !== 0x3d) eq++;
      append(list, [formDecode(stringSlice(s, start, eq)), eq < end ? formDecode(stringSlice(s, eq + 1, end)) : '']);
    }
    start = end + 1;
  }
  return list;
}
function pairOf (value, what) {
  const pair = listOf(value, what);
  if (pair.length !== 2) throw new NativeTypeError(what + ': each pair must have exactly two items, a name and a value');
  return pair;
}
// A record's own enumerable string keys, in order, with their values: f(key, value) for each.
function forEachOfRecord (record, what, f) {
  const keys = ownKeys(record);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i], descriptor = ownDescriptor(record, key);
    if (descriptor === undefined || !descriptor.enumerable) continue;
    if (typeof key === 'symbol') throw new NativeTypeError(what + ': a symbol is not a valid key');
    f(key, record[key]);
  }
}
function paramsChanged (state) {
  if (state.url === null) return;
  const query = serializeParams(state.list);
  setUrlPart(state.url, 'search', query === '' ? '' : '?' + query);
}
class URLSearchParams {
  constructor (init = '') {
    const state = { __proto__: null, list: [], url: null };
    weakSet(paramStates, this, state);
    if ((typeof init === 'object' && init !== null) || typeof init === 'function') {
      const method = init[SymbolIterator];
      if (method !== undefined && method !== null) {
        const pairs = listOf(init, 'URLSearchParams');
        for (let i = 0; i < pairs.length; i++) {
          const pair = pairOf(pairs[i], 'URLSearchParams');
          append(state.list, [toUSV(pair[0]), toUSV(pair[1])]);
        }
      } else {
        forEachOfRecord(init, 'URLSearchParams', (key, value) => append(state.list, [toUSV(key), toUSV(value)]));
      }
      return;
    }
    const s = toUSV(init);
    state.list = parseParams(s.length > 0 && codeUnitAt(s, 0) === 0x3f ? stringSlice(s, 1) : s);
  }
  get size () { return paramsOf(this).list.length; }
  append (name, value) {
    const state = paramsOf(this);
    need(arguments.length, 2, 'URLSearchParams.append');
    append(state.list, [toUSV(name), toUSV(value)]);
    paramsChanged(state);
  }
  delete (name, value = undefined) {
    const state = paramsOf(this);
    need(arguments.length, 1, 'URLSearchParams.delete');
    const n = toUSV(name), v = value === undefined ? undefined : toUSV(value), kept = [];
    for (let i = 0; i < state.list.length; i++) {
      const pair = state.list[i];
      if (!(pair[0] === n && (v === undefined || pair[1] === v))) append(kept, pair);
    }
    state.list = kept;
    paramsChanged(state);
  }
  get (name) {
    const state = paramsOf(this);
    need(arguments.length, 1, 'URLSearchParams.get');
    const n = toUSV(name);
    for (let i = 0; i < state.list.length; i++) if (state.list[i][0] === n) return state.list[i][1];
    return null;
  }
  getAll (name) {
    const state = paramsOf(this);
    need(arguments.length, 1, 'URLSearchParams.getAll');
    const n = toUSV(name), values = [];
    for (let i = 0; i < state.list.length; i++) if (state.list[i][0] === n) append(values, state.list[i][1]);
    return values;
  }
  has (name, value = undefined) {
    const state = paramsOf(this);
    need(arguments.length, 1, 'URLSearchParams.has');
    const n = toUSV(name), v = value === undefined ? undefined : toUSV(value);
    for (let i = 0; i < state.list.length; i++) if (state.list[i][0] === n && (v === undefined || state.list[i][1] === v)) return true;
    return false;
  }
  set (name, value) {
    const state = paramsOf(this);
    need(arguments.length, 2, 'URLSearchParams.set');
    const n = toUSV(name), v = toUSV(value);
    state.list = withSet(state.list, n, v);
    paramsChanged(state);
  }
  sort () {
    const state = paramsOf(this);
    state.list = stableSortByName(state.list);
    paramsChanged(state);
  }
  toString () { return serializeParams(paramsOf(this).list); }
}
iterable(URLSearchParams, 'URLSearchParams Iterator', (state) => state.list, paramsOf);
tag(URLSearchParams, 'URLSearchParams');
define('URLSearchParams', URLSearchParams);

// URL: parsed by the host (web-url.ts), kept here as its components.
const urlStates = new NativeWeakMap();
function urlOf (self) { return stateOf(urlStates, self, 'URL'); }
const kHref = 0, kOrigin = 1, kProtocol = 2, kUsername = 3, kPassword = 4, kHost = 5, kHostname = 6, kPort = 7, kPathname = 8, kSearch = 9, kHash = 10;
const kMaxUrlChars = ${kMaxUrlInputChars};
function bounded (text, what) {
  if (text.length > kMaxUrlChars) throw new NativeTypeError('Invalid URL: ' + what + ' is longer than ' + kMaxUrlChars + ' characters');
  return text;
}
// The components of input parsed against base (a string or undefined), or undefined when it is no valid URL.
function parseUrl (input, base) {
  const answer = hostUrl(bounded(input, 'the URL'), base === undefined ? undefined : bounded(base, 'the base URL'), '', '');
  return answer === '' ? undefined : jsonParse(answer);
}
function invalidUrl (input) {
  const error = new NativeTypeError('Invalid URL: ' + (input.length > 200 ? stringSlice(input, 0, 200) + '...' : input));
  defineProperty(error, 'code', { __proto__: null, value: 'ERR_INVALID_URL', writable: true, configurable: true });
  return error;
}
function setUrlPart (state, setter, value) {
  const answer = hostUrl(state.parts[kHref], undefined, setter, bounded(value, 'the ' + setter));
  if (answer !== '') state.parts = jsonParse(answer);
}
function refreshParams (state) {
  if (state.params === undefined) return;
  const search = state.parts[kSearch];
  paramsOf(state.params).list = parseParams(search === '' ? '' : stringSlice(search, 1));
}
class URL {
  constructor (url, base = undefined) {
    need(arguments.length, 1, 'URL');
    const input = toUSV(url);
    const parts = parseUrl(input, base === undefined ? undefined : toUSV(base));
    if (parts === undefined) throw invalidUrl(input);
    weakSet(urlStates, this, { __proto__: null, parts, params: undefined });
  }
  static canParse (url, base = undefined) {
    need(arguments.length, 1, 'URL.canParse');
    try { return parseUrl(toUSV(url), base === undefined ? undefined : toUSV(base)) !== undefined; } catch { return false; }
  }
  static parse (url, base = undefined) {
    need(arguments.length, 1, 'URL.parse');
    try { return new URL(url, base); } catch { return null; }
  }
  get href () { return urlOf(this).parts[kHref]; }
  set href (value) {
    const state = urlOf(this), input = toUSV(value), parts = parseUrl(input, undefined);
    if (parts === undefined) throw invalidUrl(input);
    state.parts = parts;
    refreshParams(state);
  }
  get origin () { return urlOf(this).parts[kOrigin]; }
  get protocol () { return urlOf(this).parts[kProtocol]; }
  set protocol (value) { setUrlPart(urlOf(this), 'protocol', toUSV(value)); }
  get username () { return urlOf(this).parts[kUsername]; }
  set username (value) { setUrlPart(urlOf(this), 'username', toUSV(value)); }
  get password () { return urlOf(this).parts[kPassword]; }
  set password (value) { setUrlPart(urlOf(this), 'password', toUSV(value)); }
  get host () { return urlOf(this).parts[kHost]; }
  set host (value) { setUrlPart(urlOf(this), 'host', toUSV(value)); }
  get hostname () { return urlOf(this).parts[kHostname]; }
  set hostname (value) { setUrlPart(urlOf(this), 'hostname', toUSV(value)); }
  get port () { return urlOf(this).parts[kPort]; }
  set port (value) { setUrlPart(urlOf(this), 'port', toUSV(value)); }
  get pathname () { return urlOf(this).parts[kPathname]; }
  set pathname (value) { setUrlPart(urlOf(this), 'pathname', toUSV(value)); }
  get search () { return urlOf(this).parts[kSearch]; }
  set search (value) {
    const state = urlOf(this);
    setUrlPart(state, 'search', toUSV(value));
    refreshParams(state);
  }
  get searchParams () {
    const state = urlOf(this);
    if (state.params === undefined) {
      state.params = new URLSearchParams();
      refreshParams(state);
      paramsOf(state.params).url = state;
    }
    return state.params;
  }
  get hash () { return urlOf(this).parts[kHash]; }
  set hash (value) { setUrlPart(urlOf(this), 'hash', toUSV(value)); }
  toString () { return urlOf(this).parts[kHref]; }
  toJSON () { return urlOf(this).parts[kHref]; }
}
tag(URL, 'URL');
define('URL', URL);
`;
