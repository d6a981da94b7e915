/**
 * The workloads of experiments/cpu-budget-precision.ts: per language, functions that try to run
 * past their CPU budget, each with the budget it is deployed under. Besides plain infinite loops,
 * the hostile ones spend their time inside a single long host or built-in call (a native
 * `indexOf`, `join`, `string.rep`, a host call from C), where a clock check between guest
 * instructions never comes: these are the ones a plugin has to stop on purpose.
 */

const kMiB = 2 ** 20;

/** One function to deploy and invoke repeatedly. */
export interface BudgetWorkload {
  /** The language it is deployed as. */
  readonly language: string;
  /** A short name, unique within its language. */
  readonly workload: string;
  /** What it does, in one line, for the table. */
  readonly description: string;
  readonly source: string;
  /** CPU budget, ms. */
  readonly cpuMs: number;
  /** Wall-clock budget, ms: the engine's own bound on how long one invocation may take. */
  readonly wallMs: number;
  /** Memory budget, bytes; undefined: the engine's default (the sm rows, as measured before). */
  readonly memoryBytes: number | undefined;
  /** Invocations in a full run (a quick run makes one of each, ten of sm). */
  readonly runs: number;
  /** The sm rows (many runs, several budgets) that the quick run keeps at two budgets. */
  readonly smLoop?: true;
}

/** Wall budget of a hostile workload: long enough never to stop one that is stopped on CPU, short enough to end the experiment. */
function wallFor (cpuMs: number): number {
  return cpuMs * 20 + 2000;
}

const kHostileRuns = 5;
const kMemory = 16 * kMiB;

function hostile (language: string, workload: string, description: string, source: string, cpuMs = 100, wallMs = wallFor(cpuMs), memoryBytes = kMemory): BudgetWorkload {
  return { language, workload, description, source, cpuMs, wallMs, memoryBytes, runs: kHostileRuns };
}

/** A JS module (js and quickjs) whose default export runs `body`. */
function jsFunction (body: string, topLevel = ''): string {
  return `${topLevel}export default function (input, ctx) {\n  ${body}\n}\n`;
}

/** A Lua chunk (lua and lua54) returning a function that runs `body`. */
function luaFunction (body: string): string {
  return `return function (input, ctx)\n  ${body}\nend\n`;
}

/** A C function (doc/c.md) running `body`; `prelude` goes before the handler. */
function cFunction (body: string, prelude = ''): string {
  return `#include <springbok.h>\n${prelude}\nint handler(const char *input, size_t len) {\n  (void)input; (void)len;\n  ${body}\n}\n`;
}

const kSmBudgetsMs = [5, 10, 50, 100, 500];

/** The sm infinite loop under several budgets, as this experiment has always measured it (wall 20x + 1 s, default memory). */
function smLoops (spinSource: string): BudgetWorkload[] {
  return kSmBudgetsMs.map((cpuMs) => ({ language: 'sm', workload: `loop-${cpuMs}ms`, description: `examples/sm/spin.sm, cpu ${cpuMs} ms`, source: spinSource, cpuMs, wallMs: cpuMs * 20 + 1000, memoryBytes: undefined, runs: 100, smLoop: true }));
}

