/**
 * The numbers that bound sm: what compile() accepts and what each piece of state costs against
 * `budget.memoryBytes`. Documented in doc/sm.md; change both together.
 */

/** Largest source compile() accepts, in bytes. */
export const kMaxSourceBytes = 2 ** 20;

/** Most instructions one program may have (labels, comments and blank lines do not count). */
export const kMaxInstructions = 65_536;

/** Longest compile() runs before it returns to the event loop, in milliseconds (a 1 MiB source takes ~100 ms here). */
export const kCompileSliceMs = 2;

/** Charge per operand stack slot and per heap cell: one float64. */
export const kCellBytes = 8;

/** Charge per call frame: a return address, rounded up to what a frame costs in a typical VM. */
export const kFrameBytes = 16;

/**
 * Instructions run between two clock checks. On the development VM performance.now() costs
 * ~90 ns and an instruction ~6–10 ns, so checking every 1,024 costs under 1% of run time while
 * a 2 ms slice returns past `endsAt` by ~6 µs (p50) to ~25 µs (p99). Measured against 256, 4,096
 * and 16,384 in doc/sm.md, "Performance".
 */
export const kClockCheckInstructions = 1024;

/** Extra clock-check fuel an instruction spends per byte it copies (`outs`, `outin`): 1/32. */
export const kCopyFuelShift = 5;

/** First capacities of the growable arrays: small, since most invocations are small. */
export const kInitialStackSlots = 64;
export const kInitialFrames = 16;
export const kInitialHeapCells = 64;
export const kInitialOutputBytes = 256;
