import { timingSafeEqual } from 'node:crypto';
import { EngineError } from '../engine/errors.ts';

/**
 * Checks a deploy token as every dispatcher must: nothing to check when the engine has no token,
 * otherwise a constant-time comparison, so the time taken says nothing about how much of a guess
 * was right. Shared by the socket and HTTP dispatchers.
 *
 * @param expected the engine's deploy token (`serve --deploy-token`), or undefined for none
 * @param given what the request carried, or undefined when it carried none
 * @param hint how a client passes the token, for the error message
 * @throws {EngineError} ERR_UNAUTHORIZED when a token is expected and `given` is not it.
 */
export function assertDeployToken (expected: string | undefined, given: string | undefined, hint: string): void {
  if (expected === undefined) return;
  const givenBytes = Buffer.from(given ?? '');
  const wantedBytes = Buffer.from(expected);
  // timingSafeEqual needs equal lengths; the length itself is not secret enough to hide.
  if (givenBytes.byteLength !== wantedBytes.byteLength || !timingSafeEqual(givenBytes, wantedBytes)) {
    throw new EngineError('ERR_UNAUTHORIZED', `deploy and remove need the engine's deploy token (${hint})`);
  }
}
