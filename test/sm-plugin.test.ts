// The sm plugin through the LanguagePlugin contract alone: compile → instantiate → invoke → run
// slices until done or failed. No engine, no sleeps: slices are driven by hand.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { kDefaultBudget, type Budget } from '../engine/budget.ts';
import { EngineError, type ErrorRecord } from '../engine/errors.ts';
import type { Fiber, InvocationContext, SliceOutcome } from '../engine/plugin.ts';
import { smPlugin } from '../plugins/sm/index.ts';
import { kMaxInstructions, kMaxSourceBytes } from '../plugins/sm/limits.ts';
import { kInstructions, Op } from '../plugins/sm/opcodes.ts';

const plugin = smPlugin();
const kEncoder = new TextEncoder();
const kDecoder = new TextDecoder();
const kMiB = 2 ** 20;
const kYieldOutcome: SliceOutcome = { state: 'yield' };

/** A context for sm, which has no network, invoke or kv instruction: those are never called. */
function context (budget: Budget = kDefaultBudget, log: (line: string) => void = () => {}): InvocationContext {
  const never = (): Promise<never> => Promise.reject(new EngineError('ERR_INTERNAL', 'not offered to sm'));
  return { budget, log, fetch: () => Promise.reject(new EngineError('ERR_NETWORK_BUDGET', 'no network in these tests')), invoke: never, kv: never };
}

function compile (source: string | Uint8Array, signal = new AbortController().signal): Promise<unknown> {
  return plugin.compile(typeof source === 'string' ? kEncoder.encode(source) : source, { signal });
}

async function example (name: string): Promise<string> {
  return readFile(new URL(`../examples/sm/${name}`, import.meta.url), 'utf8');
}

interface Started {
  readonly fiber: Fiber;
  readonly logs: string[];
}

/** Compiles, instantiates and invokes; no instruction has run yet. */
async function start (source: string, input: string | Uint8Array = '', budget: Partial<Budget> = {}): Promise<Started> {
  const filled = { ...kDefaultBudget, ...budget };
  const sandbox = await plugin.instantiate(await compile(source), filled);
  const logs: string[] = [];
  const bytes = typeof input === 'string' ? kEncoder.encode(input) : input;
  return { fiber: sandbox.invoke(bytes, context(filled, (line) => logs.push(line))), logs };
}

/** Runs slices of `sliceMs` until the fiber is done or failed. */
function runToEnd (fiber: Fiber, sliceMs = 5, maxSlices = 10_000): SliceOutcome {
  for (let slice = 0; slice < maxSlices; slice++) {
    const outcome = fiber.run({ endsAt: performance.now() + sliceMs });
    if (outcome.state !== 'yield') return outcome;
  }
  assert.fail(`still running after ${maxSlices} slices`);
}

async function output (source: string, input: string | Uint8Array = ''): Promise<string> {
  const outcome = runToEnd((await start(source, input)).fiber);
  assert.equal(outcome.state, 'done', JSON.stringify(outcome));
  return kDecoder.decode(outcome.state === 'done' ? outcome.output : undefined);
}

async function failure (source: string, input = '', budget: Partial<Budget> = {}): Promise<ErrorRecord> {
  const outcome = runToEnd((await start(source, input, budget)).fiber);
  assert.equal(outcome.state, 'failed', JSON.stringify(outcome));
  return outcome.state === 'failed' ? outcome.error : assert.fail();
}

async function compileError (source: string | Uint8Array): Promise<string> {
  const error = await compile(source).then(() => assert.fail('compiled'), (error: unknown) => error);
  assert.ok(error instanceof EngineError, String(error));
  assert.equal(error.code, 'ERR_COMPILE');
  return error.message;
}

