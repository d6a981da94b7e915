/**
 * Headers for both JavaScript engines (part of the fetch group, web-fetch.ts): guest source.
 * Names are kept lower-cased (every way to read them back is case-insensitive or lower-cases them);
 * iteration sorts by name and joins the values of one name with ", ", except Set-Cookie's.
 * Guards: 'none' and 'immutable' (fetched responses and the Response statics' headers); the
 * browser-only guards (forbidden request and response header names) do not apply on a server.
 */
export const kHeadersSource = `
const headerStates = new NativeWeakMap();
function headersOf (self) { return stateOf(headerStates, self, 'Headers'); }
const kTokenChars = [];
for (let c = 0; c < 128; c++) kTokenChars[c] = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c > 0x20 && c < 0x7f && stringIndexOf("!#$%&'*+-.^_\`|~", fromCharCode(c)) >= 0);
function isToken (s) {
  const length = s.length;
  if (length === 0) return false;
  for (let i = 0; i < length; i++) {
    const c = codeUnitAt(s, i);
    if (c >= 128 || !kTokenChars[c]) return false;
  }
  return true;
}
function headerName (name) {
  const s = toByteString(name, 'Headers: a header name');
  if (!isToken(s)) throw new NativeTypeError('Headers: "' + s + '" is not a valid header name');
  return toLowerCase(s);
}
function isHttpWhitespace (c) { return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; }
// Leading and trailing HTTP whitespace removed; NUL, CR and LF inside refused.
function headerValue (value, name) {
  const s = toByteString(value, 'Headers: a header value');
  let start = 0, end = s.length;
  while (start < end && isHttpWhitespace(codeUnitAt(s, start))) start++;
  while (end > start && isHttpWhitespace(codeUnitAt(s, end - 1))) end--;
  for (let i = start; i < end; i++) {
    const c = codeUnitAt(s, i);
    if (c === 0 || c === 0x0a || c === 0x0d) throw new NativeTypeError('Headers: the value of "' + name + '" holds NUL, CR or LF');
  }
  return start === 0 && end === s.length ? s : stringSlice(s, start, end);
}
function checkMutable (state) {
  if (state.guard === 'immutable') throw new NativeTypeError('Headers: these headers are immutable');
}
function headerAppend (state, name, value) {
  const n = headerName(name), v = headerValue(value, n);
  checkMutable(state);
  append(state.list, [n, v]);
  state.sorted = undefined;
}
function headerGet (state, n) {
  let value = null;
  for (let i = 0; i < state.list.length; i++) if (state.list[i][0] === n) value = value === null ? state.list[i][1] : value + ', ' + state.list[i][1];
  return value;
}
function headerHas (state, n) {
  for (let i = 0; i < state.list.length; i++) if (state.list[i][0] === n) return true;
  return false;
}
function fillHeaders (state, init) {
  if (init === undefined) return;
  if ((typeof init !== 'object' && typeof init !== 'function') || init === null) throw new NativeTypeError('Headers: init must be a Headers, a sequence of pairs or a record');
  const other = weakGet(headerStates, init);
  if (other !== undefined) {
    for (let i = 0; i < other.list.length; i++) append(state.list, [other.list[i][0], other.list[i][1]]);
    return;
  }
  const method = init[SymbolIterator];
  if (method !== undefined && method !== null) {
    const pairs = listOf(init, 'Headers');
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairOf(pairs[i], 'Headers');
      headerAppend(state, pair[0], pair[1]);
    }
    return;
  }
  forEachOfRecord(init, 'Headers', (key, value) => headerAppend(state, key, value));
}
// The sort-and-combine list iteration walks: names sorted, one entry per name but one per Set-Cookie value.
function sortedHeaders (state) {
  if (state.sorted !== undefined) return state.sorted;
  const pairs = [], list = stableSortByName(state.list);
  for (let i = 0; i < list.length; i++) {
    const name = list[i][0], last = pairs.length > 0 ? pairs[pairs.length - 1] : undefined;
    if (last !== undefined && last[0] === name && name !== 'set-cookie') last[1] = last[1] + ', ' + list[i][1];
    else append(pairs, [name, list[i][1]]);
  }
  state.sorted = pairs;
  return pairs;
}
// An empty Headers and its state, for a Request or Response to fill and guard.
function newHeaders () {
  const headers = objectCreate(Headers.prototype);
  const state = { __proto__: null, list: [], guard: 'none', sorted: undefined };
  weakSet(headerStates, headers, state);
  return [headers, state];
}
class Headers {
  constructor (init = undefined) {
    const state = { __proto__: null, list: [], guard: 'none', sorted: undefined };
    weakSet(headerStates, this, state);
    fillHeaders(state, init);
  }
  append (name, value) {
    const state = headersOf(this);
    need(arguments.length, 2, 'Headers.append');
    headerAppend(state, name, value);
  }
  delete (name) {
    const state = headersOf(this);
    need(arguments.length, 1, 'Headers.delete');
    const n = headerName(name), kept = [];
    checkMutable(state);
    for (let i = 0; i < state.list.length; i++) if (state.list[i][0] !== n) append(kept, state.list[i]);
    state.list = kept;
    state.sorted = undefined;
  }
  get (name) {
    const state = headersOf(this);
    need(arguments.length, 1, 'Headers.get');
    return headerGet(state, headerName(name));
  }
  getSetCookie () {
    const state = headersOf(this), values = [];
    for (let i = 0; i < state.list.length; i++) if (state.list[i][0] === 'set-cookie') append(values, state.list[i][1]);
    return values;
  }
  has (name) {
    const state = headersOf(this);
    need(arguments.length, 1, 'Headers.has');
    return headerHas(state, headerName(name));
  }
  set (name, value) {
    const state = headersOf(this);
    need(arguments.length, 2, 'Headers.set');
    const n = headerName(name), v = headerValue(value, n);
    checkMutable(state);
    state.list = withSet(state.list, n, v);
    state.sorted = undefined;
  }
}
iterable(Headers, 'Headers Iterator', sortedHeaders, headersOf);
tag(Headers, 'Headers');
define('Headers', Headers);
`;
