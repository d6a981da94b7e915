// fan-out.js: ctx.invoke in parallel. Input a JSON array of numbers; calls `lua-fib` on each at
// once (each call is its own invocation under lua-fib's budget) and answers the results with their
// sum. Deployed with --allow-invoke lua-fib; its --invoke-calls budget caps how many it may make.
export default async function (input, ctx) {
  const numbers = JSON.parse(input);
  const results = await Promise.all(numbers.map((n) => ctx.invoke('lua-fib', String(n))));
  const values = results.map(Number);
  return { values, sum: values.reduce((a, b) => a + b, 0) };
}
