/**
 * What the engines of one cluster agree on: the JetStream buckets and the subjects. An engine of
 * another cluster on the same NATS servers would need other names; one cluster per NATS account
 * is the supported set-up (doc/cluster.md).
 */

/** The KV bucket of function records, one key per function name. */
export const kRecordBucket = 'springbok-functions';
/** The object store of sources, one object per source, named by its SHA-256. */
export const kSourceBucket = 'springbok-sources';
/** An invocation of `name` is a request on this prefix and the name: springbok.invoke.hello. */
export const kInvokeSubjectPrefix = 'springbok.invoke.';
/** The queue group every engine's invocation subscription joins: each request goes to one engine. */
export const kEngineQueue = 'springbok-engines';

/** The subject that invokes `name`. */
export function invokeSubject (name: string): string {
  return `${kInvokeSubjectPrefix}${name}`;
}
