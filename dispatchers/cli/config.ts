import { readFile } from 'node:fs/promises';
import { resolveBudget, type Budget } from '../../engine/budget.ts';
import { kBudgetFields, kAllowHostName } from '../budget-fields.ts';
import { parseAddressRange } from '../../engine/network/address-policy.ts';

/**
 * `serve`'s options from three places (doc/configuration.md): a flag beats an environment variable,
 * which beats the JSON config file, which beats the default. Each option has one name per place,
 * derived from its flag so nobody has to look them up: `--max-in-flight`,
 * `SPRINGBOK_MAX_IN_FLIGHT`, `"maxInFlight"`. Every value is validated here, once, and an error names
 * the option as it was given (the flag, the variable or the file's key) with its rule.
 */

/** 'hosts' and 'ranges' are lists: a repeated flag, a comma-separated variable, an array in the file. */
type OptionKind = 'string' | 'integer' | 'number' | 'address' | 'budget' | 'hosts' | 'ranges';

export interface OptionSpec {
  /** The flag without its dashes; the environment variable and the file key are derived from it. */
  readonly flag: string;
  readonly kind: OptionKind;
  /** Inclusive bounds of an 'integer' or 'number' option. */
  readonly min?: number;
  readonly max?: number;
}

/** Every option of `springbok serve` but `--config` itself. */
export const kServeOptions: readonly OptionSpec[] = [
  { flag: 'socket', kind: 'string' },
  { flag: 'listen', kind: 'address' },
  { flag: 'http', kind: 'address' },
  { flag: 'data-dir', kind: 'string' },
  { flag: 'cluster', kind: 'string' },
  { flag: 'deploy-token', kind: 'string' },
  { flag: 'workers', kind: 'integer', min: 0, max: 256 },
  { flag: 'drain-ms', kind: 'integer', min: 0, max: 3_600_000 },
  { flag: 'max-instance-memory', kind: 'integer', min: 1, max: 2 ** 30 },
  { flag: 'slice-ms', kind: 'number', min: 0.05, max: 1000 },
  { flag: 'max-in-flight', kind: 'integer', min: 1, max: 10_000_000 },
  { flag: 'max-in-flight-per-function', kind: 'integer', min: 1, max: 10_000_000 },
  { flag: 'max-frame-bytes', kind: 'integer', min: 64, max: 2 ** 30 },
  { flag: 'max-source-bytes', kind: 'integer', min: 1, max: 2 ** 30 },
  { flag: 'max-input-bytes', kind: 'integer', min: 0, max: 2 ** 30 },
  ...kBudgetFields.map((field) => ({ flag: field.name, kind: 'budget' as const })),
  { flag: kAllowHostName, kind: 'hosts' },
  { flag: 'net-allow-private', kind: 'ranges' },
];

