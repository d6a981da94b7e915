/*
 * Linked into every C and LLVM IR function springbok builds. It is the module's entry point and
 * the reason the fuel imports exist, so the instrumentation pass can call them without adding
 * imports (which would renumber every function).
 *
 * The imports below are internal: the instrumentation pass refuses a module in which anything but
 * the exported function named beside each (plugins/wasm/host-interface.ts) calls them, or in which
 * anything calls __sb_entry or __sb_fuel_imports. Guest code is linked with this file, so that
 * check is what keeps it from reporting `done` itself and running on.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define SB_IMPORT(name) __attribute__((import_module("springbok"), import_name(name)))

int handler(const char *input, size_t len);

SB_IMPORT("read_input") void __sb_read_input(void *into, size_t len);
SB_IMPORT("done") void __sb_done(int32_t status);
SB_IMPORT("memory_refused") void __sb_memory_refused(size_t bytes);
/* Fuel: `fuel` is a plain call that checks the clock and returns the next allowance, or 0 when the
 * slice is over; `suspend` is the JSPI-suspending call made only then. */
SB_IMPORT("fuel") int32_t __sb_fuel(void);
SB_IMPORT("suspend") int32_t __sb_suspend(void);

/* Runs one invocation: copies the input into guest memory, calls the handler, reports its status. */
__attribute__((export_name("__sb_entry"))) void __sb_entry(size_t len) {
  char *input = malloc(len + 1);
  if (input == NULL) {
    __sb_memory_refused(len + 1);
    __sb_done(-1);
    return;
  }
  __sb_read_input(input, len);
  input[len] = 0; /* a NUL after the bytes, for C string habits; len is the real length */
  __sb_done(handler(input, len));
}

/* Never called; exporting it keeps both fuel imports in the module for the instrumentation pass.
 * The unused parameter is there so the pass can find it behind wasm-ld's export wrapper (the call
 * that follows the wrapper's local.get). */
__attribute__((export_name("__sb_fuel_imports"))) int32_t __sb_fuel_imports(int32_t unused) {
  (void)unused;
  return __sb_fuel() + __sb_suspend();
}

/* Replaces libc's sbrk so that a growth refused by the memory budget is reported to the engine:
 * malloc still returns NULL, and an invocation that then fails is reported as ERR_MEMORY_BUDGET.
 * Exported (as __sb_sbrk) only so the instrumentation pass can tell it may call memory_refused; the
 * host never calls it, and checks each report against the memory's real size and limit. */
__attribute__((export_name("__sb_sbrk"))) void *sbrk(intptr_t increment) {
  uintptr_t old = __builtin_wasm_memory_size(0) * 65536;
  if (increment == 0) return (void *)old;
  if (increment < 0 || (increment & 65535) != 0) {
    errno = EINVAL;
    return (void *)-1;
  }
  if (__builtin_wasm_memory_grow(0, (uintptr_t)increment / 65536) == (uintptr_t)-1) {
    __sb_memory_refused((size_t)increment);
    errno = ENOMEM;
    return (void *)-1;
  }
  return (void *)old;
}
