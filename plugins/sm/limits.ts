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
 * Instructions run between two clock checks. performance.now() costs ~25–40 ns here, an
 * instruction ~2–5 ns, so checking every 1024 keeps the check under ~1% of run time while a
 * slice overruns `endsAt` by a few microseconds at most (measured in doc/sm.md, "Performance").
 */
export const kClockCheckInstructions = 1024;

/** Extra clock-check fuel an instruction spends per byte it copies (`outs`, `outin`): 1/32. */
export const kCopyFuelShift = 5;

/** First capacities of the growable arrays: small, since most invocations are small. */
export const kInitialStackSlots = 64;
export const kInitialFrames = 16;
export const kInitialHeapCells = 64;
export const kInitialOutputBytes = 256;
