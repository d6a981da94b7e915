/**
 * The only imports a springbok wasm module may have. Anything else is refused at deploy, so a
 * function can reach nothing the engine did not decide to give it.
 */

/** springbok's own host functions (include/springbok.h and plugins/wasm/runtime/runtime.c). */
export const kSpringbokImports = ['output', 'log', 'fetch', 'read_input', 'done', 'memory_refused', 'fuel', 'suspend'] as const;

/** The WASI preview 1 calls wasi-libc makes for stdio, exit, clocks and randomness; see host-imports.ts for what each does. */
export const kWasiImports = ['fd_write', 'fd_close', 'fd_seek', 'fd_fdstat_get', 'proc_exit', 'environ_sizes_get', 'environ_get', 'args_sizes_get', 'args_get', 'clock_time_get', 'random_get'] as const;

export const kWasiModule = 'wasi_snapshot_preview1';
export const kSpringbokModule = 'springbok';

export function isAllowedImport (module: string, name: string): boolean {
  if (module === kSpringbokModule) return (kSpringbokImports as readonly string[]).includes(name);
  if (module === kWasiModule) return (kWasiImports as readonly string[]).includes(name);
  return false;
}
