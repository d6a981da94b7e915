import { resolveBudget, type Budget } from './budget.ts';
import { EngineError, type ErrorRecord } from './errors.ts';
import { assertFunctionName } from './names.ts';
import { sha256Hex, type FunctionRecord } from './registry.ts';

/**
 * Checks a deploy's arguments before any work is done; returns the function's full budget.
 * @throws {EngineError} ERR_INVALID_ARGUMENT, ERR_UNKNOWN_LANGUAGE, ERR_SOURCE_TOO_LARGE.
 */
export function checkDeploy (name: string, language: string, source: Uint8Array, budget: Partial<Budget> | undefined, engine: { readonly languages: readonly string[], readonly maxSourceBytes: number, readonly defaultBudget: Budget }): Budget {
  assertFunctionName(name);
  if (!engine.languages.includes(language)) throw new EngineError('ERR_UNKNOWN_LANGUAGE', `no plugin for language ${JSON.stringify(language)} (this engine runs: ${engine.languages.join(', ')})`);
  if (!(source instanceof Uint8Array)) throw new EngineError('ERR_INVALID_ARGUMENT', 'source must be bytes');
  if (source.byteLength > engine.maxSourceBytes) throw new EngineError('ERR_SOURCE_TOO_LARGE', `source of ${source.byteLength} bytes is over the limit of ${engine.maxSourceBytes}`);
  return resolveBudget(budget, engine.defaultBudget);
}

/** The stored record of a new deploy of `name`, one version past `previousVersion`. */
export function newRecord (name: string, language: string, source: Uint8Array, budget: Budget, previousVersion: number): FunctionRecord {
  return { name, language, version: previousVersion + 1, budget, source, sourceSha256: sha256Hex(source), deployedAt: new Date().toISOString() };
}

/** Why a stored function cannot run after a restart: its language is not loaded, or its source no longer compiles (`reason`). */
export function unavailableAtLoad (record: FunctionRecord, languageLoaded: boolean, reason: string): ErrorRecord {
  const message = languageLoaded ? `stored source no longer compiles: ${reason}` : `stored function needs language ${record.language}, which this engine does not load`;
  return { code: 'ERR_UNAVAILABLE', message };
}
