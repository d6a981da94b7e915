import { SparePool } from '../common/spare-pool.ts';
import { QuickJsInstance } from './instance.ts';

/**
 * Spare prepared QuickJS instances (build instance, runtime, context, bridge and prelude; no
 * function yet), one per recently used memory budget. Preparing one is ~5 ms of work on the
 * engine's thread (measured), so a taken spare is replaced a little later (spare-pool.ts). An idle
 * spare holds ~0.25 MB of resident memory (16 MiB reserved, untouched; doc/js.md).
 * @param maxOutputBytes the engine's output limit (default 8 MiB), enforced in the guest before any copy.
 */
export function quickJsPool (maxOutputBytes?: number): SparePool<QuickJsInstance> {
  return new SparePool({ prepare: (memoryBytes) => QuickJsInstance.prepare(memoryBytes, maxOutputBytes) });
}
