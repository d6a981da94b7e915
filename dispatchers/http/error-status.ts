import type { ErrorCode } from '../../engine/errors.ts';

/**
 * The HTTP status of each error code (doc/http.md has the reasons). Request errors are 4xx, except
 * those that say the engine cannot take the request now (5xx, retryable); budget errors are 422
 * (retrying the same input breaks the same budget), but a wall-clock timeout is 504 because queueing
 * under load counts against it; the function's own failures are 500, a failed outbound request 502.
 */
const kStatusByCode: Readonly<Record<ErrorCode, number>> = {
  ERR_INVALID_ARGUMENT: 400,
  ERR_PROTOCOL: 400,
  ERR_UNKNOWN_LANGUAGE: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_UNKNOWN_FUNCTION: 404,
  ERR_SOURCE_TOO_LARGE: 413,
  ERR_FRAME_TOO_LARGE: 413,
  ERR_COMPILE: 422,
  // Nobody reads it (the client has gone); it shows in logs and proxies as nginx's "client closed request".
  ERR_CANCELLED: 499,
  ERR_QUEUE_FULL: 503,
  ERR_CLOSED: 503,
  ERR_UNAVAILABLE: 503,
  ERR_CONNECTION: 502,
  ERR_CPU_BUDGET: 422,
  ERR_MEMORY_BUDGET: 422,
  ERR_NETWORK_BUDGET: 422,
  ERR_OUTPUT_TOO_LARGE: 422,
  ERR_INVOKE_BUDGET: 422,
  ERR_INVOKE_DEPTH: 422,
  ERR_KV_BUDGET: 422,
  ERR_WALL_TIMEOUT: 504,
  ERR_FUNCTION: 500,
  ERR_TRAP: 500,
  ERR_INTERNAL: 500,
  ERR_INVOKE_DENIED: 500,
  ERR_KV_DENIED: 500,
  ERR_NETWORK: 502,
};

/** The HTTP status for an error code; 500 for a code this table does not know (codes are only added). */
export function statusForCode (code: string): number {
  return (kStatusByCode as Record<string, number | undefined>)[code] ?? 500;
}

/** Seconds a client should wait before retrying after ERR_QUEUE_FULL (the Retry-After header). */
export const kQueueFullRetryAfterSeconds = 1;
