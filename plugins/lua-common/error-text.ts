import { kMaxTracebackChars, kPreludeChunkName } from './limits.ts';

const kPreludeName = kPreludeChunkName.slice(1);

/**
 * A Lua error message with the useful part of its traceback: springbok's own frames (the
 * prelude, the C call that started the invocation) are dropped, and the whole is capped.
 */
export function errorWithTraceback (message: string, traceback: string | undefined): string {
  if (traceback === undefined) return message;
  const lines = traceback.split('\n').filter((line) => !line.includes(kPreludeName) && !/^\s*\[C\]: in \?$/.test(line) && !/in function <function\.lua:0>/.test(line));
  if (lines.length <= 1) return message; // only "stack traceback:"
  const text = `${message}\n${lines.join('\n')}`;
  return text.length > kMaxTracebackChars ? `${text.slice(0, kMaxTracebackChars)}\n\t...` : text;
}

/** How a non-string error value is reported (its __tostring is guest code: not run by the host). */
export function describeErrorValue (type: string): string {
  return `(error object is a ${type} value)`;
}
