/**
 * The part of the WebAssembly JS API springbok uses, including JS Promise Integration (JSPI:
 * Suspending, promising), which Node 24 ships but TypeScript's libraries do not describe.
 */
declare namespace WebAssembly {
  /** Any function: wasm calls it with numbers and JavaScript values alike. */
  type HostFunction = (...args: never[]) => unknown;
  type ImportValue = HostFunction | Global | Memory | Table | Suspending;
  type Imports = Record<string, Record<string, ImportValue>>;
  type Exports = Record<string, HostFunction | Global | Memory | Table>;

  interface ModuleImportDescriptor { module: string, name: string, kind: 'function' | 'table' | 'memory' | 'global' }
  interface ModuleExportDescriptor { name: string, kind: 'function' | 'table' | 'memory' | 'global' }

  class Module {
    constructor (bytes: Uint8Array | ArrayBuffer);
    static imports (module: Module): ModuleImportDescriptor[];
    static exports (module: Module): ModuleExportDescriptor[];
  }
  class Instance {
    constructor (module: Module, imports?: Imports);
    readonly exports: Exports;
  }
  class Memory {
    constructor (descriptor: { initial: number, maximum?: number, shared?: boolean });
    readonly buffer: ArrayBuffer;
    grow (pages: number): number;
  }
  class Table {
    constructor (descriptor: { element: 'anyfunc' | 'externref', initial: number, maximum?: number });
  }
  class Global {
    constructor (descriptor: { value: string, mutable?: boolean }, value?: unknown);
    value: unknown;
  }
  class Suspending {
    constructor (fn: (...args: never[]) => unknown);
  }
  class RuntimeError extends Error {}
  class CompileError extends Error {}
  class LinkError extends Error {}
  function promising<A extends unknown[], R> (fn: (...args: A) => R): (...args: A) => Promise<R>;
  function compile (bytes: Uint8Array | ArrayBuffer): Promise<Module>;
  function instantiate (source: Uint8Array | ArrayBuffer | Module, imports?: Imports): Promise<unknown>;
  function validate (bytes: Uint8Array | ArrayBuffer): boolean;
}
