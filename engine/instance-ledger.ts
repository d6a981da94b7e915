import type { InstanceStats } from './executor.ts';
import type { FunctionVersion } from './function-version.ts';
import type { MemoryRule } from './plugin.ts';

/** What a sandbox is charged when its plugin does not say what an idle instance holds. */
export const kDefaultIdleInstanceBytes = 256 * 1024;

/**
 * The live sandboxes of one executor, in least-recently-used order, and what they are charged
 * against the instance-memory ceiling: what an idle instance of the language holds (the plugin's
 * measured `idleInstanceBytes`), plus, where the memory budget covers the whole instance (lua,
 * lua54, js, quickjs), whatever its invocations reported above the language's minimum (a function
 * whose state grew to 40 MiB is charged for it). Not a budget: most instances never come near
 * theirs, and charging budgets would evict a machine's worth of idle functions too early.
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
    const charge = this.#rules.get(version.record.language)?.idleInstanceBytes ?? kDefaultIdleInstanceBytes;
    this.#live.set(version, charge);
    this.#chargedBytes += charge;
    this.evictIfOver();
  }

  /**
   * An invocation of `version` reported `memoryBytes`: for a language whose budget covers the whole
   * instance that is the instance's memory, and what it holds above the language's minimum is
   * added to its charge (the charge only grows: an instance keeps what its heap grew to).
   */
  measured (version: FunctionVersion, memoryBytes: number): void {
    const charge = this.#live.get(version);
    const rule = this.#rules.get(version.record.language);
    if (charge === undefined || rule?.scope !== 'instance') return;
    const grown = (rule.idleInstanceBytes ?? kDefaultIdleInstanceBytes) + Math.max(0, memoryBytes - rule.minimumBytes);
    if (grown <= charge) return;
    this.#live.set(version, grown);
    this.#chargedBytes += grown - charge;
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
