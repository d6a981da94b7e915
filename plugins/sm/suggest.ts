/**
 * The known name a mistyped word most likely meant: same letters in another case, or one edit
 * (insert, delete, replace, swap of neighbours) away. Undefined when nothing is that close.
 */
export function closestName (word: string, names: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  const candidates = [...names];
  for (const name of candidates) if (name === lower) return name;
  for (const name of candidates) if (isOneEditApart(lower, name)) return name;
  return undefined;
}

function isOneEditApart (a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1 || a === b) return false;
  let start = 0;
  while (start < a.length && a[start] === b[start]) start++;
  if (a.length === b.length) {
    if (a.slice(start + 1) === b.slice(start + 1)) return true;
    return a[start] === b[start + 1] && a[start + 1] === b[start] && a.slice(start + 2) === b.slice(start + 2);
  }
  return a.length > b.length ? a.slice(start + 1) === b.slice(start) : a.slice(start) === b.slice(start + 1);
}
