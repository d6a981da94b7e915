import { EngineError } from '../errors.ts';
import { assertFunctionName } from '../names.ts';
import { compileTemplate, referencesOf, type Template } from './flow-template.ts';

/**
 * A flow's definition (doc/flows.md), checked once at deploy and kept compiled beside its record:
 * steps that each run one function, edges given by the `$step` references in their inputs, map
 * steps that fan out over a JSON array, and the output. Every rule broken is an ERR_COMPILE that
 * names the step at fault, so a flow file is fixed in one reading.
 */

/** The language a flow is deployed with: `springbok deploy flow NAME flow.json`. */
export const kFlowLanguage = 'flow';
/** Steps per flow: a flow is a small graph written by hand, not a program. */
export const kMaxSteps = 64;
/** Items one map step may fan out over: the ceiling a flow's own `maxItems` may ask for. */
export const kMaxMapItems = 1000;
/** Invocations of one map step in flight at once: the ceiling of its `concurrency`. */
export const kMaxMapConcurrency = 64;
const kDefaultMapItems = 100;
const kDefaultMapConcurrency = 8;

const kStepId = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const kFlowFields = new Set(['description', 'steps', 'output']);
const kCallFields = new Set(['id', 'function', 'input']);
const kMapFields = new Set(['id', 'map', 'over', 'concurrency', 'maxItems']);

/** A step that runs its function once, on the input its template builds. */
export interface CallStep {
  readonly kind: 'call';
  readonly id: string;
  readonly function: string;
  readonly input: Template;
  /** The steps whose outputs it reads. */
  readonly needs: readonly string[];
}

/** A step that runs its function once per item of a JSON array and joins the outputs into an array. */
export interface MapStep {
  readonly kind: 'map';
  readonly id: string;
  readonly function: string;
  /** The step whose output is the array; undefined for the flow's input. */
  readonly over: string | undefined;
  readonly concurrency: number;
  readonly maxItems: number;
  readonly needs: readonly string[];
}

export type FlowStep = CallStep | MapStep;

export interface FlowSpec {
  readonly steps: readonly FlowStep[];
  readonly output: Template;
}

/** What a deploy knows of a name a step runs: a function, a flow, or nothing yet. */
export type FunctionKind = 'function' | 'flow' | undefined;

/**
 * Parses and checks a flow. `kindOf` is asked about every function a step names: at deploy it
 * refuses a flow that runs a function not deployed yet, or another flow; when a stored flow is
 * loaded back it is left out, since functions load in any order.
 * @throws {EngineError} ERR_COMPILE naming the step and the rule it breaks.
 */
export function compileFlow (source: Uint8Array, kindOf?: (name: string) => FunctionKind): FlowSpec {
  const raw = parseObject(source);
  for (const key of Object.keys(raw)) if (!kFlowFields.has(key)) fail(`unknown field ${JSON.stringify(key)} (a flow has ${[...kFlowFields].join(', ')})`);
  if (raw.description !== undefined && typeof raw.description !== 'string') fail('"description" must be a string');
  if (!Array.isArray(raw.steps) || raw.steps.length === 0) fail('"steps" must be a non-empty array');
  if (raw.steps.length > kMaxSteps) fail(`${raw.steps.length} steps is over the limit of ${kMaxSteps}`);
  const steps = (raw.steps as unknown[]).map((step, index) => compileStep(step, index));
  const ids = new Set<string>();
  for (const step of steps) {
    if (ids.has(step.id)) fail(`step ${JSON.stringify(step.id)}: the id is used twice`);
    ids.add(step.id);
  }
  for (const step of steps) {
    for (const need of step.needs) if (!ids.has(need)) fail(`step ${JSON.stringify(step.id)}: $${need} names no step`);
    if (kindOf === undefined) continue;
    const kind = kindOf(step.function);
    if (kind === undefined) fail(`step ${JSON.stringify(step.id)}: no function named ${JSON.stringify(step.function)} is deployed (deploy a flow's functions before the flow)`);
    if (kind === 'flow') fail(`step ${JSON.stringify(step.id)}: ${JSON.stringify(step.function)} is a flow; a step runs a function (flows do not nest)`);
  }
  assertAcyclic(steps);
  if (raw.output === undefined) fail('"output" is missing: a reference such as "$last", or a JSON template of references');
  const output = compileTemplate(raw.output, (message) => fail(`"output": ${message}`));
  for (const need of referencesOf(output)) if (!ids.has(need)) fail(`"output": $${need} names no step`);
  return { steps, output };
}

function compileStep (raw: unknown, index: number): FlowStep {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(`step ${index + 1}: must be an object`);
  const step = raw as Record<string, unknown>;
  if (typeof step.id !== 'string' || !kStepId.test(step.id) || step.id === 'input') {
    fail(`step ${index + 1}: "id" must be 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or _, and not "input": got ${JSON.stringify(step.id)}`);
  }
  const id = step.id;
  const at: (message: string) => never = (message) => fail(`step ${JSON.stringify(id)}: ${message}`);
  const isMap = step.map !== undefined;
  if (isMap === (step.function !== undefined)) at('needs exactly one of "function" (run it once) and "map" (run it on every item of "over")');
  const allowed = isMap ? kMapFields : kCallFields;
  for (const key of Object.keys(step)) if (!allowed.has(key)) at(`unknown field ${JSON.stringify(key)} (a ${isMap ? 'map' : 'function'} step has ${[...allowed].join(', ')})`);
  const fn = isMap ? step.map : step.function;
  try {
    assertFunctionName(fn);
  } catch (error) {
    at((error as Error).message);
  }
  if (!isMap) {
    const input = compileTemplate(step.input ?? '$input', (message) => at(`"input": ${message}`));
    const needs = referencesOf(input);
    if (needs.includes(id)) at('its input reads its own output');
    return { kind: 'call', id, function: fn, input, needs };
  }
  const over = compileTemplate(step.over, (message) => at(`"over": ${message}`));
  if (over.kind !== 'reference') at('"over" must be one reference, "$input" or "$step", whose output is a JSON array');
  if (over.step === id) at('"over" reads its own output');
  const concurrency = boundedInteger(step.concurrency, kDefaultMapConcurrency, kMaxMapConcurrency, '"concurrency"', at);
  const maxItems = boundedInteger(step.maxItems, kDefaultMapItems, kMaxMapItems, '"maxItems"', at);
  return { kind: 'map', id, function: fn, over: over.step, concurrency, maxItems, needs: over.step === undefined ? [] : [over.step] };
}

function boundedInteger (value: unknown, fallback: number, max: number, field: string, at: (message: string) => never): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) at(`${field} must be an integer from 1 to ${max}: got ${JSON.stringify(value)}`);
  return value;
}

/** Refuses a cycle of references, naming it (`a → b → a`): such steps would wait for each other for ever. */
function assertAcyclic (steps: readonly FlowStep[]): void {
  const byId = new Map(steps.map((step) => [step.id, step]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): void => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') {
      const cycle = [...path.slice(path.indexOf(id)), id];
      fail(`step ${JSON.stringify(id)}: its inputs form a cycle, ${cycle.join(' → ')}`);
    }
    state.set(id, 'visiting');
    path.push(id);
    for (const need of byId.get(id)!.needs) visit(need);
    path.pop();
    state.set(id, 'done');
  };
  for (const step of steps) visit(step.id);
}

function parseObject (source: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(source));
  } catch (error) {
    fail(`not valid UTF-8 JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('must be a JSON object {steps, output}');
  return value as Record<string, unknown>;
}

function fail (message: string): never {
  throw new EngineError('ERR_COMPILE', `flow: ${message}`);
}
