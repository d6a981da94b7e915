/**
 * The key-value store's shapes: what a function asks (KvOperation, through its InvocationContext),
 * what the engine sends the store once it has checked the function may (KvRequest), and the answer.
 * A request is plain data so it can cross from a scheduler thread to the main thread, and so a
 * store on another machine (a cluster's KV) could take it later.
 */

/** A function's kv call. `namespace` undefined: the function's own. */
export type KvOperation =
  | { readonly op: 'get', readonly key: string, readonly namespace?: string | undefined }
  | { readonly op: 'put', readonly key: string, readonly value: Uint8Array, readonly namespace?: string | undefined }
  | { readonly op: 'delete', readonly key: string, readonly namespace?: string | undefined }
  | { readonly op: 'list', readonly prefix: string, readonly namespace?: string | undefined };

/** A checked operation for the store: keys as UTF-8 bytes, the namespace resolved. */
export type KvRequest =
  | { readonly op: 'get', readonly namespace: string, readonly key: Uint8Array }
  /** `limitBytes`: the most the namespace may hold after the put (the writer's kvBytes). */
  | { readonly op: 'put', readonly namespace: string, readonly key: Uint8Array, readonly value: Uint8Array, readonly limitBytes: number }
  | { readonly op: 'delete', readonly namespace: string, readonly key: Uint8Array }
  | { readonly op: 'list', readonly namespace: string, readonly prefix: Uint8Array, readonly limit: number };

/**
 * The store's answer: get → value (null when absent); delete → existed; list → keys in byte
 * order (at most the request's limit); put → nothing.
 */
export interface KvReply {
  readonly value?: Uint8Array | null;
  readonly existed?: boolean;
  readonly keys?: readonly string[];
}

/** Where kv data lives: the embedded SQLite store (sqlite-kv.ts), or later a cluster's. */
export interface KvStore {
  /**
   * Applies one request. A put or delete resolves once it is durable (when the store is on disk).
   * @throws {EngineError} ERR_KV_BUDGET when a put would take the namespace past its limit.
   */
  apply (request: KvRequest): Promise<KvReply>;
  close (): void;
}
