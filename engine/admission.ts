import { EngineError, type ErrorRecord } from './errors.ts';

/** What decides whether an invocation is accepted: the function as the engine knows it, and the queues. */
export interface AdmissionState {
  readonly closed: boolean;
  /** Undefined when no function of that name is deployed. */
  readonly fn: { readonly unavailable: ErrorRecord | undefined, readonly inFlight: number } | undefined;
  readonly engineInFlight: number;
}

/**
 * Why an invocation of `name` is refused before it starts, or undefined when it may run: the rules
 * of both the one-thread engine and the multi-core one.
 */
export function refusal (name: string, state: AdmissionState, limits: { readonly maxInFlight: number, readonly maxInFlightPerFunction: number }): EngineError | undefined {
  if (state.closed) return new EngineError('ERR_CLOSED', 'the engine is closed');
  if (state.fn === undefined) return new EngineError('ERR_UNKNOWN_FUNCTION', `no function named ${JSON.stringify(name)} is deployed`);
  if (state.fn.unavailable !== undefined) return new EngineError('ERR_UNAVAILABLE', state.fn.unavailable.message);
  if (state.engineInFlight >= limits.maxInFlight) return new EngineError('ERR_QUEUE_FULL', `the engine has its maximum of ${limits.maxInFlight} invocations in flight`);
  if (state.fn.inFlight >= limits.maxInFlightPerFunction) return new EngineError('ERR_QUEUE_FULL', `function ${name} has its maximum of ${limits.maxInFlightPerFunction} invocations in flight`);
  return undefined;
}
