/**
 * The only imports a springbok wasm module may have. Anything else is refused at deploy, so a
 * function can reach nothing the engine did not decide to give it.
 */

/** The host functions a function may call (include/springbok.h, doc/c.md). */
export const kGuestImports = ['output', 'log', 'fetch', 'invoke', 'kv_get', 'kv_put', 'kv_delete', 'kv_list'] as const;

/**
 * springbok's internal host functions, each with the runtime functions (named by their export in
 * plugins/wasm/runtime/runtime.c) that alone may call it. Guest code is linked into the same module
 * as the runtime and can declare these imports (or the runtime's symbols) itself, so the
 * instrumentation pass checks every call site after linking (plugins/wasm-common/instrument.ts):
 * `done` twice, or code running after `done`, is how a function could keep running with no
 * invocation behind it.
 */
export const kRuntimeImportCallers: Readonly<Record<string, readonly string[]>> = Object.freeze({
  read_input: ['__sb_entry'],
  done: ['__sb_entry'],
  memory_refused: ['__sb_entry', '__sb_sbrk'],
  fuel: ['__sb_fuel_imports'],
  suspend: ['__sb_fuel_imports'],
});

/**
 * Runtime entry points that only the host may call: nothing in the module may call them, take
 * their address (table elements, ref.func), or the invocation protocol could be re-entered.
 */
export const kHostOnlyExports = ['__sb_entry', '__sb_fuel_imports'] as const;

/** Every springbok import, guest-visible and internal. */
export const kSpringbokImports = [...kGuestImports, ...Object.keys(kRuntimeImportCallers)] as readonly string[];

/** The WASI preview 1 calls wasi-libc makes for stdio, exit, clocks and randomness; see host-imports.ts for what each does. */
export const kWasiImports = ['fd_write', 'fd_close', 'fd_seek', 'fd_fdstat_get', 'proc_exit', 'environ_sizes_get', 'environ_get', 'args_sizes_get', 'args_get', 'clock_time_get', 'random_get'] as const;

export const kWasiModule = 'wasi_snapshot_preview1';
export const kSpringbokModule = 'springbok';

/**
 * What a host call costs in fuel (the units of plugins/wasm-common/instrument.ts: one per loop
 * iteration or call, a few ns each): a fixed part for the call, and one unit per byte it reads,
 * writes or decodes. A call that handles more bytes than one allowance (fiber.ts kFuelPerCheck)
 * therefore makes the next check read the clock, and a loop of host calls ends its slice on time
 * like any other loop.
 */
export const kHostCallFuel = 100;

export function isAllowedImport (module: string, name: string): boolean {
  if (module === kSpringbokModule) return kSpringbokImports.includes(name);
  if (module === kWasiModule) return (kWasiImports as readonly string[]).includes(name);
  return false;
}

/** The runtime functions allowed to call `module.name`, or undefined when any code may (a guest-visible import). */
export function runtimeCallersOf (module: string, name: string): readonly string[] | undefined {
  return module === kSpringbokModule && Object.hasOwn(kRuntimeImportCallers, name) ? kRuntimeImportCallers[name] : undefined;
}
