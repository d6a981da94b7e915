import { SparePool } from '../common/spare-pool.ts';
import type { IsolateGate } from './isolate-gate.ts';
import { IsolateInstance } from './isolate-instance.ts';

/**
 * Spare prepared isolates (context and prelude installed, no function yet), one per recently used
 * memory budget. Spares hold about 1 MB each (doc/js.md).
 */
export function isolatePool (gate: IsolateGate, maxOutputBytes: number): SparePool<IsolateInstance> {
  return new SparePool({
    prepare: (memoryBytes) => IsolateInstance.prepare(memoryBytes, gate, maxOutputBytes),
    isUsable: (instance) => instance.state === 'prepared',
  });
}
