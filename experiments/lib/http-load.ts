import { createRequire } from 'node:module';
import type { LoadResult } from './load-loop.ts';

// autocannon ships no types; this is the slice of its API used here.
interface AutocannonInstance {
  on (event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): void;
}
type AutocannonResult = { requests: { total: number }, non2xx: number, errors: number, timeouts: number, duration: number };
type Autocannon = (options: Record<string, unknown>, callback: (error: Error | null, result: AutocannonResult) => void) => AutocannonInstance;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/**
 * POSTs `body` to `url` from `connections` keep-alive connections for `durationMs` with autocannon.
 * Latencies are taken from each response event (sub-millisecond), not from autocannon's
 * histogram, which rounds to whole milliseconds: the springbok side is summarised the same way.
 */
export function httpLoad (url: string, body: string, connections: number, durationMs: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const latenciesMs: number[] = [];
    const instance = autocannon({ url, method: 'POST', body, connections, pipelining: 1, duration: durationMs / 1000 }, (error, result) => {
      if (error !== null) { reject(error); return; }
      resolve({ latenciesMs, perSecond: Math.round(result.requests.total / (durationMs / 1000)), failures: result.non2xx + result.errors + result.timeouts });
    });
    instance.on('response', (_client, _status, _bytes, responseTimeMs) => { latenciesMs.push(responseTimeMs); });
  });
}
