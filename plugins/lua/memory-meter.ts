import { fengari } from './fengari-loader.ts';
import { walkLuaHeap, kSizes } from './heap-walk.ts';
import type { StringAndSlotMeter } from './meter-hub.ts';

const kLuaErrMem = 4; // LUA_ERRMEM: the error Lua itself raises when an allocation fails

/**
 * Memory accounting for one fengari state, which has no allocator hook (doc/lua.md, "Memory").
 *
 * Two numbers: `live`, the size of everything reachable from the state at the last walk of its
 * heap (see walkLuaHeap), and `allocated`, what was made since (strings and buffers by their
 * bytes, table slots and objects by calibrated sizes). live + allocated bounds what the state
 * holds from above, since garbage only makes it smaller. When it passes the budget, a new walk
 * finds what is really live; if that is still over, the allocation is refused with Lua's own
 * "not enough memory" error and the invocation is marked to fail with ERR_MEMORY_BUDGET.
 *
 * A walk runs after at least max(budget − live, budget / 16) bytes were allocated since the last
 * one, so walks stay rare (each costs time proportional to live data) and the state can hold at
 * most about budget + budget/16 before it is stopped. A buffer about to be allocated (a
 * concatenation, string.rep, a gsub result) is checked before its bytes exist.
 */
export class FengariMemoryMeter implements StringAndSlotMeter {
  /** The budget, in bytes. */
  readonly budgetBytes: number;
  /** Bytes live at the last walk. */
  liveBytes = 0;
  /** Bytes allocated since the last walk (an over-estimate: some of it is garbage already). */
  allocatedBytes = 0;
  /** Walks done so far (for benchmarks and tests). */
  walks = 0;
  /** Set when an allocation was refused; the fiber running then fails with ERR_MEMORY_BUDGET. */
  refused = false;
  /** Size of the refused allocation, for the message. */
  refusedBytes = 0;
  readonly #roots: () => unknown[];
  readonly #skip: WeakSet<object>;
  readonly #minWalkGapBytes: number;
  readonly #global: { id_counter: number };
  #lastObjectId: number;

  /**
   * @param roots what the walk starts from (the state's registry table and its threads).
   * @param skip the state's own objects (libraries, prelude), neither counted nor descended into.
   * @param global the state's fengari global_State, whose object counter tells how many tables,
   *   closures and threads were made.
   */
  constructor (budgetBytes: number, roots: () => unknown[], skip: WeakSet<object>, global: { id_counter: number }) {
    this.budgetBytes = budgetBytes;
    this.#roots = roots;
    this.#skip = skip;
    this.#global = global;
    this.#lastObjectId = global.id_counter;
    this.#minWalkGapBytes = Math.max(16 * 1024, Math.floor(budgetBytes / 16));
  }

  /** Upper estimate of what the state holds now, in bytes. */
  get estimateBytes (): number {
    return this.liveBytes + this.allocatedBytes;
  }

  chargeString (L: unknown, bytes: number): void {
    this.allocatedBytes += kSizes.string + bytes;
    if (this.allocatedBytes >= this.#walkGap()) this.#check(L, 0);
  }

  reserve (L: unknown, bytes: number): void {
    if (this.liveBytes + this.allocatedBytes + bytes > this.budgetBytes) this.#check(L, bytes);
  }

  chargeSlot (): void {
    this.allocatedBytes += kSizes.slot;
    // No walk from here: a slot is added in the middle of a table update. The count hook and the
    // next string check pick it up.
  }

  /**
   * Called from the count hook: charges the objects made since the last call and checks.
   * @throws a Lua memory error when the state is over its budget.
   */
  poll (L: unknown): void {
    const id = this.#global.id_counter;
    if (id !== this.#lastObjectId) {
      this.allocatedBytes += (id - this.#lastObjectId) * kSizes.table;
      this.#lastObjectId = id;
    }
    if (this.refused) this.#refuse(L, 0);
    if (this.allocatedBytes >= this.#walkGap()) this.#check(L, 0);
  }

  /** Walks the heap now and resets the estimate to what is live. Returns the live bytes. */
  walk (): number {
    this.walks++;
    this.liveBytes = walkLuaHeap(this.#roots(), this.#skip);
    this.allocatedBytes = 0;
    this.#lastObjectId = this.#global.id_counter;
    return this.liveBytes;
  }

  #walkGap (): number {
    const headroom = this.budgetBytes - this.liveBytes;
    return headroom > this.#minWalkGapBytes ? headroom : this.#minWalkGapBytes;
  }

  #check (L: unknown, pendingBytes: number): void {
    const live = this.walk();
    if (live + pendingBytes > this.budgetBytes) {
      this.refusedBytes = pendingBytes;
      this.#refuse(L, pendingBytes);
    }
  }

  #refuse (L: unknown, pendingBytes: number): never {
    this.refused = true;
    if (pendingBytes > this.refusedBytes) this.refusedBytes = pendingBytes;
    (fengari().ldo.luaD_throw as (L: unknown, status: number) => void)(L, kLuaErrMem);
    throw new Error('unreachable: luaD_throw returned');
  }
}
