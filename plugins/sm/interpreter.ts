import type { ErrorRecord } from '../../engine/errors.ts';
import { kYield, type Fiber, type InvocationContext, type Slice, type SliceOutcome } from '../../engine/plugin.ts';
import { grow } from './grow.ts';
import { parseInputNumber } from './input-number.ts';
import { kCellBytes, kClockCheckInstructions, kCopyFuelShift, kFrameBytes, kInitialFrames, kInitialHeapCells, kInitialOutputBytes, kInitialStackSlots } from './limits.ts';
import { kMnemonics, kPops, Op } from './opcodes.ts';
import type { Program } from './program.ts';
import { preemptRequested } from '../../engine/preemption.ts';

const kNoCells = new Float64Array(0);
const kNoFrames = new Int32Array(0);
const kNoBytes = new Uint8Array(0);
/** Stack slots one call frame is charged as (2): `call` takes them off `stackLimit`, `ret` gives them back. */
const kFrameSlots = kFrameBytes / kCellBytes;

/**
 * One invocation of an sm program: the operand stack, call stack, heap and output, and the
 * interpreter loop that advances them slice by slice.
 *
 * Memory is charged by what the program holds (8 bytes per stack slot and heap cell, 16 per call
 * frame, 1 per output byte), and every growth is checked against the budget before it happens.
 * The arrays behind them grow by doubling, only when the charge needs it and never past what the
 * budget leaves, so each holds at most about twice its own peak use.
 *
 * Hot-path invariant that keeps `push` down to one comparison: `stackLimit` is at most the stack's
 * capacity and at most the slots that keep the charge within its high-water mark (`#peakBytes`,
 * itself within the budget). `call` lowers it by the slots a frame costs, `ret` gives them back,
 * and every slow path recomputes it. So the fast paths never raise the charge past the mark, and
 * every rise lands in a slow path, which checks the budget and moves the mark: the peak is exact
 * at no cost to the loop. (A program whose stack only ever grows takes the slow path per push.)
 */
export class SmFiber implements Fiber {
  readonly #program: Program;
  readonly #input: Uint8Array;
  readonly #context: InvocationContext;
  readonly #budgetBytes: number;
  #pc = 0;
  #stack: Float64Array<ArrayBuffer> = new Float64Array(kInitialStackSlots);
  #sp = 0;
  #stackLimit: number;
  #frames: Int32Array<ArrayBuffer> = new Int32Array(kInitialFrames);
  #fp = 0;
  #heap: Float64Array<ArrayBuffer> = kNoCells;
  #heapCells = 0;
  #output: Uint8Array<ArrayBuffer> = kNoBytes;
  #outputBytes = 0;
  #peakBytes = 0;
  #inputNumber: number | undefined;
  #inputParsed = false;
  #outcome: SliceOutcome | undefined;

  /** @param budgetBytes the invocation's memory budget (`budget.memoryBytes`), in bytes. */
  constructor (program: Program, budgetBytes: number, input: Uint8Array, context: InvocationContext) {
    this.#program = program;
    this.#budgetBytes = budgetBytes;
    this.#input = input;
    this.#context = context;
    this.#stackLimit = 0;
  }

  /** The highest charge so far, in bytes: stack slots and heap cells × 8, call frames × 16, output bytes. */
  get memoryBytes (): number {
    return this.#peakBytes;
  }