/** `max-in-flight` → `SPRINGBOK_MAX_IN_FLIGHT`. */
export function envName (flag: string): string {
  return `SPRINGBOK_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** `max-in-flight` → `maxInFlight`, the option's key in a config file. */
export function configKey (flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** Where an option's value came from. */
export type OptionSource = 'flag' | 'env' | 'file' | 'default';

/** The options as given, validated and in the engine's units; absent ones are left out for the caller's defaults. */
export interface ServeConfig {
  readonly values: Readonly<Record<string, string | number | { host: string, port: number } | readonly string[]>>;
  /** The partial default budget (engine units) from the budget options. */
  readonly defaultBudget: Partial<Budget>;
  readonly sources: Readonly<Record<string, OptionSource>>;
}

/** A configuration error: the message names the option and its rule. Callers exit with status 2. */
export class ConfigError extends Error {}

/**
 * Resolves every serve option from flags (as parsed by parseArgs), environment and config file.
 * @param flags parsed flag values, keyed by flag name; `config` is the config file path
 * @throws {ConfigError} for a file that cannot be read or parsed, an unknown key, or a bad value.
 */
export async function resolveServeConfig (flags: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv): Promise<ServeConfig> {
  const configPath = typeof flags.config === 'string' ? flags.config : nonEmpty(env[envName('config')]);
  const file = configPath === undefined ? {} : await readConfigFile(configPath);
  const values: Record<string, string | number | { host: string, port: number } | readonly string[]> = {};
  const sources: Record<string, OptionSource> = {};
  const defaultBudget: Record<string, unknown> = {};
  for (const spec of kServeOptions) {
    let raw: unknown;
    let source: OptionSource;
    let name: string;
    if (flags[spec.flag] !== undefined) {
      [raw, source, name] = [flags[spec.flag], 'flag', `--${spec.flag}`];
    } else if (nonEmpty(env[envName(spec.flag)]) !== undefined) {
      // A list in one variable is comma-separated.
      const text = env[envName(spec.flag)]!;
      [raw, source, name] = [spec.kind === 'hosts' || spec.kind === 'ranges' ? text.split(',').map((host) => host.trim()).filter((host) => host !== '') : text, 'env', envName(spec.flag)];
    } else if (file[configKey(spec.flag)] !== undefined) {
      [raw, source, name] = [file[configKey(spec.flag)], 'file', `"${configKey(spec.flag)}" in ${configPath}`];
    } else {
      sources[spec.flag] = 'default';
      continue;
    }
    values[spec.flag] = parseValue(spec, raw, name);
    sources[spec.flag] = source;
    if (spec.kind === 'budget' || spec.kind === 'hosts') {
      const field = spec.kind === 'hosts' ? 'allowHosts' : kBudgetFields.find((f) => f.name === spec.flag)!.field;
      const scaled = spec.kind === 'hosts' ? values[spec.flag] : Math.round((values[spec.flag] as number) * kBudgetFields.find((f) => f.name === spec.flag)!.scale);
      try {
        resolveBudget({ [field]: scaled });
      } catch (error) {
        throw new ConfigError(`${name}: ${(error as Error).message}`);
      }
      defaultBudget[field] = scaled;
    }
  }
  return { values, sources, defaultBudget };
}

function parseValue (spec: OptionSpec, raw: unknown, name: string): string | number | { host: string, port: number } | readonly string[] {
  switch (spec.kind) {
    case 'string':
      if (typeof raw !== 'string' || raw === '') throw new ConfigError(`${name} must be a non-empty string: got ${JSON.stringify(raw)}`);
      return raw;
    case 'address': {
      const text = typeof raw === 'number' ? String(raw) : raw;
      const address = typeof text === 'string' ? parseAddress(text) : undefined;
      if (address === undefined) throw new ConfigError(`${name} must be HOST:PORT, [IPv6]:PORT or a port: got ${JSON.stringify(raw)}`);
      return address;
    }
    case 'integer':
    case 'number':
    case 'budget': {
      const value = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      const integer = spec.kind === 'integer';
      const min = spec.min ?? 0;
      const max = spec.max ?? Number.MAX_SAFE_INTEGER;
      if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
        const rule = spec.kind === 'budget' ? 'a non-negative number' : `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`;
        throw new ConfigError(`${name} must be ${rule}: got ${JSON.stringify(raw)}`);
      }
      return value;
    }
    case 'hosts': {
      const list = typeof raw === 'string' ? [raw] : raw;
      if (!Array.isArray(list) || !list.every((host) => typeof host === 'string' && host !== '')) throw new ConfigError(`${name} must be a list of host names: got ${JSON.stringify(raw)}`);
      return list as string[];
    }
    case 'ranges': {
      // "10.0.0.0/8,127.0.0.1" in one flag or string is as good as one range per flag or array item.
      const list = typeof raw === 'string' ? [raw] : raw;
      const ranges = Array.isArray(list) && list.every((item) => typeof item === 'string') ? list.flatMap((item: string) => item.split(',')).map((item) => item.trim()).filter((item) => item !== '') : undefined;
      const bad = ranges?.find((range) => parseAddressRange(range) === undefined);
      if (ranges === undefined || bad !== undefined) {
        throw new ConfigError(`${name} must be a list of IP addresses or CIDR ranges without host bits (10.0.0.0/8, 127.0.0.1, fd00::/8): got ${JSON.stringify(bad ?? raw)}`);
      }
      return ranges;
    }
  }
}

/** HOST:PORT, [IPv6]:PORT or PORT alone (loopback); undefined when it is none of those. */
export function parseAddress (text: string): { host: string, port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(text) ?? /^()()(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (match === null || !(port >= 0 && port <= 65535)) return undefined;
  return { host: match[1] || match[2] || '127.0.0.1', port };
}

async function readConfigFile (path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`--config ${path} cannot be read: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`--config ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`--config ${path} must hold a JSON object of options`);
  const known = new Set(kServeOptions.map((spec) => configKey(spec.flag)));
  for (const key of Object.keys(parsed)) {
    // A misspelt key would otherwise leave its option at the default without a word.
    if (!known.has(key)) throw new ConfigError(`--config ${path}: unknown option "${key}" (known: ${[...known].join(', ')})`);
  }
  return parsed as Record<string, unknown>;
}

function nonEmpty (text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text;
}
