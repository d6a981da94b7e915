import type { Budget } from '../engine/budget.ts';

/**
 * The budget as users spell it: the CLI's flags (`--cpu-ms`), the HTTP deploy's query parameters
 * (`?cpu-ms=`) and the config file's keys share these names. Each maps to a Budget field and the
 * factor from the user's unit to the engine's (memory is given in MiB, stored in bytes).
 */
export const kBudgetFields: readonly { readonly name: string, readonly field: keyof Budget, readonly scale: number }[] = [
  { name: 'cpu-ms', field: 'cpuMs', scale: 1 },
  { name: 'wall-ms', field: 'wallMs', scale: 1 },
  { name: 'memory-mb', field: 'memoryBytes', scale: 2 ** 20 },
  { name: 'net-requests', field: 'netRequests', scale: 1 },
  { name: 'net-bytes', field: 'netBytes', scale: 1 },
  { name: 'net-rate', field: 'netRateBytesPerSec', scale: 1 },
  { name: 'invoke-calls', field: 'invokeCalls', scale: 1 },
  { name: 'kv-bytes', field: 'kvBytes', scale: 1 },
];

/** The repeatable allow-list entry, by the same convention. */
export const kAllowHostName = 'allow-host';

/** Functions a function may ctx.invoke (`name,name,prefix*`; repeatable), and the shared kv namespaces it is granted (`NAMESPACE:ro|rw`; repeatable). */
export const kAllowInvokeName = 'allow-invoke';
export const kKvGrantName = 'kv';

/** The repeatable list entries and their Budget fields; `split`: an entry may hold several, comma-separated. */
export const kBudgetLists: readonly { readonly name: string, readonly field: keyof Budget, readonly split: boolean }[] = [
  { name: kAllowHostName, field: 'allowHosts', split: false },
  { name: kAllowInvokeName, field: 'allowInvoke', split: true },
  { name: kKvGrantName, field: 'kv', split: true },
];

/** Repeated list flags, each possibly comma-separated, as one list. */
function splitEntries (values: readonly string[]): string[] {
  return values.flatMap((value) => value.split(',')).map((entry) => entry.trim()).filter((entry) => entry !== '');
}

/**
 * Builds a partial budget from user-spelled values; ranges are the engine's to check.
 * @param get the text given for a name, or undefined when absent
 * @param getList the texts given for a repeatable name, or undefined when absent
 * @param fail makes the error for a value that is not a number (the caller knows how to name it)
 */
export function budgetFromStrings (get: (name: string) => unknown, getList: (name: string) => readonly string[] | undefined, fail: (name: string, text: unknown) => Error): Partial<Budget> {
  const budget: Record<string, unknown> = {};
  for (const { name, field, scale } of kBudgetFields) {
    const text = get(name);
    if (text === undefined) continue;
    const value = typeof text === 'number' ? text : Number(text);
    if ((typeof text !== 'string' && typeof text !== 'number') || (typeof text === 'string' && text.trim() === '') || !Number.isFinite(value)) throw fail(name, text);
    budget[field] = Math.round(value * scale);
  }
  for (const { name, field, split } of kBudgetLists) {
    const values = getList(name);
    if (values !== undefined) budget[field] = split ? splitEntries(values) : values;
  }
  return budget;
}
