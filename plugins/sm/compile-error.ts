import { EngineError } from '../../engine/errors.ts';

/** The error compile() throws: ERR_COMPILE with the 1-based source line first, e.g. `line 12: unknown instruction "pusj"`. */
export function compileError (line: number, problem: string): EngineError {
  return new EngineError('ERR_COMPILE', `line ${line}: ${problem}`);
}

/** A source word as messages show it: quoted, escaped, and cut short so a hostile line cannot flood a log. */
export function quote (text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
