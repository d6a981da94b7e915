import type { Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import type { CompileOptions, LanguagePlugin, Sandbox } from '../../engine/plugin.ts';
import { LuaStatePool } from '../lua-common/state-pool.ts';
import { compileFengari, isFengariArtifact, type FengariArtifact } from './compile.ts';
import { FengariState } from './lua-state.ts';
import { FengariSandbox } from './sandbox.ts';

/**
 * The `lua` language: Lua 5.3 on fengari (pure JavaScript), time-sliced by a count hook, with
 * springbok's own memory accounting (fengari has no allocator hook). Each deployed function's
 * state is taken prepared (libraries and prelude loaded) from a spare kept on this thread, so a
 * cold start only loads the function's chunk. See doc/lua.md.
 */
export function luaPlugin (): LanguagePlugin {
  const pool = new LuaStatePool(() => FengariState.prepare());
  return Object.freeze({
    language: 'lua',
    // One Lua state per function version: its globals and every invocation's coroutine, metered together.
    memory: { scope: 'instance' as const, minimumBytes: 64 * 1024, idleInstanceBytes: 400 * 1024 },
    async compile (source: Uint8Array, options: CompileOptions): Promise<FengariArtifact> {
      const artifact = compileFengari(source, options.signal);
      // Have a state ready for this function's first call.
      pool.warm();
      return artifact;
    },
    async instantiate (artifact: unknown, budget: Budget): Promise<Sandbox> {
      if (!isFengariArtifact(artifact)) throw new EngineError('ERR_INTERNAL', 'lua: instantiate() was given an artifact that lua did not compile');
      return FengariSandbox.create(artifact, budget, pool);
    },
    async close (): Promise<void> {
      pool.close();
    },
  });
}
