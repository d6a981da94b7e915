import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyUsage, kDefaultBudget, resolveBudget, type Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';

/** Each numeric field's documented bounds (doc/budgets.md), written out here rather than read from the code. */
const kBounds: Readonly<Record<Exclude<keyof Budget, 'allowHosts' | 'allowInvoke' | 'kv'>, readonly [min: number, max: number]>> = {
  cpuMs: [1, 3_600_000],
  wallMs: [1, 3_600_000],
  memoryBytes: [64 * 1024, 16 * 2 ** 30],
  netRequests: [0, 1_000_000],
  netBytes: [0, 2 ** 40],
  netRateBytesPerSec: [0, 2 ** 40],
  invokeCalls: [0, 10_000],
  kvBytes: [0, 2 ** 40],
};

function refused (partial: unknown, message: RegExp): void {
  assert.throws(() => resolveBudget(partial as Partial<Budget>), (error: unknown) => {
    assert.ok(error instanceof EngineError);
    assert.equal(error.code, 'ERR_INVALID_ARGUMENT');
    assert.match(error.message, message);
    return true;
  });
}

test('no budget is the default budget; a partial one is filled from the defaults given', () => {
  assert.deepEqual(resolveBudget(undefined), kDefaultBudget);
  assert.deepEqual(resolveBudget({}), kDefaultBudget);
  assert.deepEqual(resolveBudget({ cpuMs: 50 }), { ...kDefaultBudget, cpuMs: 50 });
  const defaults = resolveBudget({ wallMs: 500, netRequests: 3 });
  assert.deepEqual(resolveBudget({ cpuMs: 7 }, defaults), { ...kDefaultBudget, wallMs: 500, netRequests: 3, cpuMs: 7 });
  assert.deepEqual(resolveBudget({ cpuMs: 7, allowHosts: undefined }), { ...kDefaultBudget, cpuMs: 7 }, 'a field set to undefined is a field not given');
});

test('every numeric field takes integers from its minimum to its maximum and nothing else, and the message names field and rule', () => {
  for (const [field, [min, max]] of Object.entries(kBounds)) {
    assert.equal(resolveBudget({ [field]: min })[field as keyof typeof kBounds], min, `${field} at its minimum`);
    assert.equal(resolveBudget({ [field]: max })[field as keyof typeof kBounds], max, `${field} at its maximum`);
    const rule = new RegExp(`^budget\\.${field} must be an integer from ${min} to ${max}: got `);
    for (const bad of [min - 1, max + 1, min + 0.5, Number.NaN, Number.POSITIVE_INFINITY, `${max}`, null, true, [min]]) {
      refused({ [field]: bad }, rule);
    }
  }
  refused({ cpuMs: 1.5 }, /got 1\.5$/);
  refused({ memoryBytes: '1MiB' }, /got "1MiB"$/);
});

test('a field that is not a budget field is refused by name, whatever the object inherits', () => {
  refused({ cpu: 5 }, /^budget\.cpu is not a budget field \(known: cpuMs, wallMs, memoryBytes, netRequests, netBytes, netRateBytesPerSec, allowHosts, invokeCalls, allowInvoke, kvBytes, kv\)$/);
  refused({ cpuMs: 5, wallms: 5 }, /^budget\.wallms is not a budget field/);
});

// Found by this test: `key in kDefaultBudget` also sees Object.prototype, so these keys are accepted and ignored.
test('keys Object.prototype has are not budget fields either', () => {
  for (const key of ['toString', 'constructor', 'hasOwnProperty', '__proto__']) refused(JSON.parse(`{"${key}": 1}`), new RegExp(`budget\\.${key} is not a budget field`));
});

test('allowHosts: at most 256 valid entries, lowercased; the first bad entry is named', () => {
  const hosts = Array.from({ length: 256 }, (_, index) => `Host${index}.Example:${1000 + index}`);
  const budget = resolveBudget({ allowHosts: hosts });
  assert.deepEqual(budget.allowHosts, hosts.map((host) => host.toLowerCase()));
  assert.deepEqual(resolveBudget({ allowHosts: [] }).allowHosts, []);
  refused({ allowHosts: [...hosts, 'one.more'] }, /^budget\.allowHosts must be a list of at most 256 entries: got 257 entries$/);
  refused({ allowHosts: 'example.com' }, /must be a list of at most 256 entries: got "example\.com"$/);
  refused({ allowHosts: ['ok.example', 'https://example.com/path', 'also bad'] }, /^budget\.allowHosts entry "https:\/\/example\.com\/path" is not "\[http:\/\/\|https:\/\/\]host\[:port\]"/);
  refused({ allowHosts: ['ok.example', 42] }, /entry 42 is not/);
});

test('a resolved budget is frozen and shares nothing with the caller\'s object', () => {
  const hosts = ['example.com'];
  const budget = resolveBudget({ allowHosts: hosts });
  hosts.push('late.example');
  assert.deepEqual(budget.allowHosts, ['example.com']);
  assert.ok(Object.isFrozen(budget) && Object.isFrozen(budget.allowHosts));
  assert.throws(() => { (budget as { cpuMs: number }).cpuMs = 1; }, TypeError);
});

test('emptyUsage is zero and a new object each time', () => {
  const usage = emptyUsage();
  assert.deepEqual(usage, { cpuMs: 0, memoryBytes: 0, netRequests: 0, netBytes: 0 });
  usage.cpuMs = 5;
  assert.equal(emptyUsage().cpuMs, 0);
});
