import type { Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import type { CompileOptions, LanguagePlugin, Sandbox } from '../../engine/plugin.ts';
import { compileFengari, isFengariArtifact, type FengariArtifact } from './compile.ts';
import { FengariSandbox } from './sandbox.ts';

/**
 * The `lua` language: Lua 5.3 on fengari (pure JavaScript), time-sliced by a count hook, with
 * springbok's own memory accounting (fengari has no allocator hook). See doc/lua.md.
 */
export function luaPlugin (): LanguagePlugin {
  return Object.freeze({
    language: 'lua',
    // One Lua state per function version: its globals and every invocation's coroutine, metered together.
    memory: { scope: 'instance' as const, minimumBytes: 64 * 1024, idleInstanceBytes: 400 * 1024 },
    async compile (source: Uint8Array, options: CompileOptions): Promise<FengariArtifact> {
      return compileFengari(source, options.signal);
    },
    async instantiate (artifact: unknown, budget: Budget): Promise<Sandbox> {
      if (!isFengariArtifact(artifact)) throw new EngineError('ERR_INTERNAL', 'lua: instantiate() was given an artifact that lua did not compile');
      return new FengariSandbox(artifact, budget);
    },
  });
}
