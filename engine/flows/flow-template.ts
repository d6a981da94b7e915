/**
 * How a flow builds a step's input (and its own output) from the outputs before it. A template is
 * JSON in which a string starting with `$` is a reference: `$input` is the flow's input, `$ID` the
 * output of step ID. A template that is one reference passes those bytes on untouched (any bytes,
 * not only text); any other template is built as JSON, each reference replaced by its output as
 * a JSON value (jsonOf), everything else a literal, and given as input as a map item is (inputOf:
 * a string as its text, so `"input": "ready"` passes the five letters).
 */

/** Outputs that cannot be used as a template asks (not UTF-8 where JSON is needed); the message says whose. */
export class FlowDataError extends Error {}

/** A reference to the flow's input (step undefined) or to a step's output. */
export interface Reference {
  readonly kind: 'reference';
  readonly step: string | undefined;
}

type Node =
  | Reference
  | { readonly kind: 'literal', readonly value: unknown }
  | { readonly kind: 'array', readonly items: readonly Node[] }
  | { readonly kind: 'object', readonly entries: readonly (readonly [string, Node])[] };

export type Template = Node;

/** Reads the bytes a reference names (the flow's input when `step` is undefined). */
export type ReadOutput = (step: string | undefined) => Uint8Array;

const kUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Compiles a template; `fail` is called with what is wrong (a reference that is not `$` and a step id). */
export function compileTemplate (raw: unknown, fail: (message: string) => never): Template {
  if (raw === undefined) fail('is missing');
  if (typeof raw === 'string') {
    if (!raw.startsWith('$')) return { kind: 'literal', value: raw };
    const name = raw.slice(1);
    if (name === '') fail('"$" alone names nothing: write $input or $STEP');
    return { kind: 'reference', step: name === 'input' ? undefined : name };
  }
  if (Array.isArray(raw)) return { kind: 'array', items: raw.map((item) => compileTemplate(item, fail)) };
  if (raw !== null && typeof raw === 'object') return { kind: 'object', entries: Object.entries(raw).map(([key, value]) => [key, compileTemplate(value, fail)] as const) };
  return { kind: 'literal', value: raw };
}

/** The step ids a template reads, each once. */
export function referencesOf (template: Template): string[] {
  const found = new Set<string>();
  const walk = (node: Node): void => {
    if (node.kind === 'reference' && node.step !== undefined) found.add(node.step);
    else if (node.kind === 'array') node.items.forEach(walk);
    else if (node.kind === 'object') for (const [, value] of node.entries) walk(value);
  };
  walk(template);
  return [...found];
}

/**
 * The bytes a template stands for.
 * @throws {FlowDataError} when an output it must read as JSON is not UTF-8 text (the message says whose).
 */
export function renderTemplate (template: Template, read: ReadOutput): Uint8Array {
  if (template.kind === 'reference') return read(template.step);
  const build = (node: Node): unknown => {
    switch (node.kind) {
      case 'reference': return jsonOf(read(node.step), node.step === undefined ? 'the flow\'s input' : `the output of step ${JSON.stringify(node.step)}`);
      case 'literal': return node.value;
      case 'array': return node.items.map(build);
      case 'object': {
        const value: Record<string, unknown> = {};
        for (const [key, child] of node.entries) Object.defineProperty(value, key, { value: build(child), enumerable: true, writable: true, configurable: true });
        return value;
      }
    }
  };
  return inputOf(build(template));
}

/**
 * Bytes as a JSON value: the JSON they hold, or, when they are text that is not JSON (`hello`),
 * that text as a string, so functions that answer plain text can be joined too.
 * @throws {FlowDataError} when the bytes are not UTF-8: such output can only be passed on whole.
 */
export function jsonOf (bytes: Uint8Array, what: string): unknown {
  let text: string;
  try {
    text = kUtf8.decode(bytes);
  } catch {
    throw new FlowDataError(`${what} is not UTF-8 text, so it cannot be part of JSON (pass it on whole, as a lone reference)`);
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A JSON value as a function's input (a map item, a rendered template): a string as its text, anything else as its JSON. */
export function inputOf (value: unknown): Uint8Array {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
}
