import type { Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import type { CompileOptions, LanguagePlugin, Sandbox } from '../../engine/plugin.ts';
import { LuaStatePool } from '../lua-common/state-pool.ts';
import { compileWasmoon, isWasmoonArtifact, type WasmoonArtifact } from './compile.ts';
import { WasmoonState } from './lua-state.ts';
import { WasmoonSandbox } from './sandbox.ts';

/**
 * The `lua54` language: Lua 5.4 (the C implementation) compiled to WebAssembly by wasmoon,
 * time-sliced by a count hook, with an exact memory limit through Lua's allocator. Each deployed
 * function gets its own wasm module, taken prepared (libraries and prelude loaded) from a spare
 * kept on this thread, so a cold start only loads the function's chunk. See doc/lua.md.
 */
export function lua54Plugin (): LanguagePlugin {
  const pool = new LuaStatePool(() => WasmoonState.prepare());
  return Object.freeze({
    language: 'lua54',
    // One Lua state per function version: its globals and every invocation's coroutine, counted by its allocator.
    memory: { scope: 'instance' as const, minimumBytes: 64 * 1024, idleInstanceBytes: 448 * 1024 },
    async compile (source: Uint8Array, options: CompileOptions): Promise<WasmoonArtifact> {
      const artifact = await compileWasmoon(source, options.signal);
      // Have a state ready for this function's first call.
      pool.warm();
      return artifact;
    },
    async instantiate (artifact: unknown, budget: Budget): Promise<Sandbox> {
      if (!isWasmoonArtifact(artifact)) throw new EngineError('ERR_INTERNAL', 'lua54: instantiate() was given an artifact that lua54 did not compile');
      return WasmoonSandbox.create(artifact, budget, pool);
    },
    async close (): Promise<void> {
      pool.close();
    },
  });
}
