/**
 * Entry checkpoints for V8's long-running builtins: a script fragment for the guest prelude that
 * replaces each builtin below with a JavaScript function of the same name and length that calls it.
 *
 * Why: V8 honours a termination request (the engine's CPU watchdog) only at a stack check. Every
 * JavaScript function checks on entry, but a loop back edge checks only when the loop's bytecode
 * budget runs out, and builtins written in C++ never check. So `for (;;) u8.indexOf(1)` on a 50 MB
 * array ran 15 s past a 100 ms timeout (measured on Node 24: `normalize` 20 s, `JSON.parse` 45 s):
 * each call returns to a loop that does not look. With a JavaScript function around the builtin,
 * every call is an entry, and the same loops stop within 1.2-2.9x their timeout. One call on its own
 * stays uninterruptible; its length is bounded by the data the memory budget lets the guest hold.
 *
 * The list holds the builtins whose work grows with their input and that call no guest code (those
 * that take a callback check on every callback's entry). A wrapped call costs about 8 ns more.
 * Operators cannot be wrapped: `===` of two huge strings or BigInt arithmetic in a loop still runs
 * on past its timeout (doc/security.md, known weak spots).
 */
const kLongBuiltins: readonly (readonly [holder: string, names: readonly string[]])[] = [
  ['Object.getPrototypeOf(Uint8Array.prototype)', ['indexOf', 'lastIndexOf', 'includes', 'fill', 'copyWithin', 'reverse', 'set', 'slice', 'sort', 'toSorted', 'toReversed', 'with', 'join', 'toLocaleString']],
  // Array.prototype.fill is already a guest function (the prelude's length guard).
  ['Array.prototype', ['indexOf', 'lastIndexOf', 'includes', 'copyWithin', 'reverse', 'slice', 'splice', 'concat', 'flat', 'join', 'toString', 'toLocaleString', 'toReversed', 'toSorted', 'toSpliced', 'with']],
  ['String.prototype', ['indexOf', 'lastIndexOf', 'includes', 'startsWith', 'endsWith', 'localeCompare', 'normalize', 'toUpperCase', 'toLowerCase', 'toLocaleUpperCase', 'toLocaleLowerCase', 'replace', 'replaceAll', 'split', 'repeat', 'padStart', 'padEnd', 'concat', 'match', 'matchAll', 'search', 'isWellFormed', 'toWellFormed']],
  ['String', ['fromCharCode', 'fromCodePoint']],
  ['JSON', ['parse', 'stringify']],
  ['ArrayBuffer.prototype', ['slice', 'resize', 'transfer', 'transferToFixedLength']],
  ['BigInt.prototype', ['toString', 'toLocaleString']],
  ['globalThis', ['encodeURI', 'encodeURIComponent', 'decodeURI', 'decodeURIComponent', 'escape', 'unescape']],
];

/**
 * The fragment: a statement that wraps every builtin of the list and makes
 * `Function.prototype.toString` show each wrapper as the native code it stands for.
 */
export function entryCheckpointsSource (): string {
  return `{
  const wrapped = new WeakMap(), weakGet = WeakMap.prototype.get, weakSet = WeakMap.prototype.set;
  const defineProperty = Object.defineProperty, applyNative = Reflect.apply;
  const checkpoint = (holder, names) => {
    for (const name of names) {
      const native = holder[name];
      if (typeof native !== 'function') continue;
      // strict-mode arguments: no rest array is built, so the call stays cheap once optimised.
      const wrapper = { [name] () { return applyNative(native, this, arguments); } }[name];
      defineProperty(wrapper, 'length', { value: native.length });
      applyNative(weakSet, wrapped, [wrapper, native]);
      defineProperty(holder, name, { value: wrapper, writable: true, configurable: true, enumerable: false });
    }
  };
${kLongBuiltins.map(([holder, names]) => `  checkpoint(${holder}, ${JSON.stringify(names)});`).join('\n')}
  const nativeToString = Function.prototype.toString;
  const shownAs = function toString () { return applyNative(nativeToString, applyNative(weakGet, wrapped, [this]) ?? this, arguments); };
  applyNative(weakSet, wrapped, [shownAs, nativeToString]);
  defineProperty(Function.prototype, 'toString', { value: shownAs, writable: true, configurable: true, enumerable: false });
}`;
}
