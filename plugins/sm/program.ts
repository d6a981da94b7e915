/** A string literal of a program, as bytes (for `outs`) and as text (for `log`, `fail`). */
export interface ProgramString {
  readonly bytes: Uint8Array;
  /** `bytes` decoded as UTF-8, invalid sequences replaced by U+FFFD. */
  readonly text: string;
}

/**
 * An assembled sm program: the artifact compile() returns. Structure of arrays, one entry per
 * instruction, so the interpreter reads two typed arrays and never a per-instruction object.
 * Shared by every sandbox and invocation of a function version, so nothing writes to it after
 * {@link makeProgram}: the object and its string table are frozen, and the typed arrays (which
 * cannot be frozen) are never handed outside plugins/sm.
 */
export interface Program {
  /** Opcode of each instruction (see `Op`), followed by one implicit `halt`. */
  readonly code: Int32Array;
  /**
   * Integer operand of each instruction: the target instruction index of a jump or `call`, the
   * string-table index of `outs`/`log`/`fail`. An Int32Array, not a float array, so the
   * interpreter's program counter stays a small integer and indexing with it stays cheap.
   */
  readonly args: Int32Array;
  /** The number of each `push` (0 for other instructions). */
  readonly literals: Float64Array;
  /** 1-based source line of each instruction, for trap messages. */
  readonly lines: Int32Array;
  readonly strings: readonly ProgramString[];
}

const kPrograms = new WeakSet<Program>();

/** Freezes and registers a program; only registered programs pass {@link isProgram}. */
export function makeProgram (program: Program): Program {
  Object.freeze(program.strings);
  for (const string of program.strings) Object.freeze(string);
  const frozen = Object.freeze(program);
  kPrograms.add(frozen);
  return frozen;
}

/** True when `value` is a program this module's assembler made (not a look-alike object). */
export function isProgram (value: unknown): value is Program {
  return typeof value === 'object' && value !== null && kPrograms.has(value as Program);
}
