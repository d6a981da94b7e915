import type { InstanceStats } from './executor.ts';
import type { FunctionVersion } from './function-version.ts';
import type { MemoryRule } from './plugin.ts';

/**
 * What a live sandbox of a language whose budget covers each invocation (c, llvm, sm) is charged:
 * it holds the compiled code and the plugin's bookkeeping, not the invocations' memory.
 */
export const kPerInvocationInstanceBytes = 256 * 1024;

/**
 * The live sandboxes of one executor, in least-recently-used order, and what they are charged
 * against the instance-memory ceiling: their memory budget when the budget covers the whole
 * instance (lua, lua54, js, quickjs), kPerInvocationInstanceBytes otherwise. A budget is what an
 * instance may grow to, so the charge errs on the side of evicting early.
 *
 * When a new sandbox takes the charged total past the ceiling, idle sandboxes are evicted, least
 * recently used first; busy ones are skipped and reconsidered as invocations end. An evicted
 * version keeps its compiled artifact: its next invocation instantiates it again (a restore).
 */
export class InstanceLedger {
  readonly #ceilingBytes: number;
  readonly #rules: ReadonlyMap<string, MemoryRule>;
  /** Versions with a live sandbox and their charge; Map order is use order, oldest first. */
  readonly #live = new Map<FunctionVersion, number>();
  #chargedBytes = 0;
  #evictions = 0;
  #restores = 0;

  constructor (ceilingBytes: number, rules: ReadonlyMap<string, MemoryRule>) {
    this.#ceilingBytes = ceilingBytes;
    this.#rules = rules;
  }

  /** An invocation of `version` starts: it becomes the most recently used. */
  used (version: FunctionVersion): void {
    const charge = this.#live.get(version);
    if (charge === undefined) return;
    this.#live.delete(version);
    this.#live.set(version, charge);
  }

  /** An evicted version is being instantiated again. */
  restoring (): void {
    this.#restores++;
  }

  /** `version`'s sandbox came to life: charge it, then make room if the total passed the ceiling. */
  started (version: FunctionVersion): void {
    if (this.#live.has(version)) return;
    const charge = this.#rules.get(version.record.language)?.scope === 'instance' ? version.record.budget.memoryBytes : kPerInvocationInstanceBytes;
    this.#live.set(version, charge);
    this.#chargedBytes += charge;
    this.evictIfOver();
  }

  /** `version`'s sandbox was closed or evicted. */
  ended (version: FunctionVersion): void {
    const charge = this.#live.get(version);
    if (charge === undefined) return;
    this.#live.delete(version);
    this.#chargedBytes -= charge;
  }

  /** Evicts idle sandboxes, least recently used first, until the total is under the ceiling or none is idle. */
  evictIfOver (): void {
    if (this.#chargedBytes <= this.#ceilingBytes) return;
    for (const version of [...this.#live.keys()]) {
      if (this.#chargedBytes <= this.#ceilingBytes) return;
      // evict() closes the sandbox and reports it through ended(), which takes its charge off.
      if (version.evict()) this.#evictions++;
    }
  }

  stats (): InstanceStats {
    return { live: this.#live.size, evictions: this.#evictions, restores: this.#restores, chargedBytes: this.#chargedBytes, ceilingBytes: this.#ceilingBytes };
  }
}
