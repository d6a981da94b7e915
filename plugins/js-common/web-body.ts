/**
 * Request, Response and the global fetch for both JavaScript engines (part of the fetch group,
 * web-fetch.ts): guest source. A body is held as bytes, or as the ReadableStream it was made from
 * (web-streams.ts); `body` turns bytes into a stream only when it is read, so a function that never
 * reads it never builds the streams group. Reading a body once marks it used (a second read rejects
 * with a TypeError); a stream body is read whole first (`text()`, `arrayBuffer()`, a Worker's answer).
 * fetch goes through the same host path as ctx.fetch (`startFetch`, given by the prelude): same
 * allow-list, counting, rate limit and errors; a refusal or failure rejects with
 * TypeError('fetch failed') whose `cause` is the engine's error (`code`, `message`).
 */
export const kBodySource = `
// [bytes, content type or null, stream or null] of a BodyInit; the bytes are a copy the body owns.
function extractBody (init) {
  if (typeof init === 'object' && init !== null) {
    const built = buildStreams(true);
    if (built !== undefined && built.internals.isStream(init)) {
      if (built.internals.unusable(init)) throw new NativeTypeError('the body stream is locked or has already been read');
      return [null, null, init];
    }
    const form = weakGet(formStates, init);
    if (form !== undefined) {
      const boundary = newBoundary();
      return [multipartBytes(form.list, boundary), 'multipart/form-data; boundary=' + boundary, null];
    }
    const params = weakGet(paramStates, init);
    if (params !== undefined) return [encodeUtf8(serializeParams(params.list)), 'application/x-www-form-urlencoded;charset=UTF-8', null];
    const blob = weakGet(blobStates, init);
    if (blob !== undefined) return [copyBytes(blob.bytes), blob.type === '' ? null : blob.type, null];
    const view = bufferSource(init);
    if (view !== undefined) return [copyBytes(view), null, null];
  }
  return [encodeUtf8(toUSV(init)), 'text/plain;charset=UTF-8', null];
}
// Body state of a Request or Response: its bytes or its stream (both null: no body, or its bytes were read)
// and whether it was read (a null body never is).
const bodies = new NativeWeakMap();
function newBody (bytes, stream) { return { __proto__: null, bytes, stream, used: false }; }
function streams () { return buildStreams().internals; }
function isUnusable (body) { return body.used || (body.stream !== null && streams().unusable(body.stream)); }
async function takeBody (self, what) {
  const body = stateOf(bodies, self, 'Request or Response');
  if (isUnusable(body)) throw new NativeTypeError(what + ': the body has already been read');
  if (body.stream !== null) {
    body.used = true;
    return streams().readAll(body.stream, what);
  }
  if (body.bytes === null) return new NativeUint8Array(0);
  const bytes = body.bytes;
  body.used = true;
  body.bytes = null;
  return bytes;
}
function wholeBuffer (bytes) {
  const buffer = typedBuffer(bytes);
  return typedByteOffset(bytes) === 0 && typedByteLength(bytes) === bufferByteLength(buffer) ? buffer : typedBuffer(copyBytes(bytes));
}
function contentTypeOf (self) {
  const response = weakGet(responseStates, self), request = weakGet(requestStates, self);
  const headers = response !== undefined ? response.headers : request !== undefined ? request.headers : undefined;
  const type = headers === undefined ? null : headerGet(headersOf(headers), 'content-type');
  return type === null ? '' : type;
}
function bodyMixin (Class) {
  methods(Class.prototype, {
    async arrayBuffer () { return wholeBuffer(await takeBody(this, 'arrayBuffer')); },
    async bytes () { return takeBody(this, 'bytes'); },
    async text () { return decodeUtf8(await takeBody(this, 'text'), false); },
    async json () { return jsonParse(decodeUtf8(await takeBody(this, 'json'), false)); },
    async blob () { return makeBlob(await takeBody(this, 'blob'), contentTypeOf(this)); },
    async formData () { return parseFormData(await takeBody(this, 'formData'), contentTypeOf(this)); },
  });
  defineProperty(Class.prototype, 'bodyUsed', { __proto__: null, get: function bodyUsed () {
    const body = stateOf(bodies, this, 'Request or Response');
    return body.used || (body.stream !== null && streams().disturbed(body.stream));
  }, enumerable: true, configurable: true });
  // Bytes become a stream the first time it is asked for, and stay one.
  defineProperty(Class.prototype, 'body', { __proto__: null, get: function body () {
    const body = stateOf(bodies, this, 'Request or Response');
    if (body.stream === null) {
      if (body.bytes === null && !body.used) return null;
      body.stream = body.used ? streams().readStream() : streams().fromBytes(body.bytes);
      body.bytes = null;
    }
    return body.stream;
  }, enumerable: true, configurable: true });
}
function cloneBody (self, what) {
  const body = stateOf(bodies, self, what);
  if (isUnusable(body)) throw new NativeTypeError(what + '.clone: the body has already been read');
  if (body.stream === null) return newBody(body.bytes === null ? null : copyBytes(body.bytes), null);
  const branches = streams().tee(body.stream);
  body.stream = branches[0];
  return newBody(null, branches[1]);
}
function copyHeaders (headers) {
  const from = headersOf(headers), made = newHeaders();
  for (let i = 0; i < from.list.length; i++) append(made[1].list, [from.list[i][0], from.list[i][1]]);
  made[1].guard = from.guard;
  return made[0];
}
// A dictionary argument: undefined and null are empty (nothing inherited is read), anything else must be an object.
function dictionary (init, what) {
  if (init === undefined || init === null) return { __proto__: null };
  if (typeof init !== 'object' && typeof init !== 'function') throw new NativeTypeError(what + ': the options must be an object');
  return init;
}

// Response
const responseStates = new NativeWeakMap();
function responseOf (self) { return stateOf(responseStates, self, 'Response'); }
function isNullBodyStatus (status) { return status === 101 || status === 103 || status === 204 || status === 205 || status === 304; }
function isRedirectStatus (status) { return status === 301 || status === 302 || status === 303 || status === 307 || status === 308; }
function makeResponse (self, status, statusText, headers, bytes, type, url, stream = null) {
  weakSet(responseStates, self, { __proto__: null, status, statusText, headers, type, url });
  weakSet(bodies, self, newBody(bytes, stream));
  return self;
}
// Status, status text and headers from init, then the body (with its content type unless init set one).
function initializeResponse (self, init, extracted) {
  const options = dictionary(init, 'Response');
  const status = options.status === undefined ? 200 : (+options.status) & 0xffff;
  if (status < 200 || status > 599) throw new NativeRangeError('Response: status ' + status + ' is not in the range 200 to 599');
  const statusText = options.statusText === undefined ? '' : toByteString(options.statusText, 'Response: statusText');
  for (let i = 0; i < statusText.length; i++) {
    const c = codeUnitAt(statusText, i);
    if (c !== 0x09 && (c < 0x20 || c === 0x7f)) throw new NativeTypeError('Response: statusText is not a valid reason phrase');
  }
  const made = newHeaders();
  fillHeaders(made[1], options.headers);
  let bytes = null, stream = null;
  if (extracted !== undefined) {
    if (isNullBodyStatus(status)) throw new NativeTypeError('Response: a response with status ' + status + ' cannot have a body');
    bytes = extracted[0];
    stream = extracted[2];
    if (extracted[1] !== null && !headerHas(made[1], 'content-type')) append(made[1].list, ['content-type', extracted[1]]);
  }
  return makeResponse(self, status, statusText, made[0], bytes, 'default', '', stream);
}
function immutableHeaders (pairs) {
  const made = newHeaders();
  for (let i = 0; i < pairs.length; i++) append(made[1].list, pairs[i]);
  made[1].guard = 'immutable';
  return made[0];
}
class Response {
  constructor (body = null, init = undefined) {
    initializeResponse(this, init, body === null || body === undefined ? undefined : extractBody(body));
  }
  static error () { return makeResponse(objectCreate(Response.prototype), 0, '', immutableHeaders([]), null, 'error', ''); }
  static redirect (url, status = 302) {
    need(arguments.length, 1, 'Response.redirect');
    const input = toUSV(url), parts = parseUrl(input, undefined);
    if (parts === undefined) throw invalidUrl(input);
    const code = (+status) & 0xffff;
    if (!isRedirectStatus(code)) throw new NativeRangeError('Response.redirect: ' + code + ' is not a redirect status');
    return makeResponse(objectCreate(Response.prototype), code, '', immutableHeaders([['location', parts[kHref]]]), null, 'default', '');
  }
  static json (data, init = undefined) {
    need(arguments.length, 1, 'Response.json');
    const text = jsonStringify(data);
    if (text === undefined) throw new NativeTypeError('Response.json: the data cannot be turned into JSON');
    return initializeResponse(objectCreate(Response.prototype), init, [encodeUtf8(text), 'application/json']);
  }
  get type () { return responseOf(this).type; }
  get url () { return responseOf(this).url; }
  get redirected () { responseOf(this); return false; }
  get status () { return responseOf(this).status; }
  get ok () { const status = responseOf(this).status; return status >= 200 && status <= 299; }
  get statusText () { return responseOf(this).statusText; }
  get headers () { return responseOf(this).headers; }
  clone () {
    const state = responseOf(this), body = cloneBody(this, 'Response');
    return makeResponse(objectCreate(Response.prototype), state.status, state.statusText, copyHeaders(state.headers), body.bytes, state.type, state.url, body.stream);
  }
}
bodyMixin(Response);
tag(Response, 'Response');
define('Response', Response);

// Request
const requestStates = new NativeWeakMap();
function requestOf (self) { return stateOf(requestStates, self, 'Request'); }
const kNormalizedMethods = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];
function requestMethod (value) {
  const method = toByteString(value, 'Request: method');
  if (!isToken(method)) throw new NativeTypeError('Request: "' + method + '" is not a valid method');
  const upper = toUpperCase(method);
  if (upper === 'CONNECT' || upper === 'TRACE' || upper === 'TRACK') throw new NativeTypeError('Request: method ' + method + ' is forbidden');
  for (let i = 0; i < kNormalizedMethods.length; i++) if (kNormalizedMethods[i] === upper) return upper;
  return method;
}
// A new signal that aborts when parent does (or at once, when it already has).
function followingSignal (parent) {
  const signal = newSignal();
  if (parent === null) return signal;
  const state = signalState(parent);
  if (state.aborted) abortSignal(signal, state.reason);
  else append(state.algorithms, () => abortSignal(signal, state.reason));
  return signal;
}
class Request {
  constructor (input, init = undefined) {
    need(arguments.length, 1, 'Request');
    const options = dictionary(init, 'Request');
    const source = typeof input === 'object' && input !== null ? weakGet(requestStates, input) : undefined;
    let url, method = 'GET', headers, parent = null, redirect = 'follow', sourceBody;
    if (source === undefined) {
      const text = toUSV(input), parts = parseUrl(text, undefined);
      if (parts === undefined) throw invalidUrl(text);
      if (parts[kUsername] !== '' || parts[kPassword] !== '') throw new NativeTypeError('Request: the URL holds credentials: ' + text);
      url = parts[kHref];
    } else {
      url = source.url; method = source.method; headers = source.headers; parent = source.signal; redirect = source.redirect;
      sourceBody = weakGet(bodies, input);
    }
    if (options.method !== undefined) method = requestMethod(options.method);
    if (options.signal !== undefined) {
      if (options.signal !== null && signalState(options.signal) === undefined) throw new NativeTypeError('Request: signal is not an AbortSignal');
      parent = options.signal;
    }
    if (options.redirect !== undefined) {
      redirect = NativeString(options.redirect);
      if (redirect !== 'follow' && redirect !== 'error' && redirect !== 'manual') throw new NativeTypeError('Request: redirect must be "follow", "error" or "manual"');
    }
    const made = newHeaders();
    fillHeaders(made[1], options.headers !== undefined ? options.headers : headers);
    let bytes = null, stream = null;
    const hasSourceBody = sourceBody !== undefined && (sourceBody.bytes !== null || sourceBody.stream !== null || sourceBody.used) && options.body == null;
    if ((options.body != null || hasSourceBody) && (method === 'GET' || method === 'HEAD')) throw new NativeTypeError('Request: a ' + method + ' request cannot have a body');
    if (options.body != null) {
      const extracted = extractBody(options.body);
      bytes = extracted[0];
      stream = extracted[2];
      if (extracted[1] !== null && !headerHas(made[1], 'content-type')) append(made[1].list, ['content-type', extracted[1]]);
    } else if (hasSourceBody) {
      if (isUnusable(sourceBody)) throw new NativeTypeError('Request: the body of the request given has already been read');
      bytes = sourceBody.bytes;
      stream = sourceBody.stream;
      sourceBody.used = true;
      sourceBody.bytes = null;
    }
    weakSet(requestStates, this, { __proto__: null, url, method, headers: made[0], signal: followingSignal(parent), redirect });
    weakSet(bodies, this, newBody(bytes, stream));
  }
  get method () { return requestOf(this).method; }
  get url () { return requestOf(this).url; }
  get headers () { return requestOf(this).headers; }
  get signal () { return requestOf(this).signal; }
  get redirect () { return requestOf(this).redirect; }
  clone () {
    const state = requestOf(this), body = cloneBody(this, 'Request'), copy = objectCreate(Request.prototype);
    weakSet(requestStates, copy, { __proto__: null, url: state.url, method: state.method, headers: copyHeaders(state.headers), signal: followingSignal(state.signal), redirect: state.redirect });
    weakSet(bodies, copy, body);
    return copy;
  }
}
bodyMixin(Request);
tag(Request, 'Request');
define('Request', Request);

// fetch: the request's headers cross as a JSON object (one name, one value: repeated names joined with ", ").
function headersJson (headers) {
  const pairs = sortedHeaders(headersOf(headers)), record = { __proto__: null };
  for (let i = 0; i < pairs.length; i++) {
    const name = pairs[i][0];
    createDataProperty(record, name, hasOwn(record, name) ? record[name] + ', ' + pairs[i][1] : pairs[i][1]);
  }
  return jsonStringify(record);
}
// A Response from the host's [status, headersJson, body]: headers immutable, as a fetched response's are.
function fetchedResponse (value, url) {
  const status = value[0], record = jsonParse(value[1]), pairs = [];
  const keys = objectKeys(record);
  for (let i = 0; i < keys.length; i++) append(pairs, [toLowerCase(keys[i]), NativeString(record[keys[i]])]);
  const bytes = isNullBodyStatus(status) ? null : value[2];
  return makeResponse(objectCreate(Response.prototype), status, '', immutableHeaders(pairs), bytes === null ? null : copyIfShared(bytes), 'basic', url);
}
function copyIfShared (bytes) {
  return typedByteOffset(bytes) === 0 && typedByteLength(bytes) === bufferByteLength(typedBuffer(bytes)) ? bytes : copyBytes(bytes);
}
function fetch (input, init = undefined) {
  return new NativePromise((resolve, reject) => {
    need(arguments.length, 1, 'fetch');
    const request = new Request(input, init);
    const state = requestOf(request), body = weakGet(bodies, request), signal = signalState(state.signal);
    if (signal.aborted) { reject(signal.reason); return; }
    if (state.redirect !== 'follow') throw new NativeTypeError('fetch: redirect "' + state.redirect + '" is not supported (redirects are always followed)');
    const bytes = body.bytes, stream = body.stream;
    if (bytes !== null || stream !== null) { body.used = true; body.bytes = null; }
    let settled = false;
    const fail = (error) => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    append(signal.algorithms, () => fail(signal.reason));
    const send = (bytes) => {
      if (settled) return;
      try {
        startFetch(state.url, state.method, headersJson(state.headers), bytes === null ? undefined : bytes, (value) => {
          if (settled) return;
          settled = true;
          resolve(fetchedResponse(value, state.url));
        }, (error) => {
          const failure = new NativeTypeError('fetch failed');
          defineProperty(failure, 'cause', { __proto__: null, value: error, writable: true, configurable: true });
          fail(failure);
        });
      } catch (error) {
        fail(error);
      }
    };
    if (stream === null) send(bytes);
    else readThen(stream, send, fail);
  });
}
// The host takes a request's body whole: a stream is read to its end first.
async function readThen (stream, onBytes, onError) {
  let bytes;
  try {
    bytes = await streams().readAll(stream, 'fetch');
  } catch (error) {
    onError(error);
    return;
  }
  onBytes(bytes);
}
define('fetch', fetch);
`;
