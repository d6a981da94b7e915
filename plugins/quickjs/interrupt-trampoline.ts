/**
 * QuickJS calls its interrupt handler (an import of the emscripten build) every ~10k interpreter
 * ticks. To time-slice a running function with JSPI, that import must be able to suspend the wasm
 * stack — but a `WebAssembly.Suspending` import suspends on *every* call, and a plain JavaScript
 * import cannot call a Suspending one (suspension may not cross JavaScript frames). So the handler is
 * this tiny wasm function, assembled here by hand, which calls a plain `check` import and only calls
 * the suspending import when `check` says the slice is over:
 *
 *   (func (export "interrupt") (param $rt i32) (result i32) (local $r i32)
 *     (local.set $r (call $check))
 *     (if (result i32) (i32.eq (local.get $r) (i32.const 2))
 *       (then (call $suspend))      ;; parks the stack; resumes with 0 (go on) or 1 (interrupt)
 *       (else (local.get $r))))     ;; 0: go on, 1: interrupt (uncatchable in the guest)
 *
 * Wasm-to-wasm calls between instances add no JavaScript frame, so the stack entered through
 * `WebAssembly.promising` can suspend here.
 */

/** What `check` returns. */
export const kGoOn = 0;
export const kInterrupt = 1;
export const kSuspend = 2;

const ascii = (text: string): number[] => [...text].map((c) => c.charCodeAt(0));

const kTrampolineBytes = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // type section: 0 = () -> i32, 1 = (i32) -> i32
  0x01, 10, 2, 0x60, 0, 1, 0x7f, 0x60, 1, 0x7f, 1, 0x7f,
  // import section: h.check and h.suspend, both type 0
  0x02, 23, 2, 1, ...ascii('h'), 5, ...ascii('check'), 0x00, 0, 1, ...ascii('h'), 7, ...ascii('suspend'), 0x00, 0,
  // function section: one function of type 1
  0x03, 2, 1, 1,
  // export section: "interrupt" = function 2
  0x07, 13, 1, 9, ...ascii('interrupt'), 0x00, 2,
  // code section
  0x0a, 21, 1, 19, 1, 1, 0x7f,
  0x10, 0, 0x22, 1, 0x41, 2, 0x46, 0x04, 0x7f, 0x10, 1, 0x05, 0x20, 1, 0x0b, 0x0b,
]);

let compiled: WebAssembly.Module | undefined;

/**
 * A new interrupt handler for one QuickJS module instance.
 * @param check called at every interrupt poll: {@link kGoOn}, {@link kInterrupt} or {@link kSuspend}.
 * @param suspend called when check said kSuspend; the stack stays parked until the promise settles with kGoOn or kInterrupt.
 */
export function interruptTrampoline (check: () => number, suspend: () => Promise<number>): WebAssembly.HostFunction {
  compiled ??= new WebAssembly.Module(kTrampolineBytes);
  const instance = new WebAssembly.Instance(compiled, { h: { check, suspend: new WebAssembly.Suspending(suspend) } });
  return instance.exports.interrupt as WebAssembly.HostFunction;
}
