import { SparePool } from '../common/spare-pool.ts';
import { QuickJsInstance } from './instance.ts';

/**
 * Spare prepared QuickJS instances (build instance, runtime, context, bridge and prelude; no
 * function yet), one per recently used memory budget. Preparing one is ~5 ms of work on the
 * engine's thread (measured), which must not land inside the cold start that took the spare (its
 * invocation still has a few event-loop turns to go): a taken spare is replaced 20 ms later. An idle
 * spare holds ~0.25 MB of resident memory (16 MiB reserved, untouched; doc/js.md).
 * @param maxOutputBytes the engine's output limit (default 8 MiB), enforced in the guest before any copy.
 */
export function quickJsPool (maxOutputBytes?: number): SparePool<QuickJsInstance> {
  return new SparePool({ prepare: (memoryBytes) => QuickJsInstance.prepare(memoryBytes, maxOutputBytes), refillDelayMs: 20 });
}