describe('examples', () => {
  test('sum.sm sums 1..N', async () => {
    const source = await example('sum.sm');
    assert.equal(await output(source, '100'), '5050');
    assert.equal(await output(source, '1'), '1');
    assert.equal(await output(source, ' 10\n'), '55');
    assert.equal(await output(source, ''), '0');
    assert.equal(await output(source, '-3'), '0');
    assert.equal(await output(source, '1000000'), '500000500000');
  });

  test('fib.sm computes fib(N) by recursion', async () => {
    const source = await example('fib.sm');
    assert.equal(await output(source, '0'), '0');
    assert.equal(await output(source, '1'), '1');
    assert.equal(await output(source, '20'), '6765');
  });

  test('hello.sm greets its input, byte for byte', async () => {
    const source = await example('hello.sm');
    assert.equal(await output(source, 'world'), 'hello, world');
    assert.equal(await output(source, ''), 'hello, ');
    const outcome = runToEnd((await start(source, Uint8Array.of(0xff, 0x00, 0x80))).fiber);
    assert.deepEqual(outcome, { state: 'done', output: Uint8Array.of(...kEncoder.encode('hello, '), 0xff, 0x00, 0x80) });
  });

  test('spin.sm yields slice after slice', async () => {
    const { fiber } = await start(await example('spin.sm'));
    for (let slice = 0; slice < 100; slice++) assert.equal(fiber.run({ endsAt: performance.now() + 0.5 }).state, 'yield');
  });

  test('alloc-bomb.sm stops at a 1 MiB memory budget, holding close to it', async () => {
    const { fiber } = await start(await example('alloc-bomb.sm'), '', { memoryBytes: kMiB });
    const outcome = runToEnd(fiber);
    assert.equal(outcome.state, 'failed');
    assert.equal(outcome.state === 'failed' && outcome.error.code, 'ERR_MEMORY_BUDGET');
    assert.match(outcome.state === 'failed' ? outcome.error.message : '', /^line \d+: \w+: memory budget exceeded: this would hold \d+ bytes \(stack \d+, heap \d+, call frames 0, output 0\), over the budget of 1048576 bytes$/);
    assert.ok(fiber.memoryBytes <= kMiB && fiber.memoryBytes > kMiB - 64, `memoryBytes ${fiber.memoryBytes}`);
  });
});

