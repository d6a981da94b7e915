// visit-counter.js: state in kv. Input a name; output a greeting with how many times that name
// has visited. Each name's count is a key in the function's own kv namespace, kept across
// invocations and restarts (doc/kv.md).
export default async function (input, ctx) {
  const name = input.trim() || 'stranger';
  const visits = Number(await ctx.kv.get(`visits:${name}`) ?? 0) + 1;
  await ctx.kv.put(`visits:${name}`, String(visits));
  return `hello ${name}, visit ${visits}`;
}
