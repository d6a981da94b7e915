import type { CallUsage, Usage } from '../budget.ts';

/**
 * Most calls one invocation's usage itemises, its callees' nested lists included. A tree of calls
 * can hold many thousands of invocations; its root's result must stay a small header (the socket
 * protocol's frames are bounded). Past it, a callee is listed without its own list, then not at all,
 * and what is left out is counted in `callsOmitted`.
 */
export const kMaxItemisedCalls = 1024;

/** An invocation's usage.calls, kept under kMaxItemisedCalls entries. */
export class CallList {
  readonly #entries: CallUsage[] = [];
  #itemised = 0;
  #omitted = 0;

  add (entry: CallUsage): void {
    const nested = listed(entry.usage);
    if (this.#itemised + 1 + nested <= kMaxItemisedCalls) {
      this.#entries.push(entry);
      this.#itemised += 1 + nested;
    } else if (this.#itemised + 1 <= kMaxItemisedCalls) {
      const { calls: _calls, ...own } = entry.usage;
      this.#entries.push({ ...entry, usage: { ...own, callsOmitted: callsMade(entry.usage) } });
      this.#itemised += 1;
    } else {
      this.#omitted += 1 + callsMade(entry.usage);
    }
  }

  /** Adds the list (and the count of what it left out) to the invocation's usage. */
  addTo (usage: Usage): void {
    if (this.#entries.length > 0) usage.calls = this.#entries;
    if (this.#omitted > 0) usage.callsOmitted = this.#omitted;
  }
}

/** Entries listed under a usage, nested lists included. */
function listed (usage: Usage): number {
  let count = 0;
  for (const call of usage.calls ?? []) count += 1 + listed(call.usage);
  return count;
}

/** Calls made under a usage, listed or not, its callees' included. */
export function callsMade (usage: Usage): number {
  let count = usage.callsOmitted ?? 0;
  for (const call of usage.calls ?? []) count += 1 + callsMade(call.usage);
  return count;
}
