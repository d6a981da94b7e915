import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { newQuickJSWASMModuleFromVariant, newVariant, type QuickJSSyncVariant, type QuickJSWASMModule } from 'quickjs-emscripten-core';
import RELEASE_SYNC from '@jitl/quickjs-wasmfile-release-sync';
import { interruptTrampoline } from './interrupt-trampoline.ts';

/** The emscripten build's own initial memory (256 pages): a module's wasm memory can be no smaller. */
export const kMinMemoryBytes = 16 * 2 ** 20;
const kPageBytes = 65_536;
/** The build's own maximum memory (2 GiB, declared in its wasm): a larger budget is capped here rather than failing to instantiate. */
const kMaxPages = 32_768;

/** The raw exports a fiber enters through JSPI, and the frees it needs (pointers are wasm addresses). */
export interface RawQuickJs {
  /** QTS_Call(ctx, fn, this, argc, argv) → JSValue*, entered with WebAssembly.promising so the interrupt handler can suspend it. */
  readonly call: (ctx: number, fn: number, thisValue: number, argc: number, argv: number) => Promise<number>;
  /** QTS_ExecutePendingJob(rt, maxJobs, ctxOut) → JSValue* (exception or job count), promising like `call`. */
  readonly executePendingJobs: (rt: number, maxJobs: number, ctxOut: number) => Promise<number>;
  /**
   * QTS_Eval(ctx, code, codeLength, filename, detectModule, evalFlags) → JSValue* (the module's
   * namespace, or an exception), promising like `call`: a module's top-level code is sliced too.
   * `code` and `filename` are NUL-terminated UTF-8 in wasm memory.
   */
  readonly eval: (ctx: number, code: number, codeLength: number, filename: number, detectModule: number, evalFlags: number) => Promise<number>;
  readonly freeValue: (ctx: number, value: number) => void;
  readonly freeValueRuntime: (rt: number, value: number) => void;
  /** QTS_ResolveException(ctx, value) → the pending exception when `value` is JS_EXCEPTION, else 0. */
  readonly resolveException: (ctx: number, value: number) => number;
  readonly malloc: (bytes: number) => number;
  readonly free: (pointer: number) => void;
}

export interface LoadedQuickJs {
  readonly module: QuickJSWASMModule;
  readonly memory: WebAssembly.Memory;
  readonly raw: RawQuickJs;
}

let compiled: Promise<WebAssembly.Module> | undefined;

/** The release-sync build, compiled once per process (~0.5 MB of wasm). */
function compiledBuild (): Promise<WebAssembly.Module> {
  compiled ??= (async () => {
    const path = createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm');
    return WebAssembly.compile(await readFile(path));
  })();
  return compiled;
}

/**
 * A fresh QuickJS build instance (its own wasm memory, runtime list and malloc heap) for one
 * function version. The memory is created here, capped at `memoryBytes` (never less than the
 * build's 16 MiB: the plugin's memory rule), and can never grow past it: an allocation over the budget is a normal QuickJS
 * `out of memory` in the guest, and the host's memory is untouched; `growthRefused` hears of each
 * refusal (QuickJS sometimes cannot even allocate its error object and throws `null`, so the
 * message alone cannot tell). The interrupt import is replaced by {@link interruptTrampoline},
 * so `check` decides at every poll.
 */
export async function loadQuickJs (memoryBytes: number, check: () => number, suspend: () => Promise<number>, growthRefused: () => void): Promise<LoadedQuickJs> {
  const build = await compiledBuild();
  // The plugin's memory rule refuses budgets under the build's initial memory at deploy (index.ts).
  const pages = Math.min(kMaxPages, Math.ceil(memoryBytes / kPageBytes));
  const memory = new WebAssembly.Memory({ initial: kMinMemoryBytes / kPageBytes, maximum: pages });
  const interrupt = interruptTrampoline(check, suspend);
  const variant = newVariant(RELEASE_SYNC as unknown as QuickJSSyncVariant, {
    wasmMemory: memory,
    emscriptenModule: {
      instantiateWasm (imports: { a: Record<string, unknown> }, onSuccess: (instance: WebAssembly.Instance) => void) {
        // The build's imports are minified: "a"."i" is qts_host_interrupt_handler and "a"."k" is
        // emscripten_resize_heap. Check by their glue's text, so a new build fails loudly, not subtly.
        const { i: interruptImport, k: resizeHeap } = imports.a as Record<string, (...args: number[]) => unknown>;
        if (!String(interruptImport).includes('shouldInterrupt') || !String(resizeHeap).includes('.grow(')) {
          throw new Error('quickjs: the emscripten build does not have the expected interrupt and resize-heap imports');
        }
        imports.a.i = interrupt;
        // malloc asks for more memory here; a refusal means the function reached its memory budget.
        imports.a.k = (bytes: number): unknown => {
          const grown = resizeHeap!(bytes);
          if (grown !== true) growthRefused();
          return grown;
        };
        const instance = new WebAssembly.Instance(build, imports as WebAssembly.Imports);
        onSuccess(instance);
        return instance.exports;
      },
    } as never,
  });
  const module = await newQuickJSWASMModuleFromVariant(variant);
  const emscripten = (module.getFFI() as unknown as { module: Record<string, (...args: number[]) => number> }).module;
  const raw: RawQuickJs = {
    call: WebAssembly.promising(emscripten._QTS_Call!),
    executePendingJobs: WebAssembly.promising(emscripten._QTS_ExecutePendingJob!),
    eval: WebAssembly.promising(emscripten._QTS_Eval!),
    freeValue: emscripten._QTS_FreeValuePointer!,
    freeValueRuntime: emscripten._QTS_FreeValuePointerRuntime!,
    resolveException: emscripten._QTS_ResolveException!,
    malloc: emscripten._malloc!,
    free: emscripten._free!,
  };
  return { module, memory, raw };
}
