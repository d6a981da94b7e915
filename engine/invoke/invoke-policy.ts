import { EngineError } from '../errors.ts';
import { kNameSource } from '../names.ts';

/**
 * Which calls ctx.invoke may make: the callee must be named by the caller's deploy
 * (`--allow-invoke`), the chain of calls must stay shallower than kMaxInvokeDepth, and one
 * invocation makes at most its budget's invokeCalls calls.
 */

/** An allowInvoke entry: a function name, or a prefix of one ending in `*` (`*` alone allows every function). */
export const kInvokeEntryPattern = new RegExp(`^(?:${kNameSource}\\*?|\\*)$`);

/**
 * Deepest chain of ctx.invoke calls: an invocation accepted from outside is at depth 0, its
 * callees at 1, theirs at 2... A call whose callee would be deeper is refused (ERR_INVOKE_DEPTH),
 * so a function that calls itself (or a cycle of functions) stops this many calls deep, each
 * level waiting and none using CPU.
 */
export const kMaxInvokeDepth = 8;

/** True when `allowInvoke` names `callee`, exactly or by a prefix entry. */
export function mayInvoke (allowInvoke: readonly string[], callee: string): boolean {
  for (const entry of allowInvoke) {
    if (entry.endsWith('*') ? callee.startsWith(entry.slice(0, -1)) : entry === callee) return true;
  }
  return false;
}

/**
 * Checks one call before it is sent.
 * @param callerDepth the calling invocation's depth
 * @param callsMade calls the invocation made before this one
 * @throws {EngineError} ERR_INVOKE_DENIED, ERR_INVOKE_BUDGET, ERR_INVOKE_DEPTH.
 */
export function checkCall (caller: string, callee: string, allowInvoke: readonly string[], invokeCalls: number, callsMade: number, callerDepth: number): void {
  if (!mayInvoke(allowInvoke, callee)) {
    throw new EngineError('ERR_INVOKE_DENIED', `${caller} may not invoke ${JSON.stringify(callee)}: its deploy allows ${allowInvoke.length === 0 ? 'no calls (--allow-invoke)' : allowInvoke.join(', ')}`);
  }
  if (callsMade >= invokeCalls) throw new EngineError('ERR_INVOKE_BUDGET', `invoke budget of ${invokeCalls} calls per invocation used up`);
  if (callerDepth >= kMaxInvokeDepth) throw new EngineError('ERR_INVOKE_DEPTH', `a call from ${caller} to ${callee} would be ${callerDepth + 1} calls deep; the engine allows ${kMaxInvokeDepth}`);
}
