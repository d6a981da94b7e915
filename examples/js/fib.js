// fib.js: input N (default 25), output the Nth Fibonacci number, computed the slow recursive way.
function fib (n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

export default function (input) {
  const n = input.trim() === '' ? 25 : Number(input);
  if (!Number.isInteger(n) || n < 0 || n > 40) throw new RangeError(`input must be an integer from 0 to 40: got ${JSON.stringify(input)}`);
  return String(fib(n));
}
