/**
 * The sm instruction set. `Op` numbers the instructions for the interpreter's switch;
 * `kInstructions` describes each mnemonic for the assembler, the error messages and doc/sm.md.
 */

/** Opcode of each instruction, as stored in a program's `code` array. */
export const Op = {
  push: 0,
  pop: 1,
  dup: 2,
  swap: 3,
  over: 4,
  add: 5,
  sub: 6,
  mul: 7,
  div: 8,
  idiv: 9,
  mod: 10,
  neg: 11,
  eq: 12,
  ne: 13,
  lt: 14,
  le: 15,
  gt: 16,
  ge: 17,
  not: 18,
  jmp: 19,
  jz: 20,
  jnz: 21,
  call: 22,
  ret: 23,
  halt: 24,
  load: 25,
  store: 26,
  in: 27,
  inlen: 28,
  inbyte: 29,
  out: 30,
  outb: 31,
  outs: 32,
  outin: 33,
  log: 34,
  logv: 35,
  fail: 36,
} as const;

export type Opcode = typeof Op[keyof typeof Op];

/** What follows a mnemonic: nothing, a number literal, a label name, or a string literal. */
export type OperandKind = 'none' | 'number' | 'label' | 'string';

export interface InstructionSpec {
  readonly op: Opcode;
  readonly operand: OperandKind;
  /** Values the instruction takes off the operand stack; fewer there is a stack-underflow trap. */
  readonly pops: number;
  /** Stack effect in Forth notation, top of stack rightmost. */
  readonly effect: string;
}

function spec (op: Opcode, operand: OperandKind, pops: number, effect: string): InstructionSpec {
  return Object.freeze({ op, operand, pops, effect });
}

/** Every mnemonic the assembler accepts. `drop` is an alias of `pop`. */
export const kInstructions: ReadonlyMap<string, InstructionSpec> = new Map([
  ['push', spec(Op.push, 'number', 0, '( -- n )')],
  ['pop', spec(Op.pop, 'none', 1, '( a -- )')],
  ['drop', spec(Op.pop, 'none', 1, '( a -- )')],
  ['dup', spec(Op.dup, 'none', 1, '( a -- a a )')],
  ['swap', spec(Op.swap, 'none', 2, '( a b -- b a )')],
  ['over', spec(Op.over, 'none', 2, '( a b -- a b a )')],
  ['add', spec(Op.add, 'none', 2, '( a b -- a+b )')],
  ['sub', spec(Op.sub, 'none', 2, '( a b -- a-b )')],
  ['mul', spec(Op.mul, 'none', 2, '( a b -- a*b )')],
  ['div', spec(Op.div, 'none', 2, '( a b -- a/b )')],
  ['idiv', spec(Op.idiv, 'none', 2, '( a b -- trunc(a/b) )')],
  ['mod', spec(Op.mod, 'none', 2, '( a b -- a%b )')],
  ['neg', spec(Op.neg, 'none', 1, '( a -- -a )')],
  ['eq', spec(Op.eq, 'none', 2, '( a b -- a==b )')],
  ['ne', spec(Op.ne, 'none', 2, '( a b -- a!=b )')],
  ['lt', spec(Op.lt, 'none', 2, '( a b -- a<b )')],
  ['le', spec(Op.le, 'none', 2, '( a b -- a<=b )')],
  ['gt', spec(Op.gt, 'none', 2, '( a b -- a>b )')],
  ['ge', spec(Op.ge, 'none', 2, '( a b -- a>=b )')],
  ['not', spec(Op.not, 'none', 1, '( a -- a==0 )')],
  ['jmp', spec(Op.jmp, 'label', 0, '( -- )')],
  ['jz', spec(Op.jz, 'label', 1, '( a -- )')],
  ['jnz', spec(Op.jnz, 'label', 1, '( a -- )')],
  ['call', spec(Op.call, 'label', 0, '( -- )')],
  ['ret', spec(Op.ret, 'none', 0, '( -- )')],
  ['halt', spec(Op.halt, 'none', 0, '( -- )')],
  ['load', spec(Op.load, 'none', 1, '( addr -- heap[addr] )')],
  ['store', spec(Op.store, 'none', 2, '( value addr -- )')],
  ['in', spec(Op.in, 'none', 0, '( -- n )')],
  ['inlen', spec(Op.inlen, 'none', 0, '( -- n )')],
  ['inbyte', spec(Op.inbyte, 'none', 1, '( i -- byte )')],
  ['out', spec(Op.out, 'none', 1, '( n -- )')],
  ['outb', spec(Op.outb, 'none', 1, '( byte -- )')],
  ['outs', spec(Op.outs, 'string', 0, '( -- )')],
  ['outin', spec(Op.outin, 'none', 0, '( -- )')],
  ['log', spec(Op.log, 'string', 0, '( -- )')],
  ['logv', spec(Op.logv, 'none', 1, '( n -- )')],
  ['fail', spec(Op.fail, 'string', 0, '( -- )')],
]);

/** The canonical mnemonic of each opcode, for messages (an alias never appears here). */
export const kMnemonics: readonly string[] = Object.freeze(Object.entries(Op).reduce<string[]>((names, [name, op]) => {
  names[op] = name;
  return names;
}, []));

/** Values an opcode pops, indexed by opcode; read only when reporting a stack underflow. */
export const kPops: readonly number[] = Object.freeze(kMnemonics.map((name) => kInstructions.get(name)?.pops ?? 0));