describe('compile errors', () => {
  const cases: Array<[name: string, source: string, message: RegExp]> = [
    ['unknown instruction', 'push 1\npusj 2', /^line 2: unknown instruction "pusj" \(did you mean "push"\?\)$/],
    ['mnemonics are lowercase', 'PUSH 1', /^line 1: unknown instruction "PUSH" \(did you mean "push"\?\)$/],
    ['label glued to its instruction', 'loop:push 1', /^line 1: unknown instruction "loop:push" \(put a space after a label's colon\)$/],
    ['undefined label', 'loop: push 1\njmp lopo', /^line 2: undefined label "lopo" \(did you mean "loop"\?\)$/],
    ['first undefined label by line', 'jmp beta\njmp alpha\nalpha:\nbeta: jmp gamma\njmp delta', /^line 4: undefined label "gamma"$/],
    ['duplicate label', 'loop: push 1\n\nloop: pop', /^line 3: duplicate label "loop" \(first defined on line 1\)$/],
    ['bad label name', '1st: halt', /^line 1: bad label name "1st"/],
    ['jump to a number', 'jmp 5', /^line 1: bad label name "5"/],
    ['jump without a label', 'call', /^line 1: call needs a label name, found nothing$/],
    ['bad number literal', 'push 12abc', /^line 1: bad number literal "12abc"/],
    ['infinite literal', 'push 1e999', /^line 1: bad number literal "1e999"/],
    ['push without a number', 'push', /^line 1: push needs a number literal, found nothing$/],
    ['push with a string', 'push "1"', /^line 1: push needs a number literal, found a string literal$/],
    ['operand where none is taken', 'add 1', /^line 1: add takes no operand, found "1"$/],
    ['two operands', 'push 1 2', /^line 1: unexpected "2" after push's operand \(one instruction per line\)$/],
    ['outs without a string', 'outs hello', /^line 1: outs needs a string literal in double quotes, found "hello"$/],
    ['unterminated string', 'outs "abc', /^line 1: unterminated string literal/],
    ['unknown escape', 'log "a\\qb"', /^line 1: bad escape "\\q" in string literal/],
    ['short \\x escape', 'outs "\\x4"', /^line 1: bad escape "\\x4"/],
    ['text glued to a string', 'outs "a"b', /^line 1: unexpected text right after a string literal$/],
    ['a string where an instruction goes', '"hello"', /^line 1: expected an instruction, found a string literal$/],
    ['empty source', '', /^line 1: the source has no instructions$/],
    ['only comments and labels', '; nothing\n  \nstart:  ; here', /^line 1: the source has no instructions$/],
  ];
  for (const [name, source, message] of cases) {
    test(name, async () => assert.match(await compileError(source), message));
  }

  test('a source over the size limit', async () => {
    assert.match(await compileError(new Uint8Array(kMaxSourceBytes + 1).fill(0x20)), /^the source is 1048577 bytes; sm accepts at most 1048576$/);
  });

  test('more instructions than the limit', async () => {
    assert.match(await compileError('pop\n'.repeat(kMaxInstructions + 1)), /^line 65537: too many instructions \(the limit is 65536\)$/);
  });

  test('a source that is not UTF-8', async () => {
    assert.match(await compileError(Uint8Array.of(0x70, 0x6f, 0x70, 0xff)), /^the source is not valid UTF-8$/);
  });

  test('an aborted signal rejects with its reason', async () => {
    const controller = new AbortController();
    controller.abort(new Error('deploy timed out'));
    await assert.rejects(compile('halt', controller.signal), { message: 'deploy timed out' });
  });

  test('a large valid source compiles, returning to the event loop on the way', async () => {
    let turns = 0;
    const counting = setInterval(() => turns++, 0);
    try {
      await compile(largestSource());
    } finally {
      clearInterval(counting);
    }
    assert.ok(turns > 0, 'compile() never yielded to the event loop');
  });

  test('aborting while a large source compiles stops it', async () => {
    const controller = new AbortController();
    const compiling = compile(largestSource(), controller.signal);
    setImmediate(() => controller.abort(new Error('engine closing')));
    await assert.rejects(compiling, { message: 'engine closing' });
  });
});

/** A program of the most instructions allowed, half of them jumps to labels further on, with CRLF line ends. */
function largestSource (): string {
  const lines: string[] = [];
  for (let i = 0; i < kMaxInstructions - 1; i++) lines.push(i % 2 === 0 ? `jmp l${i + 1}` : `l${i}: push ${i}`);
  lines.push(`l${kMaxInstructions - 1}: halt`);
  return lines.join('\r\n');
}

describe('artifacts and sandboxes', () => {
  test('the artifact is frozen and instantiate() accepts only sm artifacts', async () => {
    assert.ok(Object.isFrozen(await compile('halt')));
    await assert.rejects(plugin.instantiate({ code: [] }, kDefaultBudget), { code: 'ERR_INTERNAL' });
  });

  test('invoke() runs nothing until run()', async () => {
    const { fiber, logs } = await start('log "ran"\nfail "boom"');
    assert.equal(fiber.memoryBytes, 0);
    assert.deepEqual(logs, []);
    assert.deepEqual(fiber.run({ endsAt: performance.now() + 5 }), { state: 'failed', error: { code: 'ERR_FUNCTION', message: 'boom' } });
    assert.deepEqual(logs, ['ran']);
  });

  test('invocations of one sandbox are independent, even interleaved', async () => {
    // Prints cell 0, stores the input there, counts down for a few thousand instructions, prints cell 0
    // again: a heap shared between invocations would show one's input in the other's output.
    const source = 'push 0\nload\nout\nin\npush 0\nstore\npush 2000\nloop: push 1\nsub\ndup\njnz loop\npush 0\nload\nout';
    const sandbox = await plugin.instantiate(await compile(source), kDefaultBudget);
    const fibers = [sandbox.invoke(kEncoder.encode('7'), context()), sandbox.invoke(kEncoder.encode('9'), context())];
    const outcomes: SliceOutcome[] = [kYieldOutcome, kYieldOutcome];
    let slices = 0;
    // endsAt 0: one batch of instructions per slice, so the two fibers alternate many times.
    while (outcomes.some((outcome) => outcome.state === 'yield')) {
      fibers.forEach((fiber, i) => { if (outcomes[i]!.state === 'yield') outcomes[i] = fiber.run({ endsAt: 0 }); });
      slices++;
    }
    assert.ok(slices > 2, `only ${slices} rounds: the fibers did not interleave`);
    assert.deepEqual(outcomes, [{ state: 'done', output: kEncoder.encode('07') }, { state: 'done', output: kEncoder.encode('09') }]);
  });

  test('close() is idempotent and ends invoke()', async () => {
    const sandbox = await plugin.instantiate(await compile('halt'), kDefaultBudget);
    await sandbox.close();
    await sandbox.close();
    assert.throws(() => sandbox.invoke(new Uint8Array(0), context()), { code: 'ERR_INTERNAL' });
  });
});

describe('instructions', () => {
  test('stack and arithmetic', async () => {
    const cases: Array<[source: string, expected: string]> = [
      ['push 2\npush 3\nadd\nout', '5'],
      ['push 2\npush 3\nsub\nout', '-1'],
      ['push 2.5\npush 4\nmul\nout', '10'],
      ['push 7\npush 2\ndiv\nout', '3.5'],
      ['push -7\npush 2\nidiv\nout', '-3'],
      ['push -7\npush 2\nmod\nout', '-1'],
      ['push 0x10\nneg\nout', '-16'],
      ['push 1\npush 2\nswap\nout\nout', '12'],
      ['push 1\npush 2\nover\nout\nout\nout', '121'],
      ['push 1\ndup\nadd\nout', '2'],
      ['push 1\npush 2\npop\nout', '1'],
      ['push 1\npush 2\ndrop\nout', '1'],
      ['push 1e21\nout', '1e+21'],
      ['push 0.1\npush 0.2\nadd\nout', '0.30000000000000004'],
    ];
    for (const [source, expected] of cases) assert.equal(await output(source), expected, source);
  });

  test('comparisons push 1 or 0, and not', async () => {
    const cases: Array<[op: string, a: number, b: number, expected: string]> = [
      ['eq', 2, 2, '1'], ['eq', 2, 3, '0'], ['ne', 2, 3, '1'], ['lt', 2, 3, '1'], ['lt', 3, 3, '0'],
      ['le', 3, 3, '1'], ['gt', 3, 2, '1'], ['gt', 2, 2, '0'], ['ge', 2, 2, '1'], ['ge', 1, 2, '0'],
    ];
    for (const [op, a, b, expected] of cases) assert.equal(await output(`push ${a}\npush ${b}\n${op}\nout`), expected, `${a} ${op} ${b}`);
    assert.equal(await output('push 0\nnot\nout\npush 5\nnot\nout'), '10');
  });

  test('jumps, calls and halt', async () => {
    assert.equal(await output('push 0\njz yes\nouts "no"\nhalt\nyes: outs "yes"'), 'yes');
    assert.equal(await output('push 2\njnz yes\nouts "no"\nhalt\nyes: outs "yes"'), 'yes');
    assert.equal(await output('push 2\njz no\nouts "fell through"\nno:'), 'fell through');
    assert.equal(await output('call twice\ncall twice\nhalt\ntwice: outs "ab"\nret'), 'abab');
    assert.equal(await output('outs "a"\nhalt\nouts "b"'), 'a');
    assert.equal(await output('jmp end\nouts "skipped"\nend:'), '');
  });

  test('deep recursion grows both stacks and unwinds correctly', async () => {
    // sum(n) = n + sum(n - 1): 10,000 frames deep, with values pushed at every level.
    const source = 'in\ncall sum\nout\nhalt\nsum: dup\njz sum.end\ndup\npush 1\nsub\ncall sum\nadd\nsum.end: ret';
    assert.equal(await output(source, '10000'), '50005000');
  });

  test('heap: store, load, and 0 where nothing was stored', async () => {
    assert.equal(await output('push 42\npush 3\nstore\npush 3\nload\nout'), '42');
    assert.equal(await output('push 42\npush 3\nstore\npush 1\nload\nout\npush 9000000000\nload\nout'), '00');
  });

  test('input: in, inlen, inbyte', async () => {
    assert.equal(await output('in\npush 1\nadd\nout', '41'), '42');
    assert.equal(await output('in\nout', '2.5e3'), '2500');
    assert.equal(await output('in\nout', '0xff'), '255');
    assert.equal(await output('inlen\nout', 'héllo'), '6');
    // Reverses the input bytes.
    const reverse = 'inlen\nloop: dup\njz done\npush 1\nsub\ndup\ninbyte\noutb\njmp loop\ndone:';
    assert.equal(await output(reverse, 'stressed'), 'desserts');
  });

  test('output: out, outb, outs escapes, outin', async () => {
    assert.equal(await output('push 104\noutb\npush 105\noutb'), 'hi');
    const { fiber } = await start('outs "a\\tb\\n\\\\ \\"q\\" \\x41\\0 é ; not a comment" ; a comment');
    assert.deepEqual(runToEnd(fiber), { state: 'done', output: kEncoder.encode('a\tb\n\\ "q" A\0 é ; not a comment') });
    assert.equal(await output('outin\noutin', 'ab'), 'abab');
  });

  test('log and logv go to the invocation log', async () => {
    const { fiber, logs } = await start('log "starting"\npush 2.5\nlogv\nlog "caf\\xc3\\xa9"');
    assert.equal(runToEnd(fiber).state, 'done');
    assert.deepEqual(logs, ['starting', '2.5', 'café']);
  });

  test('fail ends the invocation with ERR_FUNCTION and the message', async () => {
    assert.deepEqual(await failure('outs "partial"\nfail "bad input: \\"x\\""'), { code: 'ERR_FUNCTION', message: 'bad input: "x"' });
  });
});

describe('traps', () => {
  const cases: Array<[name: string, source: string, input: string, message: string]> = [
    ['stack underflow', 'push 1\nadd', '', 'line 2: add: stack underflow (needs 2 values, the stack has 1)'],
    ['underflow of an empty stack', 'pop', '', 'line 1: pop: stack underflow (needs 1 value, the stack has 0)'],
    ['ret outside any call', 'push 1\nret', '', 'line 2: ret: ret with an empty call stack (ret outside any call)'],
    ['division by zero', 'push 1\npush 0\ndiv', '', 'line 3: div: division by zero'],
    ['integer division by zero', 'push 1\npush 0\nidiv', '', 'line 3: idiv: division by zero'],
    ['modulo by zero', 'push 1\npush 0\nmod', '', 'line 3: mod: division by zero'],
    ['negative address', 'push -1\nload', '', 'line 2: load: bad address -1 (addresses are integers from 0)'],
    ['fractional address', 'push 1\npush 1.5\nstore', '', 'line 3: store: bad address 1.5 (addresses are integers from 0)'],
    ['input that is not a number', 'in', 'abc', 'line 1: in: the input is not a number: "abc"'],
    ['inbyte past the input', 'push 3\ninbyte', 'abc', 'line 2: inbyte: index 3 is outside the input (0 to 2)'],
    ['inbyte of an empty input', 'push 0\ninbyte', '', 'line 2: inbyte: index 0 is outside the input (the input is empty)'],
    ['outb of a non-byte', 'push 256\noutb', '', 'line 2: outb: 256 is not a byte (an integer from 0 to 255)'],
  ];
  for (const [name, source, input, message] of cases) {
    test(name, async () => assert.deepEqual(await failure(source, input), { code: 'ERR_TRAP', message }));
  }
});

describe('memory budget', () => {
  test('memoryBytes counts stack slots, heap cells, call frames and output bytes', async () => {
    const source = [
      'push 7', 'push 9', 'store', // heap cells 0..9: 80 bytes
      'push 1', 'push 2', 'push 3', // 3 stack slots: 24 bytes
      'outs "abc"', // 3 bytes
      'call f', // 1 frame: 16 bytes
      'f: halt',
    ].join('\n');
    const { fiber } = await start(source);
    assert.equal(runToEnd(fiber).state, 'done');
    assert.equal(fiber.memoryBytes, 80 + 24 + 3 + 16);
  });

  test('memoryBytes is the high-water mark, not what is held at the end', async () => {
    // Pushes 1,000 values and drops them, then recurses 100 deep and returns: the peaks stay reported.
    const { fiber } = await start('push 1\n'.repeat(1000) + 'pop\n'.repeat(1000));
    assert.equal(runToEnd(fiber).state, 'done');
    assert.equal(fiber.memoryBytes, 1000 * 8);
    const deep = await start('push 100\ncall down\nhalt\ndown: push 1\nsub\ndup\njz down.end\ncall down\ndown.end: ret');
    assert.equal(runToEnd(deep.fiber).state, 'done');
    assert.equal(deep.fiber.memoryBytes, 100 * 16 + 2 * 8); // 100 frames, with n and the 1 being subtracted at the deepest
  });

  test('one store far away fails at once, without allocating', async () => {
    const { fiber } = await start('push 1\npush 1e12\nstore', '', { memoryBytes: kMiB });
    assert.deepEqual(fiber.run({ endsAt: performance.now() + 5 }), {
      state: 'failed',
      error: {
        code: 'ERR_MEMORY_BUDGET',
        message: 'line 3: store: memory budget exceeded: this would hold 8000000000008 bytes (stack 0, heap 8000000000008, call frames 0, output 0), over the budget of 1048576 bytes',
      },
    });
    assert.equal(fiber.memoryBytes, 16);
  });

  test('deep recursion is charged per frame and stops at the budget', async () => {
    const { fiber } = await start('f: call f', '', { memoryBytes: kMiB });
    const outcome = runToEnd(fiber);
    assert.equal(outcome.state === 'failed' && outcome.error.code, 'ERR_MEMORY_BUDGET');
    assert.match(outcome.state === 'failed' ? outcome.error.message : '', /^line 1: call: memory budget exceeded: this would hold 1048592 bytes \(stack 0, heap 0, call frames 1048592, output 0\)/);
    assert.equal(fiber.memoryBytes, kMiB);
  });

  test('recursion that also pushes stops at the budget', async () => {
    const { fiber } = await start('f: push 1\ncall f', '', { memoryBytes: kMiB });
    const outcome = runToEnd(fiber);
    assert.equal(outcome.state === 'failed' && outcome.error.code, 'ERR_MEMORY_BUDGET');
    assert.ok(fiber.memoryBytes <= kMiB && fiber.memoryBytes > kMiB - 24, `memoryBytes ${fiber.memoryBytes}`);
  });

  test('an ever-growing stack stops at the budget', async () => {
    const { fiber } = await start('loop: push 1\njmp loop', '', { memoryBytes: kMiB });
    const outcome = runToEnd(fiber);
    assert.match(outcome.state === 'failed' ? `${outcome.error.code} ${outcome.error.message}` : '', /^ERR_MEMORY_BUDGET line 1: push: memory budget exceeded: this would hold 1048584 bytes \(stack 1048584, /);
    assert.equal(fiber.memoryBytes, kMiB);
  });

  test('output counts against the budget', async () => {
    const { fiber } = await start(`loop: outs "${'x'.repeat(1000)}"\njmp loop`, '', { memoryBytes: kMiB });
    const outcome = runToEnd(fiber);
    assert.match(outcome.state === 'failed' ? `${outcome.error.code} ${outcome.error.message}` : '', /^ERR_MEMORY_BUDGET line 1: outs: memory budget exceeded: this would hold 1049000 bytes \(stack 0, heap 0, call frames 0, output 1049000\)/);
    assert.equal(fiber.memoryBytes, 1048000);
  });
});

describe('preemption and cancellation', () => {
  test('run() reads the clock once per batch and returns at the first reading at or past endsAt', async (t) => {
    const { fiber } = await start(await example('spin.sm'));
    let readings = 0;
    // A clock that advances one unit per reading makes the slice end deterministic. run() is
    // synchronous, so nothing else can see the fake clock.
    const clock = t.mock.method(performance, 'now', () => ++readings);
    try {
      assert.equal(fiber.run({ endsAt: 5 }).state, 'yield');
      assert.equal(readings, 5);
      assert.equal(fiber.run({ endsAt: 6 }).state, 'yield');
      assert.equal(readings, 6);
    } finally {
      clock.mock.restore();
    }
  });

  test('each slice returns close after its end, slice after slice', async () => {
    const { fiber } = await start(await example('spin.sm'));
    // Warm up first: until V8 optimizes run(), the interpreter allocates a number per arithmetic
    // result, and a garbage collection inside a slice is the engine's pause, not the plugin's.
    for (let slice = 0; slice < 20; slice++) fiber.run({ endsAt: performance.now() + 2 });
    const overrunsMs: number[] = [];
    for (let slice = 0; slice < 50; slice++) {
      const endsAt = performance.now() + 2;
      assert.equal(fiber.run({ endsAt }).state, 'yield');
      overrunsMs.push(performance.now() - endsAt);
    }
    overrunsMs.sort((a, b) => a - b);
    const shown = overrunsMs.map((ms) => ms.toFixed(3)).join(' ');
    assert.ok(overrunsMs[0]! >= 0, `a slice returned before its end: ${shown}`);
    // On a busy machine the OS takes the CPU away for milliseconds in the middle of many slices
    // (seen here with three test processes on two cores), so judge the slices that kept the CPU:
    // the quickest quarter. Alone, nearly every slice returns within ~30 µs (doc/sm.md).
    assert.ok(overrunsMs[12]! < 0.2, `a quarter of the slices overran by 0.2 ms or more: ${shown}`);
  });

  test('a slice that starts past its end still runs a batch', async () => {
    const { fiber } = await start(await example('sum.sm'), '1000');
    let slices = 0;
    let outcome: SliceOutcome;
    do {
      outcome = fiber.run({ endsAt: 0 });
      slices++;
    } while (outcome.state === 'yield' && slices < 1000);
    assert.equal(outcome.state, 'done');
    assert.ok(slices > 1 && slices < 1000, `${slices} slices`);
  });

  test('cancel() ends the fiber; later runs return the cancel reason', async () => {
    const { fiber } = await start(await example('spin.sm'));
    assert.equal(fiber.run({ endsAt: performance.now() + 1 }).state, 'yield');
    const reason: ErrorRecord = { code: 'ERR_CPU_BUDGET', message: 'cpu budget of 1 ms used up' };
    fiber.cancel(reason);
    fiber.cancel({ code: 'ERR_CANCELLED', message: 'a second cancel changes nothing' });
    const started = performance.now();
    assert.deepEqual(fiber.run({ endsAt: performance.now() + 50 }), { state: 'failed', error: reason });
    assert.ok(performance.now() - started < 10, 'run() after cancel() ran guest code');
  });

  test('cancel() after the end changes nothing', async () => {
    const { fiber } = await start('outs "ok"');
    const done = runToEnd(fiber);
    fiber.cancel({ code: 'ERR_CANCELLED', message: 'too late' });
    assert.deepEqual(fiber.run({ endsAt: performance.now() + 1 }), done);
  });
});

describe('consistency', () => {
  test('the interpreter\'s case labels match the Op table', async () => {
    // The switch uses number literals for speed (see interpreter.ts); this keeps them honest.
    const source = await readFile(new URL('../plugins/sm/interpreter.ts', import.meta.url), 'utf8');
    const cases = [...source.matchAll(/case (\d+) \/\* (\w+) \*\/:/g)].map((match) => [match[2], Number(match[1])]);
    assert.deepEqual(Object.fromEntries(cases), Op);
  });

  test('doc/sm.md gives every instruction a row with its stack effect', async () => {
    const doc = await readFile(new URL('../doc/sm.md', import.meta.url), 'utf8');
    const rows = doc.split('\n').filter((line) => line.startsWith('| `'));
    for (const [name, spec] of kInstructions) {
      if (name === 'drop') continue; // an alias, described in pop's row
      const row = rows.find((line) => line.startsWith(`| \`${name}\``) || line.startsWith(`| \`${name} `));
      assert.ok(row?.includes(`| \`${spec.effect}\` |`), `doc/sm.md has no row for ${name} with effect ${spec.effect}`);
    }
  });
});
