import { SparePool } from '../common/spare-pool.ts';
import type { IsolateGate } from './isolate-gate.ts';
import { IsolateInstance } from './isolate-instance.ts';

/**
 * Spare prepared isolates (context and prelude installed, no function yet), one per recently used
 * memory budget. Spares hold about 1 MB each (doc/js.md). A taken spare is replaced 20 ms later:
 * making an isolate blocks the engine's thread for ~2 ms and its context and prelude compete for the
 * cores with the cold start that took the spare (at once, that start's load went from ~1 to 4-11 ms).
 */
export function isolatePool (gate: IsolateGate, maxOutputBytes: number): SparePool<IsolateInstance> {
  return new SparePool({
    prepare: (memoryBytes) => IsolateInstance.prepare(memoryBytes, gate, maxOutputBytes),
    isUsable: (instance) => instance.state === 'prepared',
    refillDelayMs: 20,
  });
}
