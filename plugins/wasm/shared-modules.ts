import { BroadcastChannel } from 'node:worker_threads';

/** A compiled, instrumented module and the memory it needs to start. */
export interface CompiledModule {
  readonly module: WebAssembly.Module;
  readonly minPages: number;
}

/** Modules kept for other threads' first use; the oldest go first. */
const kMaxModules = 256;

/**
 * Compiled modules shared by every thread of the process, by build key (the hash of the language,
 * the build's fingerprint and the source). Each scheduler thread compiles a function the first time
 * it is sent one; from the artifact cache that still costs ~40-70 ms for a C function (instrumenting
 * and compiling the module), which the first burst of concurrent calls after a deploy waits for.
 * A `WebAssembly.Module` posted to another thread shares its compiled code, so the thread that
 * compiles a module broadcasts it and the others take it from here instead of compiling again.
 *
 * Whoever posts on the channel is this process's own code (functions have no Node APIs), and keys
 * are content hashes, so engines sharing a process share modules safely; a message of the wrong
 * shape is ignored.
 */
export class SharedModules {
  readonly #modules = new Map<string, CompiledModule>();
  readonly #channel: BroadcastChannel;

  constructor (name: string) {
    this.#channel = new BroadcastChannel(name);
    this.#channel.unref();
    this.#channel.onmessage = (event: unknown) => {
      const data = (event as { data?: unknown }).data as { key?: unknown, module?: unknown, minPages?: unknown } | undefined;
      if (typeof data?.key !== 'string' || !(data.module instanceof WebAssembly.Module)) return;
      if (typeof data.minPages !== 'number' || !Number.isInteger(data.minPages) || data.minPages < 0 || data.minPages > 65536) return;
      this.#keep(data.key, { module: data.module, minPages: data.minPages });
    };
  }

  /** A module another thread (or this one) compiled from the same build key. */
  get (key: string): CompiledModule | undefined {
    return this.#modules.get(key);
  }

  /** Keeps a module compiled here and offers it to the other threads. */
  publish (key: string, compiled: CompiledModule): void {
    this.#keep(key, compiled);
    this.#channel.postMessage({ key, module: compiled.module, minPages: compiled.minPages });
  }

  close (): void {
    this.#channel.close();
    this.#modules.clear();
  }

  #keep (key: string, compiled: CompiledModule): void {
    this.#modules.delete(key);
    this.#modules.set(key, compiled);
    if (this.#modules.size > kMaxModules) this.#modules.delete(this.#modules.keys().next().value!);
  }
}
