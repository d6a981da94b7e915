import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Engine } from '../engine/index.ts';
import { jsPlugin } from '../plugins/js/index.ts';
import { quickjsPlugin } from '../plugins/quickjs/index.ts';
import { compatCases, kCompatLanguages, kKnownDifferences, runOnSpringbok, startLoopbackServer } from './workers-compat/cases.ts';

/**
 * The Workers compatibility suite: every Worker of test/workers-compat/ on both JavaScript engines
 * through the real in-process Engine, invoked as the socket invokes it, answers the same status,
 * headers and body on both and, unless it is a known difference, what workerd answered (the `.expected` files,
 * written by `experiments/workers-compat.ts --update-expected`). A known difference must still
 * differ: when springbok comes to match workerd, it moves into the equal set.
 */

const cases = await compatCases();

test('the suite has at least 15 Workers held to workerd\'s bytes, each with its expected output', async () => {
  const held = cases.filter((compatCase) => !(compatCase.name in kKnownDifferences));
  assert.ok(held.length >= 15, `only ${held.length} Workers`);
  for (const name of Object.keys(kKnownDifferences)) assert.ok(cases.some((compatCase) => compatCase.name === name), `no Worker ${name}.js`);
});

const loopback = await startLoopbackServer();
const engine = await Engine.open({ plugins: [jsPlugin(), quickjsPlugin()], netAllowPrivate: ['127.0.0.1'] });
after(async () => {
  await engine.close();
  await loopback[Symbol.asyncDispose]();
});

for (const compatCase of cases) {
  const known = kKnownDifferences[compatCase.name];
  test(`${compatCase.name}: the same bytes on js and quickjs, ${known === undefined ? 'and workerd\'s' : 'not workerd\'s (a known difference)'}`, async () => {
    const expected = await readFile(compatCase.expectedPath, 'utf8');
    const [js, quickjs] = await Promise.all(kCompatLanguages.map((language) => runOnSpringbok(engine, language, compatCase, loopback)));
    assert.equal(quickjs, js, 'quickjs and js differ');
    if (known === undefined) assert.equal(js, expected, 'springbok differs from workerd\'s answer');
    else assert.notEqual(js, expected, 'springbok now matches workerd: take it out of kKnownDifferences');
  });
}
