/**
 * One error class with stable codes. Callers match on `code`, never on messages.
 * The codes are part of the wire protocol and the CLI's output: add, never rename.
 */

/** Misuse by the caller (client or embedder): the request itself was wrong or could not be served. */
export const REQUEST_ERROR_CODES = [
  'ERR_INVALID_ARGUMENT', // a name, budget or option broke its rule; the message names which
  'ERR_UNKNOWN_FUNCTION', // no function of that name is deployed
  'ERR_UNKNOWN_LANGUAGE', // no plugin for that language is loaded in this engine
  'ERR_SOURCE_TOO_LARGE', // deploy: the source is over the engine's source size limit
  'ERR_COMPILE', // deploy: the plugin rejected the source; the message carries the compiler's words
  'ERR_UNAVAILABLE', // a stored function could not be loaded at start (its message says why)
  'ERR_QUEUE_FULL', // overload: the engine or this function has its maximum of invocations in flight
  'ERR_CANCELLED', // the caller went away or aborted before the invocation finished
  'ERR_CLOSED', // the engine is shutting down
  'ERR_PROTOCOL', // a malformed frame or message on the wire
  'ERR_FRAME_TOO_LARGE', // a frame declared a length over the maximum frame size
  'ERR_UNAUTHORIZED', // deploy or remove without the engine's deploy token
  'ERR_CONNECTION', // client side: the engine could not be reached, or the connection dropped mid-request
] as const;

/** A function hit one of its budgets. Only that invocation fails. */
export const BUDGET_ERROR_CODES = [
  'ERR_CPU_BUDGET', // CPU time of this invocation passed its cpuMs budget
  'ERR_WALL_TIMEOUT', // wall-clock time since the invocation was accepted passed its wallMs budget
  'ERR_MEMORY_BUDGET', // the function's memory passed its memoryBytes budget
  'ERR_NETWORK_BUDGET', // requests, bytes or rate passed the function's network budget
  'ERR_OUTPUT_TOO_LARGE', // the output passed the engine's maximum output size
  'ERR_INVOKE_BUDGET', // ctx.invoke: the invocation already made its invokeCalls calls
  'ERR_INVOKE_DEPTH', // ctx.invoke: the chain of calls is as deep as the engine allows (a cycle, most likely)
  'ERR_KV_BUDGET', // kv: a put would take the namespace past its kvBytes, or a key or value is over its size limit
] as const;

/** The function itself failed: its own error, or a fault of its code. */
export const FUNCTION_ERROR_CODES = [
  'ERR_FUNCTION', // the function raised an error or returned failure
  'ERR_TRAP', // the function's code faulted (stack underflow, bad jump, wasm trap, ...)
  'ERR_NETWORK', // an outbound request failed: bad URL, DNS, connection, timeout (the function sees it and may go on)
  'ERR_INTERNAL', // a bug in springbok or a plugin; reported, never fatal to the engine
  'ERR_INVOKE_DENIED', // ctx.invoke: the function's deploy does not allow calling that function (--allow-invoke)
  'ERR_KV_DENIED', // kv: the function's deploy does not grant that namespace, or grants it read-only (--kv)
] as const;

export type RequestErrorCode = typeof REQUEST_ERROR_CODES[number];
export type BudgetErrorCode = typeof BUDGET_ERROR_CODES[number];
export type FunctionErrorCode = typeof FUNCTION_ERROR_CODES[number];
export type ErrorCode = RequestErrorCode | BudgetErrorCode | FunctionErrorCode;

const kAllCodes: ReadonlySet<string> = new Set<string>([...REQUEST_ERROR_CODES, ...BUDGET_ERROR_CODES, ...FUNCTION_ERROR_CODES]);

/** True when `code` is one of springbok's error codes. */
export function isErrorCode (code: unknown): code is ErrorCode {
  return typeof code === 'string' && kAllCodes.has(code);
}

/** An error as a plain value: how a failed invocation is reported (guest failures are values, not throws). */
export interface ErrorRecord {
  readonly code: ErrorCode;
  readonly message: string;
}

/** Thrown for host misuse (bad options, unknown function, closed engine); carried as a record otherwise. */
export class EngineError extends Error {
  readonly code: ErrorCode;
  constructor (code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = `EngineError [${code}]`;
  }

  toRecord (): ErrorRecord {
    return { code: this.code, message: this.message };
  }
}

/** Turns anything thrown into a record; unknown throwables are springbok bugs, hence ERR_INTERNAL. */
export function toErrorRecord (error: unknown): ErrorRecord {
  if (error instanceof EngineError) return error.toRecord();
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'ERR_INTERNAL', message };
}