function quickjsAndJs (language: 'js' | 'quickjs'): BudgetWorkload[] {
  const indexOfLoop = jsFunction('const a = new Uint8Array(5e7);\n  for (;;) a.indexOf(1);');
  const rows = [
    hostile(language, 'indexOf-loop', 'Uint8Array(5e7), indexOf(1) in a loop', indexOfLoop),
    // The same under 64 MiB: the 50 MB array fits, so the loop of long native calls is reached (under 16 MiB the allocation alone is refused).
    hostile(language, 'indexOf-loop-64M', 'the same, memory 64 MiB', indexOfLoop, 100, wallFor(100), 64 * kMiB),
    hostile(language, 'normalize-loop', '\'é\'.repeat(1e6).normalize(\'NFD\') in a loop', jsFunction('const s = \'é\'.repeat(1e6);\n  for (;;) s.normalize(\'NFD\');'), 100, wallFor(100), 64 * kMiB),
    hostile(language, 'json-parse-loop', 'JSON.parse of a 1e6-number array in a loop', jsFunction('const text = JSON.stringify(new Array(1e6).fill(1));\n  for (;;) JSON.parse(text);'), 100, wallFor(100), 64 * kMiB),
    // An operator, not a call: V8 has no entry to look for the termination at (doc/security.md, weak spots).
    hostile(language, 'equality-loop', 'two 3e7-char strings compared with === in a loop', jsFunction('const s = \'a\'.repeat(3e7), t = \'a\'.repeat(3e7 - 1) + \'b\';\n  let same = 0;\n  for (;;) same += s === t;'), 100, wallFor(100), 128 * kMiB),
  ];
  if (language === 'quickjs') {
    rows.push(
      hostile(language, 'join', 'one new Array(3e7).fill(\'abc\').join(\',\')', jsFunction('return new Array(3e7).fill(\'abc\').join(\',\');')),
      hostile(language, 'replaceAll', '\'a\'.repeat(1e8).replaceAll(\'a\', \'bb\')', jsFunction('return \'a\'.repeat(1e8).replaceAll(\'a\', \'bb\');')),
      hostile(language, 'repeat-output', 'return \'ab\'.repeat(1e8) (2e8 chars)', jsFunction('return \'ab\'.repeat(1e8);'), 300, 1000),
    );
  } else {
    rows.push(hostile(language, 'repeat-output', 'return \'x\'.repeat(1e8)', jsFunction('return \'x\'.repeat(1e8);'), 300, 1000));
  }
  rows.push(
    hostile(language, 'loop', 'for (;;) {}', jsFunction('for (;;) {}')),
    hostile(language, 'top-level-loop', 'for (;;) {} at module top level', jsFunction('return \'unreachable\';', 'for (;;) {}\n')),
  );
  return rows;
}

function luaRows (language: 'lua' | 'lua54'): BudgetWorkload[] {
  return [
    hostile(language, 'rep', 'string.rep(\'x\', 2e8)', luaFunction('return string.rep(\'x\', 2e8)')),
    hostile(language, 'find-loop', 'plain find on 1 MB in a loop', luaFunction('local s = string.rep(\'a\', 1e6) .. \'b\'\n  while true do s:find(\'c\', 1, true) end')),
    hostile(language, 'upper-lower-loop', 's:upper():lower() of 5 MB in a loop', luaFunction('local s = string.rep(\'a\', 5e6)\n  while true do s = s:upper():lower() end')),
    hostile(language, 'concat-loop', 'table.concat of 1e6 strings in a loop', luaFunction('local t = {}\n  for i = 1, 1e6 do t[i] = \'abc\' end\n  while true do table.concat(t, \',\') end')),
    hostile(language, 'loop', 'while true do end', luaFunction('while true do end')),
  ];
}

function cRows (): BudgetWorkload[] {
  const cpuMs = 50;
  return [
    hostile('c', 'random-loop', 'WASI random_get of 64 KiB in a loop', cFunction('for (;;) __wasi_random_get(buffer, sizeof buffer);', '#include <wasi/api.h>\nstatic uint8_t buffer[65536];'), cpuMs),
    hostile('c', 'log-loop', 'sb_log of 64 KiB in a loop', cFunction('for (size_t i = 0; i < sizeof line; i++) line[i] = \'x\';\n  for (;;) sb_log(line, sizeof line);', 'static char line[65536];'), cpuMs),
    hostile('c', 'loop', 'for (;;) on a volatile counter', cFunction('volatile unsigned long counter = 0;\n  for (;;) counter++;'), cpuMs),
  ];
}

/**
 * Every workload, sm first. `withC` is false when the C toolchain is missing (its rows are then
 * left out, and the experiment says so).
 */
export function budgetWorkloads (spinSource: string, withC: boolean): BudgetWorkload[] {
  return [...smLoops(spinSource), ...quickjsAndJs('quickjs'), ...quickjsAndJs('js'), ...luaRows('lua'), ...luaRows('lua54'), ...(withC ? cRows() : [])];
}
