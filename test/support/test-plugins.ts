import type { LanguagePlugin, SliceOutcome } from '../../engine/plugin.ts';
import { EngineError } from '../../engine/errors.ts';
import { smPlugin } from '../../plugins/sm/index.ts';

/** Every language the CLI's serve loads, as a pluginModule for Engine.open({workers}). */
export const kRealPlugins = { url: new URL('../../dispatchers/cli/plugins.ts', import.meta.url).href, export: 'defaultPlugins' };

/** The plugins of each scheduler thread in multi-core engine tests (pluginModule's export). */
export function threadTestPlugins (): LanguagePlugin[] {
  return [smPlugin(), faultyPlugin()];
}

/** The same without the faulty language: for tests of a restart that no longer loads it. */
export function threadSmPlugins (): LanguagePlugin[] {
  return [smPlugin()];
}

/**
 * A second language for engine tests, so they show the engine really is language-agnostic and
 * survives a faulty plugin. Its source is one word:
 *   "echo"    returns the input
 *   "throw"   run() throws (a plugin bug: the engine must report ERR_INTERNAL and go on)
 *   "wait"    parks once on a host promise that settles after 20 ms, then returns "waited"
 *   "no-start" instantiate() rejects
 *   "slow-start" instantiate() holds its thread for 20 ms before it returns (a plugin preparing an
 *             instance synchronously), then echoes
 *   "exit-thread" run() calls process.exit: on a scheduler thread that ends the thread (never use it
 *             on the test's own thread)
 *   "hang-thread" run() blocks its thread in native code (Atomics.wait with no timeout), as a plugin
 *             stuck in a C call would: only the watchdog can get the thread back (scheduler threads only)
 */
export function faultyPlugin (): LanguagePlugin {
  return {
    language: 'faulty',
    // A rule of its own, so tests see a plugin's minimum enforced (1 MiB, for a whole instance).
    memory: { scope: 'instance', minimumBytes: 2 ** 20 },
    async compile (source) {
      const word = Buffer.from(source).toString('utf8').trim();
      if (!['echo', 'throw', 'wait', 'no-start', 'slow-start', 'exit-thread', 'hang-thread'].includes(word)) throw new EngineError('ERR_COMPILE', `unknown word ${JSON.stringify(word)}`);
      return word;
    },
    async instantiate (artifact) {
      if (artifact === 'no-start') throw new Error('instance refused to start');
      if (artifact === 'slow-start') {
        const until = performance.now() + 20;
        while (performance.now() < until);
      }
      return {
        invoke (input) {
          let waited: Promise<void> | undefined;
          return {
            memoryBytes: input.byteLength,
            cancel () {},
            run (): SliceOutcome {
              if (artifact === 'throw') throw new Error('plugin bug');
              if (artifact === 'exit-thread') process.exit(3);
              if (artifact === 'hang-thread') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
              if (artifact === 'wait') {
                if (waited === undefined) {
                  waited = new Promise((resolve) => setTimeout(resolve, 20));
                  return { state: 'wait', until: waited };
                }
                return { state: 'done', output: Buffer.from('waited') };
              }
              return { state: 'done', output: input };
            },
          };
        },
        async close () {},
      };
    },
  };
}
