import type { Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import type { CompileOptions, LanguagePlugin, Sandbox } from '../../engine/plugin.ts';
import { compileSource } from './compile.ts';
import { isProgram, type Program } from './program.ts';
import { SmSandbox } from './sandbox.ts';

/**
 * The `sm` language: springbok's own stack machine, the reference plugin (language reference in
 * doc/sm.md). compile() assembles and checks the whole source up front, so a deploy that succeeds
 * runs; the program it returns is immutable and shared by every sandbox and invocation.
 */
export function smPlugin (): LanguagePlugin {
  return Object.freeze({
    language: 'sm',
    // Each invocation's stack slots, heap cells, call frames and output, charged before use.
    memory: { scope: 'invocation' as const, minimumBytes: 64 * 1024, idleInstanceBytes: 16 * 1024 },
    async compile (source: Uint8Array, options: CompileOptions): Promise<Program> {
      return compileSource(source, options.signal);
    },
    async instantiate (artifact: unknown, budget: Budget): Promise<Sandbox> {
      if (!isProgram(artifact)) throw new EngineError('ERR_INTERNAL', 'sm: instantiate() was given an artifact that sm did not compile');
      return new SmSandbox(artifact, budget);
    },
  });
}
