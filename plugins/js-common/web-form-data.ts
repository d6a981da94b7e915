/**
 * FormData and File for both JavaScript engines (part of the fetch group, web-fetch.ts): guest
 * source. A FormData as a body is written as multipart/form-data with a fresh random boundary (as
 * workerd and browsers do); `formData()` reads multipart/form-data and
 * application/x-www-form-urlencoded bodies. A File is a Blob with a name and a modification time.
 */
export const kFormDataSource = `
class File extends Blob {
  constructor (bits, name, options = undefined) {
    need(arguments.length, 2, 'File');
    super(bits, options);
    const lastModified = options == null || options.lastModified === undefined ? dateNow() : mathFloor(+options.lastModified);
    weakSet(fileStates, this, { __proto__: null, name: toUSV(name), lastModified: lastModified === lastModified ? lastModified : 0 });
  }
  get name () { return stateOf(fileStates, this, 'File').name; }
  get lastModified () { return stateOf(fileStates, this, 'File').lastModified; }
}
const fileStates = new NativeWeakMap();
tag(File, 'File');
define('File', File);
function makeFile (bytes, name, type, lastModified) {
  const file = objectCreate(File.prototype);
  weakSet(blobStates, file, { __proto__: null, bytes, type });
  weakSet(fileStates, file, { __proto__: null, name, lastModified });
  return file;
}

const formStates = new NativeWeakMap();
function formOf (self) { return stateOf(formStates, self, 'FormData'); }
// An entry's value: a string, or a File (a Blob becomes one named "blob"; a filename renames either).
function formValue (value, filename, count) {
  const blob = typeof value === 'object' && value !== null ? weakGet(blobStates, value) : undefined;
  if (blob === undefined) {
    if (count > 2) throw new NativeTypeError('FormData: a filename is only for a Blob value');
    return toUSV(value);
  }
  const file = weakGet(fileStates, value);
  if (file !== undefined && filename === undefined) return value;
  return makeFile(blob.bytes, filename !== undefined ? toUSV(filename) : file !== undefined ? file.name : 'blob', blob.type, file !== undefined ? file.lastModified : dateNow());
}
class FormData {
  constructor (form = undefined) {
    if (form !== undefined) throw new NativeTypeError('FormData: there is no form element to read here');
    weakSet(formStates, this, { __proto__: null, list: [] });
  }
  append (name, value, filename = undefined) {
    need(arguments.length, 2, 'FormData.append');
    append(formOf(this).list, [toUSV(name), formValue(value, filename, arguments.length)]);
  }
  delete (name) {
    need(arguments.length, 1, 'FormData.delete');
    const state = formOf(this), key = toUSV(name), kept = [];
    for (let i = 0; i < state.list.length; i++) if (state.list[i][0] !== key) append(kept, state.list[i]);
    state.list = kept;
  }
  get (name) {
    need(arguments.length, 1, 'FormData.get');
    const list = formOf(this).list, key = toUSV(name);
    for (let i = 0; i < list.length; i++) if (list[i][0] === key) return list[i][1];
    return null;
  }
  getAll (name) {
    need(arguments.length, 1, 'FormData.getAll');
    const list = formOf(this).list, key = toUSV(name), values = [];
    for (let i = 0; i < list.length; i++) if (list[i][0] === key) append(values, list[i][1]);
    return values;
  }
  has (name) {
    need(arguments.length, 1, 'FormData.has');
    const list = formOf(this).list, key = toUSV(name);
    for (let i = 0; i < list.length; i++) if (list[i][0] === key) return true;
    return false;
  }
  set (name, value, filename = undefined) {
    need(arguments.length, 2, 'FormData.set');
    const state = formOf(this);
    state.list = withSet(state.list, toUSV(name), formValue(value, filename, arguments.length));
  }
}
iterable(FormData, 'FormData Iterator', (state) => state.list, formOf);
tag(FormData, 'FormData');
define('FormData', FormData);

// multipart/form-data: a boundary of 32 random hex digits cannot be guessed by the one who chose the values.
function newBoundary () {
  let boundary = '';
  for (let i = 0; i < 32; i++) boundary += kHexDigits[mathFloor(mathRandom() * 16)];
  return boundary;
}
const kHexDigits = '0123456789abcdef';
// A name or filename in a Content-Disposition header: LF, CR and " are escaped as browsers do.
function dispositionText (s) {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = codeUnitAt(s, i);
    out += c === 0x0a ? '%0A' : c === 0x0d ? '%0D' : c === 0x22 ? '%22' : s[i];
  }
  return out;
}
function multipartBytes (list, boundary) {
  const pieces = [];
  let size = 0;
  const add = (bytes) => { append(pieces, bytes); size += typedLength(bytes); };
  for (let i = 0; i < list.length; i++) {
    const name = list[i][0], value = list[i][1];
    let head = '--' + boundary + '\\r\\nContent-Disposition: form-data; name="' + dispositionText(name) + '"';
    if (typeof value === 'string') {
      add(encodeUtf8(head + '\\r\\n\\r\\n'));
      add(encodeUtf8(value));
    } else {
      const blob = weakGet(blobStates, value);
      head += '; filename="' + dispositionText(weakGet(fileStates, value).name) + '"\\r\\nContent-Type: ' + (blob.type === '' ? 'application/octet-stream' : blob.type);
      add(encodeUtf8(head + '\\r\\n\\r\\n'));
      add(blob.bytes);
    }
    add(encodeUtf8('\\r\\n'));
  }
  // No line break after the closing delimiter, as workerd writes it (RFC 2046 makes one optional).
  add(encodeUtf8('--' + boundary + '--'));
  const bytes = new NativeUint8Array(size);
  for (let i = 0, at = 0; i < pieces.length; i++) { typedSet(bytes, pieces[i], at); at += typedLength(pieces[i]); }
  return bytes;
}

// formData(): the body read by its content type.
function parseFormData (bytes, contentType) {
  const type = parseMediaType(contentType);
  if (type !== undefined && type.essence === 'multipart/form-data') {
    const boundary = type.parameters.boundary;
    if (boundary === undefined || boundary === '') throw new NativeTypeError('formData: the multipart/form-data content type has no boundary');
    return parseMultipart(bytes, boundary);
  }
  if (type !== undefined && type.essence === 'application/x-www-form-urlencoded') {
    const form = new FormData(), list = parseParams(decodeUtf8(bytes, false));
    for (let i = 0; i < list.length; i++) append(formOf(form).list, list[i]);
    return form;
  }
  throw new NativeTypeError('formData: the body is not multipart/form-data nor application/x-www-form-urlencoded (content type "' + contentType + '")');
}
// A MIME type's essence (lower-cased type/subtype) and its parameters (lower-cased names; quoted values unquoted).
function parseMediaType (text) {
  const semicolon = stringIndexOf(text, ';');
  const essence = toLowerCase(trimHttp(semicolon < 0 ? text : stringSlice(text, 0, semicolon)));
  if (stringIndexOf(essence, '/') < 1) return undefined;
  const parameters = { __proto__: null };
  let at = semicolon < 0 ? text.length : semicolon + 1;
  while (at < text.length) {
    let end = at, quoted = false, value = '', name = '';
    while (end < text.length && codeUnitAt(text, end) !== 0x3d && codeUnitAt(text, end) !== 0x3b) end++;
    name = toLowerCase(trimHttp(stringSlice(text, at, end)));
    if (end < text.length && codeUnitAt(text, end) === 0x3d) {
      at = end + 1;
      while (at < text.length && (codeUnitAt(text, at) === 0x20 || codeUnitAt(text, at) === 0x09)) at++;
      if (at < text.length && codeUnitAt(text, at) === 0x22) {
        quoted = true;
        for (at++; at < text.length && codeUnitAt(text, at) !== 0x22; at++) {
          if (codeUnitAt(text, at) === 0x5c && at + 1 < text.length) at++;
          value += text[at];
        }
        at++;
      }
      end = at;
      while (end < text.length && codeUnitAt(text, end) !== 0x3b) end++;
      if (!quoted) value = trimHttp(stringSlice(text, at, end));
    }
    if (name !== '' && !hasOwn(parameters, name)) createDataProperty(parameters, name, value);
    at = end + 1;
  }
  return { __proto__: null, essence, parameters };
}
function trimHttp (s) {
  let start = 0, end = s.length;
  while (start < end && isHttpWhitespace(codeUnitAt(s, start))) start++;
  while (end > start && isHttpWhitespace(codeUnitAt(s, end - 1))) end--;
  return stringSlice(s, start, end);
}
// Where needle (bytes) first occurs in bytes at or after from, or -1.
function indexOfBytes (bytes, needle, from) {
  const last = typedLength(bytes) - typedLength(needle), first = needle[0];
  for (let i = from; i <= last; i++) {
    if (bytes[i] !== first) continue;
    let j = 1;
    while (j < typedLength(needle) && bytes[i + j] === needle[j]) j++;
    if (j === typedLength(needle)) return i;
  }
  return -1;
}
function subBytes (bytes, from, to) { return new NativeUint8Array(typedBuffer(bytes), typedByteOffset(bytes) + from, to - from); }
function malformed () { return new NativeTypeError('formData: the multipart/form-data body is malformed'); }
function parseMultipart (bytes, boundary) {
  const form = new FormData(), list = formOf(form).list;
  const delimiter = encodeUtf8('--' + boundary), nextDelimiter = encodeUtf8('\\r\\n--' + boundary), headEnd = encodeUtf8('\\r\\n\\r\\n');
  let at = indexOfBytes(bytes, delimiter, 0);
  if (at < 0) throw malformed();
  at += typedLength(delimiter);
  for (;;) {
    if (bytes[at] === 0x2d && bytes[at + 1] === 0x2d) return form;
    if (bytes[at] !== 0x0d || bytes[at + 1] !== 0x0a) throw malformed();
    at += 2;
    const headsEnd = indexOfBytes(bytes, headEnd, at);
    if (headsEnd < 0) throw malformed();
    const heads = decodeUtf8(subBytes(bytes, at, headsEnd), false);
    const bodyEnd = indexOfBytes(bytes, nextDelimiter, headsEnd + 4);
    if (bodyEnd < 0) throw malformed();
    let name, filename, type = '';
    let lineStart = 0;
    while (lineStart < heads.length) {
      let lineEnd = stringIndexOf(heads, '\\r\\n', lineStart);
      if (lineEnd < 0) lineEnd = heads.length;
      const line = stringSlice(heads, lineStart, lineEnd), colon = stringIndexOf(line, ':');
      lineStart = lineEnd + 2;
      if (colon < 0) continue;
      const field = toLowerCase(trimHttp(stringSlice(line, 0, colon))), value = trimHttp(stringSlice(line, colon + 1));
      if (field === 'content-type') type = value;
      else if (field === 'content-disposition') {
        const disposition = parseMediaType('x/' + value);
        if (disposition !== undefined) { name = disposition.parameters.name; filename = disposition.parameters.filename; }
      }
    }
    if (name === undefined) throw malformed();
    const body = subBytes(bytes, headsEnd + 4, bodyEnd);
    append(list, [name, filename === undefined ? decodeUtf8(body, false) : makeFile(copyBytes(body), filename, blobType(type), dateNow())]);
    at = bodyEnd + typedLength(nextDelimiter);
  }
}
`;
