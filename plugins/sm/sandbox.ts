import type { Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import type { Fiber, InvocationContext, Sandbox } from '../../engine/plugin.ts';
import { SmFiber } from './interpreter.ts';
import type { Program } from './program.ts';

/**
 * An sm function ready to run: just the shared program and the budget, so instantiate() costs
 * one small object. Each invoke() gets its own stacks, heap and output in a new {@link SmFiber}.
 */
export class SmSandbox implements Sandbox {
  readonly #program: Program;
  readonly #memoryBytes: number;
  #closed = false;

  constructor (program: Program, budget: Budget) {
    this.#program = program;
    this.#memoryBytes = budget.memoryBytes;
  }

  /**
   * Starts an invocation; no instruction runs until the fiber's first run(). The fiber reads
   * `input` as it runs and does not copy it: the caller must not change it until the fiber ends.
   * @throws {EngineError} ERR_INTERNAL after {@link SmSandbox.close} (the engine must not do that).
   */
  invoke (input: Uint8Array, context: InvocationContext): Fiber {
    if (this.#closed) throw new EngineError('ERR_INTERNAL', 'sm: invoke() on a closed sandbox');
    return new SmFiber(this.#program, this.#memoryBytes, input, context);
  }

  /** Idempotent. Holds nothing to release beyond what the garbage collector takes back. */
  async close (): Promise<void> {
    this.#closed = true;
  }

  [Symbol.asyncDispose] (): Promise<void> {
    return this.close();
  }
}
