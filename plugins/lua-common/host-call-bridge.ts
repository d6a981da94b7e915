import { EngineError } from '../../engine/errors.ts';
import type { FetchRequest, InvocationContext } from '../../engine/plugin.ts';
import { kMaxHeaders } from './limits.ts';

/** A value the fiber pushes onto the guest's stack when its coroutine resumes. */
export type LuaReplyValue = Uint8Array | string | number | boolean;

/** What a host call turns into when the coroutine resumes: values for the prelude, or the error it raises. */
export type HostCallReply =
  | { readonly ok: true, readonly values: readonly LuaReplyValue[] }
  | { readonly ok: false, readonly message: string };

/**
 * One asynchronous host call in flight (fetch, ctx.invoke, ctx.kv), for both Lua engines. The
 * prelude calls `host_call(op, ...)` and yields; the plugin starts the call from those arguments
 * (each a string, or false for none), returns `{state: 'wait', until: pending.settled}` and, on the
 * next run(), resumes the guest with true and the reply's values, or false and a message starting
 * with the error's code. `settled` never rejects. A list goes back as one string of
 * `<length>:<string>` items, never as a value per item: a coroutine's stack has room for a few dozen
 * values only (Lua's C API does not grow it for pushes), and past that lua54 writes out of bounds.
 *
 *   fetch(url, method, body|false, k1, v1, ...)   status, body, the response headers as a list name, value, name, value...
 *   invoke(name, input)                            output
 *   kv.get(key, namespace|false)                   true and the value, or false when absent
 *   kv.put(key, value, namespace|false)            (nothing)
 *   kv.delete(key, namespace|false)                whether it existed
 *   kv.list(prefix, namespace|false)               the keys as a list
 */
export class PendingHostCall {
  readonly settled: Promise<void>;
  reply: HostCallReply | undefined;

  constructor (context: InvocationContext, op: string, args: readonly (Uint8Array | undefined)[]) {
    // runLuaHostCall is async: whatever goes wrong arrives as a rejection.
    this.settled = runLuaHostCall(context, op, args).then((values) => {
      this.reply = { ok: true, values };
    }, (error: unknown) => {
      const text = error instanceof EngineError ? `${error.code}: ${error.message}` : `${op} failed: ${error instanceof Error ? error.message : String(error)}`;
      this.reply = { ok: false, message: text };
    });
  }
}

const kDecoder = new TextDecoder();

async function runLuaHostCall (context: InvocationContext, op: string, args: readonly (Uint8Array | undefined)[]): Promise<readonly LuaReplyValue[]> {
  const text = (index: number): string => textOf(args[index] ?? new Uint8Array());
  const namespace = (index: number): string | undefined => args[index] === undefined ? undefined : text(index);
  switch (op) {
    case 'fetch': {
      const response = await context.fetch(fetchRequestFrom(text(0), text(1), args[2], args.slice(3).map((pair) => textOf(pair ?? new Uint8Array()))));
      const headers: string[] = [];
      for (const [name, value] of Object.entries(response.headers).slice(0, kMaxHeaders)) headers.push(name, value);
      return [response.status, response.body, packed(headers)];
    }
    case 'invoke':
      return [await context.invoke(text(0), args[1] ?? new Uint8Array())];
    case 'kv.get': {
      const { value } = await context.kv({ op: 'get', key: text(0), namespace: namespace(1) });
      return value == null ? [false, false] : [true, value];
    }
    case 'kv.put':
      await context.kv({ op: 'put', key: text(0), value: args[1] ?? new Uint8Array(), namespace: namespace(2) });
      return [];
    case 'kv.delete': {
      const { existed } = await context.kv({ op: 'delete', key: text(0), namespace: namespace(1) });
      return [existed === true];
    }
    case 'kv.list': {
      const { keys = [] } = await context.kv({ op: 'list', prefix: text(0), namespace: namespace(1) });
      return [packed(keys)];
    }
    default:
      throw new EngineError('ERR_INTERNAL', `lua: unknown host call ${JSON.stringify(op.slice(0, 40))}`);
  }
}

/** A list of strings as one: each `<UTF-8 length>:<string>` (the prelude's unpack_list reads it back). */
function packed (items: readonly string[]): string {
  return items.map((item) => `${Buffer.byteLength(item)}:${item}`).join('');
}

/** Builds the request from fetch's arguments: url, method, body (or false), then name/value pairs. */
function fetchRequestFrom (url: string, method: string, body: Uint8Array | undefined, headerPairs: readonly string[]): FetchRequest {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < headerPairs.length; i += 2) headers[headerPairs[i]!] = headerPairs[i + 1]!;
  return body === undefined ? { url, method, headers } : { url, method, headers, body };
}

/** Bytes of a Lua string as text for URLs, methods, headers, names and keys (lossy for invalid UTF-8). */
function textOf (bytes: Uint8Array): string {
  return kDecoder.decode(bytes);
}
