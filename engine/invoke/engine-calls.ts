import type { InvokeResult } from '../invocation.ts';
import type { KvReply, KvRequest } from '../kv/kv-types.ts';

/**
 * What a running invocation asks of the engine's control plane: calls to other functions and kv
 * requests, already checked against the caller's deploy. On one thread the control plane answers
 * directly; on a scheduler thread RemoteCalls (remote-calls.ts) carries them to the main thread.
 */
export interface EngineCalls {
  /**
   * Runs `name` as its own invocation under its own budget, `depth` calls deep; aborting `signal`
   * cancels it (the caller ended).
   * @throws {EngineError} ERR_UNKNOWN_FUNCTION, ERR_QUEUE_FULL, ERR_CLOSED... when it cannot start.
   */
  invoke (name: string, input: Uint8Array, depth: number, signal: AbortSignal): Promise<InvokeResult>;
  kv (request: KvRequest): Promise<KvReply>;
}
