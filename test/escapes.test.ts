import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, EngineError, type LanguagePlugin } from '../engine/index.ts';
import { defaultPlugins } from '../dispatchers/cli/plugins.ts';
import { findToolchain } from '../plugins/wasm/toolchain.ts';
import { kEscapeAttempts } from './escapes/attempts.ts';

const toolchain = findToolchain();
const needsToolchain = new Set(['c', 'llvm']);

test('escape attempts fail with clear errors or find nothing', async (t) => {
  const plugins: LanguagePlugin[] = defaultPlugins();
  await using engine = await Engine.open({ plugins });
  for (const [index, attempt] of kEscapeAttempts.entries()) {
    await t.test(`${attempt.language}: ${attempt.attempt}`, { skip: needsToolchain.has(attempt.language) && 'missing' in toolchain ? toolchain.missing : !engine.languages.includes(attempt.language) ? `${attempt.language} is not loaded` : false }, async () => {
      const name = `escape-${index}`;
      if (attempt.before !== undefined && attempt.before.sameFunction !== true) {
        await engine.deploy(`${name}-other`, attempt.language, Buffer.from(attempt.before.source));
        const first = await engine.invoke(`${name}-other`, Buffer.from(''));
        assert.equal(first.ok, true, first.ok ? '' : first.error.message);
      }
      if (attempt.deployError !== undefined) {
        await assert.rejects(engine.deploy(name, attempt.language, Buffer.from(attempt.source), attempt.budget), (error: unknown) => error instanceof EngineError && error.code === 'ERR_COMPILE' && attempt.deployError!.test(error.message));
        return;
      }
      await engine.deploy(name, attempt.language, Buffer.from(attempt.source), attempt.budget);
      if (attempt.before?.sameFunction === true) await engine.invoke(name, Buffer.from(attempt.input ?? ''));
      const result = await engine.invoke(name, Buffer.from(attempt.input ?? ''));
      if (attempt.code !== undefined) {
        assert.equal(result.ok ? 'ok' : result.error.code, attempt.code, result.ok ? Buffer.from(result.output).toString().slice(0, 200) : result.error.message);
        if (attempt.message !== undefined) assert.match(result.ok ? '' : result.error.message, attempt.message);
      } else {
        assert.equal(result.ok ? Buffer.from(result.output).toString() : `${result.error.code}: ${result.error.message}`, attempt.output);
      }
    });
  }
  assert.equal((await engine.invoke('escape-0', Buffer.from(''))).ok, false, 'the engine still serves after every attempt');
});
