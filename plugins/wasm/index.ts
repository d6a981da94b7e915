import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Budget } from '../../engine/budget.ts';
import { EngineError } from '../../engine/errors.ts';
import { kDefaultOptions } from '../../engine/options.ts';
import type { CompileOptions, LanguagePlugin, Sandbox } from '../../engine/plugin.ts';
import { ArtifactCache } from './artifact-cache.ts';
import { buildModule, type SourceKind } from './build.ts';
import { instrument } from '../wasm-common/instrument.ts';
import { InstanceSnapshot } from './instance-snapshot.ts';
import { IdleInstanceCount } from './function-instances.ts';
import { MemoryPool } from './memory-pool.ts';
import { SharedModules, type CompiledModule } from './shared-modules.ts';
import { WasmSandbox } from './sandbox.ts';
import { kUnsafeUnjailedVariable } from './jail-probe.ts';
import { findToolchain, kProjectRoot } from './toolchain.ts';

export interface WasmPluginOptions {
  /** Time each compiler step may take, in ms. */
  readonly compileStepTimeoutMs?: number;
  /** Address space each compiler process may use, in bytes (RLIMIT_AS). Default 1 GiB. */
  readonly compileMemoryBytes?: number;
  /** Largest file a compiler step may write, in bytes (RLIMIT_FSIZE). Default 64 MiB. */
  readonly compileFileBytes?: number;
  /** Largest output an invocation may produce with sb_output, in bytes. */
  readonly maxOutputBytes?: number;
}

/** A compiled module and its snapshot on this thread (instance-snapshot.ts). */
interface WasmArtifact extends CompiledModule {
  readonly snapshot: InstanceSnapshot;
}

const kArtifacts = new WeakSet<WasmArtifact>();
const kPageBytes = 65536;

/**
 * Changes whenever what a build produces or accepts could change: the runtime, and this plugin's
 * own build, source filter, jail and instrumentation code (a cached module skips the source filter).
 */
const kBuildFingerprint = createHash('sha256')
  .update(['runtime/runtime.c', 'build.ts', 'compile-filter.ts', 'jail.ts', '../wasm-common/instrument.ts', '../wasm-common/wasm-bytes.ts'].map((file) => readFileSync(new URL(file, import.meta.url))).join('\0'))
  .update(readFileSync(`${kProjectRoot}include/springbok.h`))
  .digest('hex').slice(0, 16);

/** `c`: C source compiled with clang to wasm32, metered, run as fibers (doc/c.md). */
export function cPlugin (options: WasmPluginOptions = {}): LanguagePlugin {
  return wasmPlugin('c', options);
}

/** `llvm`: LLVM IR (.ll text or .bc bitcode) for wasm32, built and run like `c`. */
export function llvmPlugin (options: WasmPluginOptions = {}): LanguagePlugin {
  return wasmPlugin('llvm', options);
}

let warnedUnjailed = false;

function wasmPlugin (kind: SourceKind, options: WasmPluginOptions): LanguagePlugin {
  const stepTimeoutMs = options.compileStepTimeoutMs ?? 30_000;
  const maxOutputBytes = options.maxOutputBytes ?? kDefaultOptions.maxOutputBytes;
  // Read once at load, like the warning: a module built unjailed is never served to a jailed engine from the cache.
  const unjailed = process.env[kUnsafeUnjailedVariable] === '1';
  if (unjailed && !warnedUnjailed) {
    warnedUnjailed = true;
    process.emitWarning(`${kUnsafeUnjailedVariable}=1: C and LLVM functions are compiled WITHOUT the compiler jail; a function's source can read any file the engine can (.incbin, #include). Use only when every function is trusted.`, 'SpringbokWarning');
  }
  // Linear memories are shared by this plugin's functions (zeroed between users): see memory-pool.ts.
  const memories = new MemoryPool();
  // Live functions keep an idle instance each, up to a cap: see function-instances.ts.
  const idleCount = new IdleInstanceCount();
  // Compiled once per process, not once per thread: see shared-modules.ts.
  const modules = new SharedModules(`springbok-wasm-modules-${kind}`);
  return Object.freeze({
    language: kind,
    // A fresh linear memory per invocation; the examples' stack and data need 128 KiB (a module that needs more says so when run).
    memory: { scope: 'invocation' as const, minimumBytes: 128 * 1024, idleInstanceBytes: 160 * 1024 },
    async compile (source: Uint8Array, compileOptions: CompileOptions): Promise<WasmArtifact> {
      const cache = new ArtifactCache(compileOptions.cacheDir);
      const key = createHash('sha256').update(`${kind}\0${kBuildFingerprint}\0${unjailed ? 'unjailed' : 'jailed'}\0`).update(source).digest('hex');
      const compiled = modules.get(key);
      if (compiled !== undefined) return artifactOf(compiled);
      let linked = await cache.read(key);
      if (linked === undefined) {
        const found = findToolchain(unjailed ? process.env : { ...process.env, [kUnsafeUnjailedVariable]: undefined });
        if ('missing' in found) throw new EngineError('ERR_COMPILE', found.missing);
        linked = await buildModule(kind, source, found.toolchain, {
          timeoutMs: stepTimeoutMs, maxOutputBytes: 64 * 1024, signal: compileOptions.signal,
          ...(options.compileMemoryBytes !== undefined ? { memoryBytes: options.compileMemoryBytes } : {}),
          ...(options.compileFileBytes !== undefined ? { fileBytes: options.compileFileBytes } : {}),
        });
        await cache.write(key, linked);
      }
      const instrumented = instrument(linked);
      let module: WebAssembly.Module;
      try {
        module = await WebAssembly.compile(instrumented.bytes);
      } catch (error) {
        throw new EngineError('ERR_COMPILE', `the instrumented module does not validate: ${(error as Error).message}`);
      }
      const compiledModule = { module, minPages: instrumented.minPages };
      const artifact = artifactOf(compiledModule);
      modules.publish(key, compiledModule);
      return artifact;
    },
    async instantiate (artifact: unknown, budget: Budget): Promise<Sandbox> {
      if (!kArtifacts.has(artifact as WasmArtifact)) throw new EngineError('ERR_INTERNAL', `${kind}: instantiate() was given an artifact ${kind} did not compile`);
      const { module, minPages, snapshot } = artifact as WasmArtifact;
      const maxPages = Math.min(65536, Math.floor(budget.memoryBytes / kPageBytes));
      if (maxPages < minPages) {
        throw new EngineError('ERR_MEMORY_BUDGET', `the module needs ${minPages * 64} KiB of memory to start; the budget is ${Math.floor(budget.memoryBytes / 1024)} KiB`);
      }
      return new WasmSandbox({ module, snapshot, maxPages, maxOutputBytes, memories: memories.shape(minPages, maxPages), idleCount });
    },
    async close (): Promise<void> {
      memories.clear();
      modules.close();
    },
  });
}

/** The artifact of a module compiled here or taken from another thread: its snapshot is taken on this thread, once. */
function artifactOf (compiled: CompiledModule): WasmArtifact {
  let snapshot: InstanceSnapshot;
  try {
    snapshot = InstanceSnapshot.take(compiled.module, compiled.minPages);
  } catch (error) {
    throw new EngineError('ERR_COMPILE', `the module cannot be instantiated: ${(error as Error).message}`);
  }
  const artifact = Object.freeze({ module: compiled.module, minPages: compiled.minPages, snapshot });
  kArtifacts.add(artifact);
  return artifact;
}
