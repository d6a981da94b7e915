import { compileError, quote } from './compile-error.ts';
import { kMaxInstructions } from './limits.ts';
import { parseNumberLiteral } from './literals.ts';
import { kInstructions, Op } from './opcodes.ts';
import { makeProgram, type Program, type ProgramString } from './program.ts';
import { closestName } from './suggest.ts';
import { tokenizeLine, type Token } from './tokenize-line.ts';

const kLabelName = /^[A-Za-z_.][A-Za-z0-9_.]*$/;
const kLabelRule = '(letters, digits, _ and ., not starting with a digit)';
const kDecoder = new TextDecoder();

/** A jump or call to a label not defined yet: patched when the label is. */
interface ForwardReference {
  readonly instruction: number;
  readonly line: number;
}

/**
 * Turns sm source into a {@link Program}, one line at a time (so the caller can pause between
 * lines): {@link Assembler.addLine} checks each line and resolves labels as they become known,
 * {@link Assembler.finish} reports any label never defined and appends an implicit `halt`, so
 * running off the end finishes the invocation.
 */
export class Assembler {
  readonly #code: number[] = [];
  readonly #args: number[] = [];
  readonly #literals: number[] = [];
  readonly #lines: number[] = [];
  readonly #strings: ProgramString[] = [];
  readonly #labels = new Map<string, { instruction: number, line: number }>();
  readonly #forwardReferences = new Map<string, ForwardReference[]>();

  /**
   * Assembles one source line (without its line terminator).
   * @param lineNumber 1-based, for messages.
   * @throws {EngineError} ERR_COMPILE saying what is wrong with the line.
   */
  addLine (line: string, lineNumber: number): void {
    const tokens = tokenizeLine(line, lineNumber);
    let next = 0;
    for (let token = tokens[next]; token?.kind === 'word' && token.text.endsWith(':'); token = tokens[++next]) {
      this.#defineLabel(token.text.slice(0, -1), lineNumber);
    }
    const mnemonic = tokens[next];
    if (mnemonic === undefined) return;
    if (mnemonic.kind !== 'word') throw compileError(lineNumber, 'expected an instruction, found a string literal');
    const spec = kInstructions.get(mnemonic.text);
    if (spec === undefined) {
      const hint = mnemonic.text.includes(':') ? ' (put a space after a label\'s colon)' : didYouMean(mnemonic.text, kInstructions.keys());
      throw compileError(lineNumber, `unknown instruction ${quote(mnemonic.text)}${hint}`);
    }
    if (this.#code.length === kMaxInstructions) throw compileError(lineNumber, `too many instructions (the limit is ${kMaxInstructions})`);
    const operand = tokens[next + 1];
    if (tokens.length > next + 2) throw compileError(lineNumber, `unexpected ${describe(tokens[next + 2])} after ${mnemonic.text}'s operand (one instruction per line)`);

    let arg = 0;
    let literal = 0;
    switch (spec.operand) {
      case 'none':
        if (operand !== undefined) throw compileError(lineNumber, `${mnemonic.text} takes no operand, found ${describe(operand)}`);
        break;
      case 'number': {
        if (operand?.kind !== 'word') throw compileError(lineNumber, `${mnemonic.text} needs a number literal, found ${describe(operand)}`);
        const number = parseNumberLiteral(operand.text);
        if (number === undefined) throw compileError(lineNumber, `bad number literal ${quote(operand.text)} (e.g. 42, -7, 2.5, 1e6, 0xff; finite values only)`);
        literal = number;
        break;
      }
      case 'label':
        if (operand?.kind !== 'word') throw compileError(lineNumber, `${mnemonic.text} needs a label name, found ${describe(operand)}`);
        if (!kLabelName.test(operand.text)) throw compileError(lineNumber, `bad label name ${quote(operand.text)} ${kLabelRule}`);
        arg = this.#labelTarget(operand.text, lineNumber);
        break;
      case 'string':
        if (operand?.kind !== 'string') throw compileError(lineNumber, `${mnemonic.text} needs a string literal in double quotes, found ${describe(operand)}`);
        arg = this.#strings.length;
        this.#strings.push({ bytes: operand.bytes, text: kDecoder.decode(operand.bytes) });
        break;
    }
    this.#code.push(spec.op);
    this.#args.push(arg);
    this.#literals.push(literal);
    this.#lines.push(lineNumber);
  }

  /**
   * Checks that every label used was defined and returns the program. Call once, after the last line.
   * @param lineCount lines in the source, for the line number of the implicit final `halt`.
   * @throws {EngineError} ERR_COMPILE for an empty program or an undefined label (the first one used).
   */
  finish (lineCount: number): Program {
    if (this.#code.length === 0) throw compileError(1, 'the source has no instructions');
    let undefinedLabel: { name: string, line: number } | undefined;
    for (const [name, references] of this.#forwardReferences) {
      const line = references[0]?.line ?? 0;
      if (undefinedLabel === undefined || line < undefinedLabel.line) undefinedLabel = { name, line };
    }
    if (undefinedLabel !== undefined) {
      const { name, line } = undefinedLabel;
      throw compileError(line, `undefined label ${quote(name)}${didYouMean(name, this.#labels.keys())}`);
    }
    // A label after the last instruction points here, so jumping to it ends the program too.
    this.#code.push(Op.halt);
    this.#args.push(0);
    this.#literals.push(0);
    this.#lines.push(lineCount + 1);
    return makeProgram({
      code: Int32Array.from(this.#code),
      args: Int32Array.from(this.#args),
      literals: Float64Array.from(this.#literals),
      lines: Int32Array.from(this.#lines),
      strings: this.#strings,
    });
  }

  #defineLabel (name: string, lineNumber: number): void {
    if (!kLabelName.test(name)) throw compileError(lineNumber, `bad label name ${quote(name)} ${kLabelRule}`);
    const first = this.#labels.get(name);
    if (first !== undefined) throw compileError(lineNumber, `duplicate label ${quote(name)} (first defined on line ${first.line})`);
    const instruction = this.#code.length;
    this.#labels.set(name, { instruction, line: lineNumber });
    for (const reference of this.#forwardReferences.get(name) ?? []) this.#args[reference.instruction] = instruction;
    this.#forwardReferences.delete(name);
  }

  /** The instruction a label names, or 0 for now (patched by {@link Assembler.#defineLabel}) when it comes later in the source. */
  #labelTarget (name: string, lineNumber: number): number {
    const label = this.#labels.get(name);
    if (label !== undefined) return label.instruction;
    const reference = { instruction: this.#code.length, line: lineNumber };
    const references = this.#forwardReferences.get(name);
    if (references === undefined) this.#forwardReferences.set(name, [reference]);
    else references.push(reference);
    return 0;
  }
}

function describe (token: Token | undefined): string {
  if (token === undefined) return 'nothing';
  return token.kind === 'string' ? 'a string literal' : quote(token.text);
}

function didYouMean (word: string, names: Iterable<string>): string {
  const name = closestName(word, names);
  return name === undefined ? '' : ` (did you mean "${name}"?)`;
}
