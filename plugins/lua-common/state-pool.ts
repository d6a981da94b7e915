import { SparePool } from '../common/spare-pool.ts';

/** A Lua state with its libraries and prelude, no function yet. */
export interface PreparedLuaState {
  /** Loads the function's wrapped chunk and sets its memory budget; once per state. May throw ERR_COMPILE. */
  bind (wrappedChunk: Uint8Array, memoryBudgetBytes: number): void;
  close (): void;
}

/** A prepared state does not depend on the budget (bind sets it): one spare serves every budget. */
const kAnyBudget = 0;

/**
 * The spare prepared Lua state of one plugin on this thread, so a cold start (a deploy's first
 * call, a restore after eviction) only loads the function's chunk. A state is handed to exactly one
 * function version and never comes back: no state is ever shared between functions. An idle spare
 * holds what a bound state holds minus the function's chunk (doc/lua.md).
 */
export class LuaStatePool<T extends PreparedLuaState> {
  readonly #pool: SparePool<T>;

  constructor (prepare: () => Promise<T>) {
    this.#pool = new SparePool({ prepare });
  }

  /**
   * A state bound to this function (the spare if one is ready, else one prepared now).
   * @throws {EngineError} ERR_COMPILE if the chunk does not load; that state is closed, never reused.
   */
  async bound (wrappedChunk: Uint8Array, memoryBudgetBytes: number): Promise<T> {
    const state = await this.#pool.take(kAnyBudget);
    try {
      state.bind(wrappedChunk, memoryBudgetBytes);
    } catch (error) {
      state.close();
      throw error;
    }
    return state;
  }

  /** Starts preparing the spare unless there is one (a deploy calls this, so its first call finds it). */
  warm (): void {
    this.#pool.warm(kAnyBudget);
  }

  /** Closes the spare; later calls still work but nothing is kept ready. */
  close (): void {
    this.#pool.close();
  }
}
