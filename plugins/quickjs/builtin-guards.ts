/**
 * Guards for QuickJS builtins that can run long inside one call, where no interrupt poll reaches
 * them: a single `'ab'.repeat(2e8)` ran 2.3 s against a 300 ms CPU budget (measured before this
 * file). Evaluated in a function's context after the shared prelude; it wraps each builtin below
 * with a version that, before calling the native one:
 *
 * - refuses a result that cannot fit in the memory budget (a RangeError worded like QuickJS's own
 *   `out of memory`, so the prelude reports it as ERR_MEMORY_BUDGET), and
 * - asks the host, through `afford(ms, what)`, whether the call's estimated cost fits in what is
 *   left of the invocation's CPU budget. When it does not, the host marks the invocation over its
 *   CPU budget (ERR_CPU_BUDGET, uncatchable: the next interrupt poll unwinds the guest) and the
 *   wrapper throws instead of starting the work.
 *
 * - for a call on a large receiver (more than 50 µs of estimated work), makes the host poll for
 *   interrupts right after it. QuickJS polls every N backward jumps or calls, N paced by time
 *   (poll-pacer.ts); a loop of cheap ticks raises N to 10,000, and a loop that then calls a linear
 *   builtin on a big receiver (`for (;;) a.indexOf(1)` on a 50 MB typed array) ran 10,000 such calls
 *   before the next poll: 8.4 s against a 100 ms CPU budget (measured before this guard). The
 *   linear builtins without a callback (which would tick) are wrapped below with a per-element
 *   estimate; with the poll right after each big call the pacer sees the cost and polls every call.
 *
 * Costs are per unit of work, measured in this build on the 2-core test machine under load
 * (node 24.21, release-sync): repeat 9–12 ns per repetition plus 0.3 ns per character; padStart
 * 8 ns per fill character; join 63 ns per string element, 286 per number; replaceAll 56 ns per
 * match plus 0.3 ns per character; Array.prototype.fill 28 ns per element. The estimates round up, so a call that fits runs natively,
 * and one that does not is stopped before it starts, not seconds later.
 *
 * Script completion value: `function (afford, memoryBytes)` that installs the wrappers.
 */
