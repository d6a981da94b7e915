import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchRoute } from '../../dispatchers/http/router.ts';

test('each function method maps to its action, with the name percent-decoded', () => {
  assert.deepEqual(matchRoute('POST', '/functions/hello'), { kind: 'invoke', name: 'hello' });
  assert.deepEqual(matchRoute('PUT', '/functions/hello'), { kind: 'deploy', name: 'hello' });
  assert.deepEqual(matchRoute('GET', '/functions/hello'), { kind: 'describe', name: 'hello' });
  assert.deepEqual(matchRoute('DELETE', '/functions/hello'), { kind: 'remove', name: 'hello' });
  assert.deepEqual(matchRoute('POST', '/functions/a.b_c-1'), { kind: 'invoke', name: 'a.b_c-1' });
  assert.deepEqual(matchRoute('POST', '/functions/caf%C3%A9%20x'), { kind: 'invoke', name: 'café x' });
  // Decoded but not validated here: the engine refuses such names with ERR_INVALID_ARGUMENT.
  assert.deepEqual(matchRoute('POST', '/functions/..%2Fetc'), { kind: 'invoke', name: '../etc' });
});

test('a method the resource does not have is 405 with the methods it has', () => {
  assert.deepEqual(matchRoute('PATCH', '/functions/hello'), { kind: 'method-not-allowed', allow: 'POST, PUT, GET, DELETE' });
  assert.deepEqual(matchRoute('get', '/functions/hello'), { kind: 'method-not-allowed', allow: 'POST, PUT, GET, DELETE' }, 'methods are case-sensitive (Node upper-cases known ones)');
  assert.deepEqual(matchRoute('POST', '/functions'), { kind: 'method-not-allowed', allow: 'GET' });
  assert.deepEqual(matchRoute('DELETE', '/healthz'), { kind: 'method-not-allowed', allow: 'GET, HEAD' });
});

test('the list, health and metrics endpoints', () => {
  assert.deepEqual(matchRoute('GET', '/functions'), { kind: 'list' });
  assert.deepEqual(matchRoute('GET', '/functions/'), { kind: 'list' });
  assert.deepEqual(matchRoute('GET', '/healthz'), { kind: 'health' });
  assert.deepEqual(matchRoute('HEAD', '/healthz'), { kind: 'health' });
  assert.deepEqual(matchRoute('GET', '/metrics'), { kind: 'metrics' });
});

test('anything else is not found, including names that do not decode', () => {
  for (const path of ['/', '/function/hello', '/functions//x', '/FUNCTIONS/hello', '/healthz/', '/metrics/x', '/functions/%E0%A4%A', '/functions/%ZZ', '']) {
    assert.deepEqual(matchRoute('GET', path), { kind: 'not-found' }, path);
  }
});

test('a path below a function\'s name invokes it, with that path (the Workers format answers it)', () => {
  assert.deepEqual(matchRoute('GET', '/functions/a/b'), { kind: 'invoke', name: 'a', path: '/b' });
  assert.deepEqual(matchRoute('GET', '/functions/hello/'), { kind: 'invoke', name: 'hello', path: '/' });
});

const kMethods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

// Found by this test: HEAD /healthz is answered, but a 405 on /healthz says `Allow: GET`.
test('a 405\'s Allow lists exactly the methods the path answers (doc/http.md)', () => {
  for (const path of ['/functions', '/functions/', '/functions/hello', '/healthz', '/metrics']) {
    const answered = kMethods.filter((method) => matchRoute(method, path).kind !== 'method-not-allowed');
    for (const method of kMethods) {
      const route = matchRoute(method, path);
      if (route.kind === 'method-not-allowed') assert.deepEqual(route.allow.split(', ').sort(), [...answered].sort(), `${method} ${path}`);
    }
  }
});