  cancel (reason: ErrorRecord): void {
    if (this.#outcome === undefined) this.#finish({ state: 'failed', error: reason });
  }

  run (slice: Slice): SliceOutcome {
    if (this.#outcome !== undefined) return this.#outcome;
    const { code, args, literals, strings } = this.#program;
    const input = this.#input;
    const endsAt = slice.endsAt;
    let pc = this.#pc;
    let sp = this.#sp;
    let fp = this.#fp;
    let stack = this.#stack;
    let stackLimit = this.#stackLimit;
    let frames = this.#frames;
    let heap = this.#heap;
    let heapCells = this.#heapCells;
    // The first clock check comes after a full batch, so every slice makes progress even when it starts late.
    let fuel = kClockCheckInstructions;
    let fault: ErrorRecord | undefined;
    let halted = false;

    // Case labels are number literals, not `Op.x`: only an all-literal switch becomes a jump table
    // in V8 (measured: ~1.5× faster dispatch); test/sm-plugin.test.ts checks them against `Op`.
    // Indexes below are in bounds by the checks before them; `!` only answers noUncheckedIndexedAccess.
    // Every case leaves `pc` on the instruction when it faults, so messages name the right line.
    execute: for (;;) {
      if (--fuel < 0) {
        if (performance.now() >= endsAt || preemptRequested()) break;
        fuel = kClockCheckInstructions;
      }
      switch (code[pc]) {
        case 0 /* push */:
          if (sp >= stackLimit) {
            if ((fault = this.#reserveStack(pc, sp, fp)) !== undefined) break execute;
            stack = this.#stack;
            stackLimit = this.#stackLimit;
          }
          stack[sp++] = literals[pc++]!;
          continue;
        case 1 /* pop */:
          if (sp < 1) { fault = this.#underflow(pc, sp); break execute; }
          sp--;
          pc++;
          continue;
        case 2 /* dup */:
          if (sp < 1) { fault = this.#underflow(pc, sp); break execute; }
          if (sp >= stackLimit) {
            if ((fault = this.#reserveStack(pc, sp, fp)) !== undefined) break execute;
            stack = this.#stack;
            stackLimit = this.#stackLimit;
          }
          stack[sp] = stack[sp - 1]!;
          sp++;
          pc++;
          continue;
        case 3 /* swap */: {
          if (sp < 2) { fault = this.#underflow(pc, sp); break execute; }
          const top = stack[sp - 1]!;
          stack[sp - 1] = stack[sp - 2]!;
          stack[sp - 2] = top;
          pc++;
          continue;
        }
        case 4 /* over */:
          if (sp < 2) { fault = this.#underflow(pc, sp); break execute; }
          if (sp >= stackLimit) {
            if ((fault = this.#reserveStack(pc, sp, fp)) !== undefined) break execute;
            stack = this.#stack;
            stackLimit = this.#stackLimit;
          }
          stack[sp] = stack[sp - 2]!;
          sp++;
          pc++;
          continue;
        case 5 /* add */:
          if (sp < 2) { fault = this.#underflow(pc, sp); break execute; }
          stack[sp - 2] = stack[sp - 2]! + stack[sp - 1]!;
          sp--;
          pc++;
          continue;
        case 6 /* sub */:
          if (sp < 2) { fault = this.#underflow(pc, sp); break execute; }
          stack[sp - 2] = stack[sp - 2]! - stack[sp - 1]!;
          sp--;
          pc++;
          continue;
        case 7 /* mul */:
          if (sp < 2) { fault = this.#underflow(pc, sp); break execute; }
          stack[sp - 2] = stack[sp - 2]! * stack[sp - 1]!;
          sp--;
          pc++;
          continue;
        case 8 /* div */:
        case 9 /* idiv */:
        case 10 /* mod */: {
          if (sp < 2) { fault = this.#underflow(pc, sp); break execute; }
          const divisor = stack[sp - 1]!;
          if (divisor === 0) { fault = this.#trap(pc, 'division by zero'); break execute; }
          const dividend = stack[sp - 2]!;
          const op = code[pc];
          stack[sp - 2] = op === Op.div ? dividend / divisor : op === Op.idiv ? Math.trunc(dividend / divisor) : dividend % divisor;
          sp--;
          pc++;
          continue;
        }
        case 11 /* neg */:
          if (sp < 1) { fault = this.#underflow(pc, sp); break execute; }
          stack[sp - 1] = -stack[sp - 1]!;
          pc++;
          continue;
        case 12 /* eq */:
          if (sp < 2) { fault = this.#underflow(pc, sp); break execute; }
          stack[sp - 2] = stack[sp - 2]! === stack[sp - 1]! ? 1 : 0;
          sp--;
          pc++;
          continue;
        case 13 /* ne */:
          if (sp < 2) { fault = this.#underflow(pc, sp); break execute; }
          stack[sp - 2] = stack[sp - 2]! !== stack[sp - 1]! ? 1 : 0;
          sp--;
          pc++;
          continue;
        case 14 /* lt */:
          if (sp < 2) { fault = this.#underflow(pc, sp); break execute; }
          stack[sp - 2] = stack[sp - 2]! < stack[sp - 1]! ? 1 : 0;
          sp--;
          pc++;
          continue;
        case 15 /* le */:
          if (sp < 2) { fault = this.#underflow(pc, sp); break execute; }
          stack[sp - 2] = stack[sp - 2]! <= stack[sp - 1]! ? 1 : 0;
          sp--;
          pc++;
          continue;
        case 16 /* gt */:
          if (sp < 2) { fault = this.#underflow(pc, sp); break execute; }
          stack[sp - 2] = stack[sp - 2]! > stack[sp - 1]! ? 1 : 0;
          sp--;
          pc++;
          continue;
        case 17 /* ge */:
          if (sp < 2) { fault = this.#underflow(pc, sp); break execute; }
          stack[sp - 2] = stack[sp - 2]! >= stack[sp - 1]! ? 1 : 0;
          sp--;
          pc++;
          continue;
        case 18 /* not */:
          if (sp < 1) { fault = this.#underflow(pc, sp); break execute; }
          stack[sp - 1] = stack[sp - 1]! === 0 ? 1 : 0;
          pc++;
          continue;
        case 19 /* jmp */:
          pc = args[pc]!;
          continue;
        case 20 /* jz */:
          if (sp < 1) { fault = this.#underflow(pc, sp); break execute; }
          pc = stack[--sp]! === 0 ? args[pc]! : pc + 1;
          continue;
        case 21 /* jnz */:
          if (sp < 1) { fault = this.#underflow(pc, sp); break execute; }
          pc = stack[--sp]! !== 0 ? args[pc]! : pc + 1;
          continue;
        case 22 /* call */:
          if (fp === frames.length || sp + kFrameSlots > stackLimit) {
            if ((fault = this.#reserveFrame(pc, sp, fp)) !== undefined) break execute;
            frames = this.#frames;
            stack = this.#stack;
            stackLimit = this.#stackLimit;
          }
          frames[fp++] = pc + 1;
          stackLimit -= kFrameSlots;
          pc = args[pc]!;
          continue;
        case 23 /* ret */:
          if (fp === 0) { fault = this.#trap(pc, 'ret with an empty call stack (ret outside any call)'); break execute; }
          pc = frames[--fp]!;
          stackLimit = Math.min(stackLimit + kFrameSlots, stack.length);
          continue;
        case 24 /* halt */:
          halted = true;
          break execute;
        case 25 /* load */: {
          if (sp < 1) { fault = this.#underflow(pc, sp); break execute; }
          const address = stack[sp - 1]!;
          if ((address >>> 0) === address) {
            stack[sp - 1] = address < heapCells ? heap[address]! : 0;
          } else if (Number.isInteger(address) && address > 0) {
            stack[sp - 1] = 0; // past 2³², so past any cell a budget allows storing to
          } else {
            fault = this.#trap(pc, `bad address ${address} (addresses are integers from 0)`);
            break execute;
          }
          pc++;
          continue;
        }
        case 26 /* store */: {
          if (sp < 2) { fault = this.#underflow(pc, sp); break execute; }
          const address = stack[sp - 1]!;
          if ((address >>> 0) === address && address < heapCells) {
            heap[address] = stack[sp - 2]!;
          } else {
            if ((fault = this.#storePastEnd(pc, sp - 2, fp, address, stack[sp - 2]!)) !== undefined) break execute;
            heap = this.#heap;
            heapCells = this.#heapCells;
            stackLimit = this.#stackLimit;
          }
          sp -= 2;
          pc++;
          continue;
        }
        case 27 /* in */: {
          if (sp >= stackLimit) {
            if ((fault = this.#reserveStack(pc, sp, fp)) !== undefined) break execute;
            stack = this.#stack;
            stackLimit = this.#stackLimit;
          }
          const value = this.#inputAsNumber();
          if (value === undefined) { fault = this.#trap(pc, `the input is not a number: ${describeInput(input)}`); break execute; }
          stack[sp++] = value;
          pc++;
          continue;
        }
        case 28 /* inlen */:
          if (sp >= stackLimit) {
            if ((fault = this.#reserveStack(pc, sp, fp)) !== undefined) break execute;
            stack = this.#stack;
            stackLimit = this.#stackLimit;
          }
          stack[sp++] = input.length;
          pc++;
          continue;
        case 29 /* inbyte */: {
          if (sp < 1) { fault = this.#underflow(pc, sp); break execute; }
          const index = stack[sp - 1]!;
          if ((index >>> 0) !== index || index >= input.length) {
            fault = this.#trap(pc, `index ${index} is outside the input (${input.length === 0 ? 'the input is empty' : `0 to ${input.length - 1}`})`);
            break execute;
          }
          stack[sp - 1] = input[index]!;
          pc++;
          continue;
        }
        case 30 /* out */:
          if (sp < 1) { fault = this.#underflow(pc, sp); break execute; }
          if ((fault = this.#appendNumber(pc, sp - 1, fp, stack[sp - 1]!)) !== undefined) break execute;
          stackLimit = this.#stackLimit;
          sp--;
          pc++;
          continue;
        case 31 /* outb */: {
          if (sp < 1) { fault = this.#underflow(pc, sp); break execute; }
          const byte = stack[sp - 1]!;
          if ((byte & 0xff) !== byte) { fault = this.#trap(pc, `${byte} is not a byte (an integer from 0 to 255)`); break execute; }
          if ((fault = this.#appendByte(pc, sp - 1, fp, byte)) !== undefined) break execute;
          stackLimit = this.#stackLimit;
          sp--;
          pc++;
          continue;
        }
        case 32 /* outs */:
        case 33 /* outin */: {
          const bytes = code[pc] === Op.outin ? input : strings[args[pc]!]!.bytes;
          if ((fault = this.#appendBytes(pc, sp, fp, bytes)) !== undefined) break execute;
          stackLimit = this.#stackLimit;
          fuel -= bytes.length >> kCopyFuelShift;
          pc++;
          continue;
        }
        case 34 /* log */: {
          const text = strings[args[pc]!]!.text;
          this.#context.log(text);
          fuel -= text.length >> kCopyFuelShift;
          pc++;
          continue;
        }
        case 35 /* logv */:
          if (sp < 1) { fault = this.#underflow(pc, sp); break execute; }
          this.#context.log(String(stack[--sp]!));
          pc++;
          continue;
        case 36 /* fail */:
          fault = { code: 'ERR_FUNCTION', message: strings[args[pc]!]!.text };
          break execute;
        default:
          fault = { code: 'ERR_INTERNAL', message: `sm: opcode ${code[pc]} at instruction ${pc} is not in the instruction set` };
          break execute;
      }
    }

    this.#pc = pc;
    this.#sp = sp;
    this.#fp = fp;
    this.#stackLimit = stackLimit;
    if (fault !== undefined) return this.#finish({ state: 'failed', error: fault });
    if (halted) return this.#finish({ state: 'done', output: this.#output.slice(0, this.#outputBytes) });
    return kYield;
  }

  /** Ends the fiber and drops its arrays (memoryBytes keeps reporting the peak). */
  #finish (outcome: SliceOutcome): SliceOutcome {
    this.#outcome = Object.freeze(outcome);
    this.#stack = kNoCells;
    this.#frames = kNoFrames;
    this.#heap = kNoCells;
    this.#output = kNoBytes;
    return this.#outcome;
  }

  #chargedBytes (sp: number, fp: number, heapCells: number, outputBytes: number): number {
    return (sp + heapCells) * kCellBytes + fp * kFrameBytes + outputBytes;
  }

  /** Stack slots that keep the charge within `bytes`, with `fp` frames and the current heap and output. */
  #stackSlotsWithin (bytes: number, fp: number): number {
    return Math.floor((bytes - this.#chargedBytes(0, fp, this.#heapCells, this.#outputBytes)) / kCellBytes);
  }

  /** Moves the high-water mark up to the charge of `sp` slots and `fp` frames, then recomputes `stackLimit` for `fp`. */
  #settle (sp: number, fp: number, limitFp: number): void {
    const charged = this.#chargedBytes(sp, fp, this.#heapCells, this.#outputBytes);
    if (charged > this.#peakBytes) this.#peakBytes = charged;
    this.#stackLimit = Math.min(this.#stack.length, this.#stackSlotsWithin(this.#peakBytes, limitFp));
  }

  /** Slow path of a push at `stackLimit`: checks the budget for one more slot, grows the stack if full, moves the mark. */
  #reserveStack (pc: number, sp: number, fp: number): ErrorRecord | undefined {
    const freeSlots = this.#stackSlotsWithin(this.#budgetBytes, fp);
    if (sp + 1 > freeSlots) return this.#overBudget(pc, sp + 1, fp, this.#heapCells, this.#outputBytes);
    if (sp + 1 > this.#stack.length) {
      const stack = grow(this.#stack, sp, sp + 1, freeSlots);
      if (stack === undefined) return this.#hostOutOfMemory(pc, 'the operand stack');
      this.#stack = stack;
    }
    this.#settle(sp + 1, fp, fp);
    return undefined;
  }

  /**
   * Slow path of a call: checks the budget for one more frame, grows the call stack if full, and
   * makes sure `stackLimit` has the {@link kFrameSlots} the fast path takes off it.
   */
  #reserveFrame (pc: number, sp: number, fp: number): ErrorRecord | undefined {
    const freeSlots = this.#stackSlotsWithin(this.#budgetBytes, fp);
    if (sp + kFrameSlots > freeSlots) return this.#overBudget(pc, sp, fp + 1, this.#heapCells, this.#outputBytes);
    if (fp === this.#frames.length) {
      const maxFrames = fp + Math.floor((freeSlots - sp) * kCellBytes / kFrameBytes);
      const frames = grow(this.#frames, fp, fp + 1, maxFrames);
      if (frames === undefined) return this.#hostOutOfMemory(pc, 'the call stack');
      this.#frames = frames;
    }
    if (sp + kFrameSlots > this.#stack.length) {
      const stack = grow(this.#stack, sp, sp + kFrameSlots, freeSlots);
      if (stack === undefined) return this.#hostOutOfMemory(pc, 'the operand stack');
      this.#stack = stack;
    }
    // The limit is for the frames before the call: the fast path takes the new frame's slots off it.
    this.#settle(sp, fp + 1, fp);
    return undefined;
  }

  /** Slow path of a store at or past the heap's end: validates the address, charges the new cells, grows the heap. */
  #storePastEnd (pc: number, sp: number, fp: number, address: number, value: number): ErrorRecord | undefined {
    if (!Number.isInteger(address) || address < 0) return this.#trap(pc, `bad address ${address} (addresses are integers from 0)`);
    const cells = address + 1;
    const maxCells = Math.floor((this.#budgetBytes - this.#chargedBytes(sp, fp, 0, this.#outputBytes)) / kCellBytes);
    // Compare before allocating anything, so `store` at 1e12 fails at once instead of trying.
    if (cells > maxCells) return this.#overBudget(pc, sp, fp, cells, this.#outputBytes);
    if (cells > this.#heap.length) {
      const heap = grow(this.#heap, this.#heapCells, Math.max(cells, Math.min(kInitialHeapCells, maxCells)), maxCells);
      if (heap === undefined) return this.#hostOutOfMemory(pc, 'the heap');
      this.#heap = heap;
    }
    this.#heap[address] = value;
    this.#heapCells = cells;
    this.#settle(sp, fp, fp);
    return undefined;
  }

  /** Charges `length` more output bytes and makes room for them; the caller writes them at `#outputBytes - length`. */
  #reserveOutput (pc: number, sp: number, fp: number, length: number): ErrorRecord | undefined {
    const outputBytes = this.#outputBytes + length;
    const maxOutputBytes = this.#budgetBytes - this.#chargedBytes(sp, fp, this.#heapCells, 0);
    if (outputBytes > maxOutputBytes) return this.#overBudget(pc, sp, fp, this.#heapCells, outputBytes);
    if (outputBytes > this.#output.length) {
      const output = grow(this.#output, this.#outputBytes, Math.max(outputBytes, Math.min(kInitialOutputBytes, maxOutputBytes)), maxOutputBytes);
      if (output === undefined) return this.#hostOutOfMemory(pc, 'the output');
      this.#output = output;
    }
    this.#outputBytes = outputBytes;
    this.#settle(sp, fp, fp);
    return undefined;
  }

  #appendBytes (pc: number, sp: number, fp: number, bytes: Uint8Array): ErrorRecord | undefined {
    const fault = this.#reserveOutput(pc, sp, fp, bytes.length);
    if (fault === undefined) this.#output.set(bytes, this.#outputBytes - bytes.length);
    return fault;
  }

  #appendByte (pc: number, sp: number, fp: number, byte: number): ErrorRecord | undefined {
    const fault = this.#reserveOutput(pc, sp, fp, 1);
    if (fault === undefined) this.#output[this.#outputBytes - 1] = byte;
    return fault;
  }

  /** Appends a number's JavaScript decimal text (`String(value)`: always ASCII). */
  #appendNumber (pc: number, sp: number, fp: number, value: number): ErrorRecord | undefined {
    const text = String(value);
    const fault = this.#reserveOutput(pc, sp, fp, text.length);
    if (fault !== undefined) return fault;
    const output = this.#output;
    const start = this.#outputBytes - text.length;
    for (let i = 0; i < text.length; i++) output[start + i] = text.charCodeAt(i);
    return undefined;
  }

  #inputAsNumber (): number | undefined {
    if (!this.#inputParsed) {
      this.#inputNumber = parseInputNumber(this.#input);
      this.#inputParsed = true;
    }
    return this.#inputNumber;
  }

  #trap (pc: number, problem: string): ErrorRecord {
    return { code: 'ERR_TRAP', message: `${this.#where(pc)}: ${problem}` };
  }

  #underflow (pc: number, sp: number): ErrorRecord {
    const needs = kPops[this.#program.code[pc]!] ?? 0;
    return this.#trap(pc, `stack underflow (needs ${needs} value${needs === 1 ? '' : 's'}, the stack has ${sp})`);
  }

  #overBudget (pc: number, sp: number, fp: number, heapCells: number, outputBytes: number): ErrorRecord {
    const total = this.#chargedBytes(sp, fp, heapCells, outputBytes);
    return {
      code: 'ERR_MEMORY_BUDGET',
      message: `${this.#where(pc)}: memory budget exceeded: this would hold ${total} bytes ` +
        `(stack ${sp * kCellBytes}, heap ${heapCells * kCellBytes}, call frames ${fp * kFrameBytes}, output ${outputBytes}), ` +
        `over the budget of ${this.#budgetBytes} bytes`,
    };
  }

  /** Within budget, but the host could not allocate: still this function's memory, so a memory error. */
  #hostOutOfMemory (pc: number, what: string): ErrorRecord {
    return { code: 'ERR_MEMORY_BUDGET', message: `${this.#where(pc)}: the host could not allocate more memory for ${what}` };
  }

  #where (pc: number): string {
    const { code, lines } = this.#program;
    return `line ${lines[pc]}: ${kMnemonics[code[pc]!]}`;
  }
}

/** The start of an input, quoted for a trap message. */
function describeInput (input: Uint8Array): string {
  const text = new TextDecoder().decode(input.subarray(0, 40));
  return JSON.stringify(input.length > 40 ? `${text}…` : text);
}
