import { EngineError } from '../../engine/errors.ts';
import type { InvocationContext } from '../../engine/plugin.ts';
import { fetchRequest } from './host-values.ts';

/**
 * The asynchronous host calls of both JavaScript engines: what the guest prelude's
 * `__sbHostCall(invocationId, callId, op, a, b, c, d)` asks for, run through the engine's
 * InvocationContext. Every answer has one shape, `[a: number, b: string, c: Uint8Array | undefined]`,
 * which both engines hand back to the guest the same way:
 *
 *   fetch(url, method, headersJson, body)        [status, headersJson, body]
 *   invoke(name, input)                          [1, output as text]
 *   kv.get(key, namespace, asBytes)              [1, value as text, or value bytes when asBytes] or [0] when absent
 *   kv.put(key, value, namespace)                [1]
 *   kv.delete(key, namespace)                    [1 when it existed, else 0]
 *   kv.list(prefix, namespace)                   [count, keys as a JSON array]
 *
 * Arguments come straight from the guest: each is checked here. An optional namespace is a string
 * or undefined (the function's own).
 */
export type HostCallAnswer = [number, string, Uint8Array | undefined];

const kDecoder = new TextDecoder();

export async function runHostCall (context: InvocationContext, op: unknown, a: unknown, b: unknown, c: unknown, d: unknown): Promise<HostCallAnswer> {
  switch (op) {
    case 'fetch': {
      const response = await context.fetch(fetchRequest(a, b, c, d));
      return [response.status, JSON.stringify(response.headers), response.body];
    }
    case 'invoke': {
      if (typeof a !== 'string') throw new EngineError('ERR_FUNCTION', 'ctx.invoke: the name must be a string');
      return [1, kDecoder.decode(await context.invoke(a, bytesOf(b, 'ctx.invoke: the input'))), undefined];
    }
    case 'kv.get': {
      const { value } = await context.kv({ op: 'get', key: a as string, namespace: namespaceOf(b) });
      if (value == null) return [0, '', undefined];
      return c === true ? [1, '', value] : [1, kDecoder.decode(value), undefined];
    }
    case 'kv.put':
      await context.kv({ op: 'put', key: a as string, value: bytesOf(b, 'ctx.kv.put: the value'), namespace: namespaceOf(c) });
      return [1, '', undefined];
    case 'kv.delete': {
      const { existed } = await context.kv({ op: 'delete', key: a as string, namespace: namespaceOf(b) });
      return [existed === true ? 1 : 0, '', undefined];
    }
    case 'kv.list': {
      const { keys = [] } = await context.kv({ op: 'list', prefix: a as string, namespace: namespaceOf(b) });
      return [keys.length, JSON.stringify(keys), undefined];
    }
    default:
      throw new EngineError('ERR_INTERNAL', `js: unknown host call ${JSON.stringify(String(op)).slice(0, 40)}`);
  }
}

function bytesOf (value: unknown, what: string): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return value;
  throw new EngineError('ERR_FUNCTION', `${what} must be a string or a Uint8Array`);
}

function namespaceOf (value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new EngineError('ERR_FUNCTION', 'ctx.kv: the namespace must be a string');
  return value;
}
