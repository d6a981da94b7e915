import type { InvocationContext } from '../../engine/plugin.ts';
import { kRuntimeFuelExport } from '../wasm-common/instrument.ts';
import { hostImports, type FiberHost, type HostImports } from './host-imports.ts';
import { kNoContext, kNoFiber, kNoInput, type InstanceSnapshot, type InstanceState } from './instance-snapshot.ts';
import type { MemorySource } from './memory-pool.ts';

/** An instance serving one invocation: its memory, its entry point and its fuel counter. */
export interface LiveInstance extends InstanceState {
  /** `__sb_entry`, wrapped for JSPI. */
  readonly entry: (length: number) => Promise<unknown>;
  readonly fuelCounter: WebAssembly.Global | undefined;
  readonly host: HostImports;
}

/** Where a fiber gets its instance and gives it back (FunctionInstances). */
export interface InstanceSource {
  /** An instance in its initial state, its host functions serving this invocation. */
  acquire (input: Uint8Array, context: InvocationContext, fiber: FiberHost): LiveInstance;
  /** Takes an instance back once its invocation has an outcome and no stack of it is left. */
  release (instance: LiveInstance): void;
}

export interface FunctionInstancesOptions {
  readonly module: WebAssembly.Module;
  readonly snapshot: InstanceSnapshot;
  readonly maxOutputBytes: number;
  readonly memories: MemorySource;
  /** Counts the idle instances of all the plugin's sandboxes on this thread. */
  readonly idleCount: IdleInstanceCount;
}

/**
 * The idle instances every sandbox of one plugin keeps on one thread, capped: each holds a
 * WebAssembly.Memory, and a process can hold only ~13-16k of those at once (doc/c.md), while the
 * instance-memory ceiling may leave more C functions live than that. Past the cap an instance's
 * memory goes back to the pool and its function's next call makes a new instance, as before reuse.
 */
export class IdleInstanceCount {
  readonly #max: number;
  #count = 0;

  constructor (max = 2048) { this.#max = max; }

  /** Counts one more idle instance; false (nothing counted) at the cap. */
  tryAdd (): boolean {
    if (this.#count >= this.#max) return false;
    this.#count++;
    return true;
  }

  remove (): void { this.#count--; }
}

/**
 * The instances of one C/LLVM function on one thread (one sandbox). An invocation takes an idle
 * instance, or the one its function left in the memory pool when it was last closed (if the pool has
 * not needed that memory since), or a new one on a pooled memory (the first call, overlapping calls).
 * When it ends and its stack is gone, the instance is restored to the function's snapshot (memory
 * zeroed and its data image written back, mutable globals reset: instance-snapshot.ts) and kept for
 * the next invocation (one idle instance per function: what the instance-memory ceiling charges a C
 * function covers one; overlapping calls make more, and those go back to the pool), so a warm call skips creating an instance (~10-60 µs) and pays the restore
 * (~2 µs for 128 KiB). An instance whose memory grew cannot be restored: it is dropped, and the pool
 * drops its memory. close() leaves the idle instance, restored, in the pool (memory-pool.ts
 * retain), which zeroes a memory before anyone else gets it.
 */
export class FunctionInstances implements InstanceSource {
  readonly #options: FunctionInstancesOptions;
  #idle: LiveInstance | undefined;
  #closed = false;

  constructor (options: FunctionInstancesOptions) { this.#options = options; }

  acquire (input: Uint8Array, context: InvocationContext, fiber: FiberHost): LiveInstance {
    const idle = this.#idle;
    if (idle !== undefined) {
      this.#idle = undefined;
      this.#options.idleCount.remove();
      idle.host.rebind(input, context, fiber);
      return idle;
    }
    const { module, snapshot, maxOutputBytes, memories } = this.#options;
    // The pool keys what a closed sandbox left by its snapshot: only this artifact's sandboxes get it back.
    const retained = memories.reclaim(snapshot) as LiveInstance | undefined;
    if (retained !== undefined) {
      retained.host.rebind(input, context, fiber);
      return retained;
    }
    const memory = memories.acquire();
    try {
      const host = hostImports(memory, input, context, maxOutputBytes, fiber);
      const { exports } = new WebAssembly.Instance(module, host.imports);
      return {
        memory,
        globals: snapshot.globalsOf(exports),
        entry: WebAssembly.promising(exports.__sb_entry as (length: number) => void),
        fuelCounter: exports[kRuntimeFuelExport] as WebAssembly.Global | undefined,
        host,
      };
    } catch (error) {
      memories.release(memory);
      throw error;
    }
  }

  release (instance: LiveInstance): void {
    const { snapshot, memories } = this.#options;
    // Nothing of the invocation stays reachable from an idle instance.
    instance.host.rebind(kNoInput, kNoContext, kNoFiber);
    if (!snapshot.restore(instance)) memories.release(instance.memory);
    else if (this.#closed) memories.retain(instance.memory, snapshot, instance);
    else if (this.#idle !== undefined || !this.#options.idleCount.tryAdd()) memories.release(instance.memory);
    else this.#idle = instance;
  }

  /** The sandbox is closed (evicted, retired): its idle instance waits in the pool; instances still running follow when released. */
  close (): void {
    this.#closed = true;
    const { snapshot, memories } = this.#options;
    const idle = this.#idle;
    if (idle === undefined) return;
    this.#idle = undefined;
    this.#options.idleCount.remove();
    memories.retain(idle.memory, snapshot, idle);
  }
}
