import { EngineError } from './errors.ts';

/**
 * A function's deploy-time variables (`deploy --env KEY=VALUE`): checked here once, at deploy,
 * so what is stored and handed to a plugin is always a small map of plain strings. Values are
 * never put in an error message: they may be secrets.
 */

/** Most variables one function may have. */
export const kMaxEnvVars = 64;
/** Longest value, in UTF-8 bytes. */
export const kMaxEnvValueBytes = 4096;
const kMaxEnvNameChars = 128;
const kEnvName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A copy of `env` with its names sorted, or undefined when it is empty or absent.
 * @throws {EngineError} ERR_INVALID_ARGUMENT for a bad name, a value that is not a string or is too long, or too many variables.
 */
export function checkEnv (env: unknown): Readonly<Record<string, string>> | undefined {
  if (env === undefined || env === null) return undefined;
  if (typeof env !== 'object' || Array.isArray(env)) throw new EngineError('ERR_INVALID_ARGUMENT', 'env must be an object of names to strings');
  const names = Object.keys(env).sort();
  if (names.length > kMaxEnvVars) throw new EngineError('ERR_INVALID_ARGUMENT', `env has ${names.length} variables, over the limit of ${kMaxEnvVars}`);
  if (names.length === 0) return undefined;
  const checked: Record<string, string> = {};
  for (const name of names) {
    if (name.length > kMaxEnvNameChars || !kEnvName.test(name)) throw new EngineError('ERR_INVALID_ARGUMENT', `env name ${JSON.stringify(name.slice(0, kMaxEnvNameChars))} is not valid: letters, digits and _, not starting with a digit, at most ${kMaxEnvNameChars} characters`);
    const value: unknown = (env as Record<string, unknown>)[name];
    if (typeof value !== 'string') throw new EngineError('ERR_INVALID_ARGUMENT', `env ${name} must be a string`);
    const bytes = Buffer.byteLength(value);
    if (bytes > kMaxEnvValueBytes) throw new EngineError('ERR_INVALID_ARGUMENT', `env ${name} is ${bytes} bytes, over the limit of ${kMaxEnvValueBytes}`);
    Object.defineProperty(checked, name, { value, enumerable: true, writable: false, configurable: false });
  }
  return Object.freeze(checked);
}