export const kBuiltinGuardsSource = `(function (afford, memoryBytes) {
'use strict';
const apply = Reflect.apply, defineProperty = Object.defineProperty, NativeRangeError = RangeError, NativeArray = Array;
const NativeString = String;
const stringProto = String.prototype, arrayProto = Array.prototype;
const typedProto = Object.getPrototypeOf(Uint8Array.prototype);
const typedLength = Object.getOwnPropertyDescriptor(typedProto, 'length').get;
const nativeIndexOf = stringProto.indexOf;
const kNsPerRepeat = 15, kNsPerChar = 0.5, kNsPerPad = 10, kNsPerElement = 150, kNsPerMatch = 70, kNsPerFill = 40;
// Above this estimate a call asks the host (a host call costs about a microsecond), which then polls right after it.
const kAskNs = 5e4;
// Linear builtins, per element or character of a scan or copy, or per comparison of a sort (n log n
// of them), measured like the rest (typed arrays 0.2-0.4 ns, strings 2-8 ns, arrays 5-25 ns) and rounded up.
const kNsPerTypedStep = 0.5, kNsPerCharStep = 10, kNsPerArrayStep = 30;

function tooLarge (what, chars) {
  return new NativeRangeError('out of memory: ' + what + ' would make ' + chars + ' characters, more than the memory budget of ' + memoryBytes + ' bytes');
}
function charge (ns, what) {
  if (ns > kAskNs && !afford(ns / 1e6, what)) throw new NativeRangeError(what + ' would take longer than the CPU budget left');
}
function integer (value) {
  const n = Math.trunc(Number(value));
  return n !== n ? 0 : n;
}
function wrap (proto, name, guard) {
  const native = proto[name];
  if (typeof native !== 'function') return; // not in this build
  const wrapped = { [name] (...args) { guard(this, args); return apply(native, this, args); } }[name];
  defineProperty(wrapped, 'length', { value: native.length });
  defineProperty(proto, name, { value: wrapped, writable: true, configurable: true, enumerable: false });
}

wrap(stringProto, 'repeat', (self, args) => {
  const length = NativeString(self).length;
  const count = integer(args[0]);
  if (count <= 0 || length === 0 || !(count < Infinity)) return; // the native call throws or returns ''
  const chars = length * count;
  if (chars > memoryBytes) throw tooLarge('String.prototype.repeat', chars);
  charge(count * kNsPerRepeat + chars * kNsPerChar, 'String.prototype.repeat of ' + chars + ' characters');
});
for (const name of ['padStart', 'padEnd']) {
  wrap(stringProto, name, (self, args) => {
    const target = integer(args[0]);
    const length = NativeString(self).length;
    if (target <= length) return;
    const fill = args[1] === undefined ? ' ' : NativeString(args[1]);
    if (fill.length === 0) return;
    if (target > memoryBytes) throw tooLarge('String.prototype.' + name, target);
    charge((target - length) / fill.length * kNsPerPad * 2 + target * kNsPerChar, 'String.prototype.' + name + ' to ' + target + ' characters');
  });
}
wrap(stringProto, 'concat', (self, args) => {
  let chars = NativeString(self).length;
  for (let i = 0; i < args.length; i++) if (typeof args[i] === 'string') chars += args[i].length;
  if (chars > memoryBytes) throw tooLarge('String.prototype.concat', chars);
});
wrap(stringProto, 'replaceAll', (self, args) => {
  const pattern = args[0];
  if (typeof pattern !== 'string') return; // a RegExp: the regexp engine polls for interrupts itself
  const text = NativeString(self);
  const replacement = typeof args[1] === 'string' ? args[1] : '';
  // Counting the matches first is a loop of the guest's own, so it is sliced and interruptible.
  let matches = 0;
  if (pattern.length === 0) matches = text.length + 1;
  else for (let at = apply(nativeIndexOf, text, [pattern]); at >= 0; at = apply(nativeIndexOf, text, [pattern, at + pattern.length])) matches++;
  const chars = text.length + matches * (replacement.length - pattern.length);
  if (chars > memoryBytes) throw tooLarge('String.prototype.replaceAll', chars);
  charge(matches * kNsPerMatch + (text.length + chars) * kNsPerChar, 'String.prototype.replaceAll of ' + matches + ' matches');
});
function joinGuard (what, lengthOf) {
  return (self, args) => {
    const elements = lengthOf(self);
    if (!(elements > 1)) return;
    const separator = args[0] === undefined ? 1 : NativeString(args[0]).length;
    const chars = (elements - 1) * separator;
    if (chars > memoryBytes) throw tooLarge(what, chars);
    charge(elements * kNsPerElement + chars * kNsPerChar, what + ' of ' + elements + ' elements');
  };
}
wrap(arrayProto, 'fill', (self, args) => {
  const elements = self == null ? 0 : integer(self.length);
  if (elements > 1) charge(elements * kNsPerFill, 'Array.prototype.fill of ' + elements + ' elements');
});
wrap(arrayProto, 'join', joinGuard('Array.prototype.join', (self) => self == null ? 0 : integer(self.length)));
wrap(typedProto, 'join', joinGuard('TypedArray.prototype.join', (self) => apply(typedLength, self, [])));

function lengthOf (value) {
  if (typeof value === 'string') return value.length;
  if (value === null || typeof value !== 'object') return 0;
  return integer(value.length);
}
const kNoArguments = Object.freeze([]);
function typedLengthOf (self) {
  try { return apply(typedLength, self, kNoArguments); } catch { return 0; } // not a typed array: the native call throws
}
// Wraps linear builtins without a callback. The wrapper is on the hot path of ordinary code
// ('a,b'.indexOf(',') in a loop): it reads the receiver's length inline (a function call costs
// about 0.1 µs in QuickJS), and below \`quiet\` elements goes straight to the native call; only a
// receiver big enough to cost kAskNs (sorts: n log2 n steps) builds a message and asks. A generic
// call on an array-like object reads its length once more than the native call does.
function linear (proto, names, kind, nsPerStep) {
  const quiet = kAskNs / nsPerStep / 32;
  for (const name of names) {
    const native = proto[name];
    if (typeof native !== 'function') continue; // not in this build
    const sorts = name === 'sort' || name === 'toSorted';
    const addsArguments = name === 'set' || name === 'concat';
    const wrapped = { [name] () {
      let elements = kind === 'String' ? (typeof this === 'string' ? this.length : NativeString(this).length)
        : kind === 'Array' ? (this instanceof NativeArray ? this.length : lengthOf(this))
          : typedLengthOf(this);
      if (addsArguments) for (let i = 0; i < arguments.length; i++) elements += lengthOf(arguments[i]);
      // A sort with a comparator ticks at every comparison: the poll reaches it.
      if (elements > quiet && !(sorts && arguments[0] !== undefined)) {
        charge((sorts ? elements * Math.log2(elements) : elements) * nsPerStep, kind + '.prototype.' + name + ' of ' + elements + ' elements');
      }
      return apply(native, this, arguments);
    } }[name];
    defineProperty(wrapped, 'length', { value: native.length });
    defineProperty(proto, name, { value: wrapped, writable: true, configurable: true, enumerable: false });
  }
}
// JSON.parse costs 5 ns per character of a long string to 65 of objects and numbers (measured): its
// estimate is the low end, so a parse that could fit is never refused, and the poll after a big one
// still shows the pacer what it cost.
const kNsPerJsonChar = 5;
wrap(JSON, 'parse', (self, args) => {
  const text = args[0];
  if (typeof text === 'string' && text.length * kNsPerJsonChar > kAskNs) charge(text.length * kNsPerJsonChar, 'JSON.parse of ' + text.length + ' characters');
});
const kScans = ['indexOf', 'lastIndexOf', 'includes', 'slice', 'copyWithin', 'reverse'];
linear(typedProto, [...kScans, 'fill', 'set', 'sort', 'toReversed', 'toSorted', 'with'], 'TypedArray', kNsPerTypedStep);
linear(arrayProto, [...kScans, 'concat', 'splice', 'flat', 'sort', 'toReversed', 'toSorted', 'toSpliced', 'with'], 'Array', kNsPerArrayStep);
linear(stringProto, ['indexOf', 'lastIndexOf', 'includes', 'split', 'slice', 'substring', 'toUpperCase', 'toLowerCase', 'trim', 'normalize', 'localeCompare'], 'String', kNsPerCharStep);
})`;
