import { parse, type Node } from 'acorn';
import { EngineError } from '../../engine/errors.ts';

/** What compile() keeps of a JavaScript function: its checked source text. Shared by `js` and `quickjs`. */
export interface CheckedModule {
  readonly kind: 'springbok-js-module';
  readonly source: string;
}

/** True when `artifact` came from {@link checkModule}. */
export function isCheckedModule (artifact: unknown): artifact is CheckedModule {
  return typeof artifact === 'object' && artifact !== null && (artifact as CheckedModule).kind === 'springbok-js-module';
}

const kFatalDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Checks a function's source once, at deploy, so that a deploy that succeeds can run on either engine:
 * valid UTF-8, an ES module that parses (acorn, latest syntax), a default export, and no imports of
 * any kind (a function is one self-contained module; neither engine has anything to import).
 * Dynamic `import()` is refused here too, because both engines would otherwise ask the host to load it.
 * @throws {EngineError} ERR_COMPILE with `line:column` and the parser's words.
 */
export function checkModule (bytes: Uint8Array): CheckedModule {
  let source: string;
  try {
    source = kFatalDecoder.decode(bytes);
  } catch {
    throw new EngineError('ERR_COMPILE', 'source is not valid UTF-8');
  }
  let program: Node;
  try {
    program = parse(source, { ecmaVersion: 'latest', sourceType: 'module', locations: true });
  } catch (error) {
    const { message } = error as SyntaxError;
    throw new EngineError('ERR_COMPILE', `syntax error: ${message}`);
  }
  let hasDefault = false;
  for (const statement of (program as unknown as { body: Node[] }).body) {
    if (statement.type === 'ImportDeclaration') throw compileError(statement, 'import declarations are not supported: a function is one self-contained module');
    if (statement.type === 'ExportAllDeclaration') throw compileError(statement, 're-exports (`export * from`) are not supported');
    if (statement.type === 'ExportNamedDeclaration') {
      const named = statement as unknown as { source: Node | null, specifiers: { exported: { name?: string, value?: string } }[] };
      if (named.source !== null) throw compileError(statement, 're-exports (`export ... from`) are not supported');
      if (named.specifiers.some((s) => (s.exported.name ?? s.exported.value) === 'default')) hasDefault = true;
    }
    if (statement.type === 'ExportDefaultDeclaration') hasDefault = true;
  }
  if (!hasDefault) throw new EngineError('ERR_COMPILE', 'the module has no default export: write `export default function (input, ctx) { ... }`');
  const dynamicImport = findNode(program, (node) => node.type === 'ImportExpression');
  if (dynamicImport !== undefined) throw compileError(dynamicImport, 'dynamic import() is not supported: functions cannot load code');
  return Object.freeze({ kind: 'springbok-js-module', source });
}

function compileError (node: Node, message: string): EngineError {
  const start = node.loc?.start;
  return new EngineError('ERR_COMPILE', start === undefined ? message : `${start.line}:${start.column + 1}: ${message}`);
}

/** Depth-first search without recursion (a deeply nested source must not overflow the host's stack). */
function findNode (root: Node, predicate: (node: Node) => boolean): Node | undefined {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item);
      continue;
    }
    if (typeof value !== 'object' || value === null || typeof (value as Node).type !== 'string') continue;
    const node = value as Node;
    if (predicate(node)) return node;
    for (const key in node) {
      if (key !== 'loc') stack.push((node as unknown as Record<string, unknown>)[key]);
    }
  }
  return undefined;
}
