/**
 * A scheduler thread of a multi-core engine (a worker_thread; see multi-core-engine.ts). It holds
 * an EngineCore of its own, without a registry: the main thread stores functions, tells a thread
 * to prepare, commit and remove those it sends there, and sends each invocation to the
 * least-loaded thread.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { EngineCore } from '../engine-core.ts';
import { toErrorRecord } from '../errors.ts';
import type { FunctionVersion } from '../function-version.ts';
import { fillEngineOptions } from '../options.ts';
import type { LanguagePlugin } from '../plugin.ts';
import type { FunctionRecord } from '../registry.ts';
import type { FromThread, ThreadInit, ToThread } from './messages.ts';
import { startBeating } from './heartbeat.ts';
import { Outbox } from './outbox.ts';
import { readInvoke, RecordReader, writeResult } from './records.ts';

const port = parentPort!;
const init = workerData as ThreadInit;
/** A lone result waits at most this long for others to share its postMessage. */
const kMaxBatchAgeMs = 0.25;
const kSnapshotEveryMs = 250;

const heartbeat = startBeating(init.heartbeat);
const outbox = new Outbox<FromThread>(port, kMaxBatchAgeMs);
const pluginModule = await import(init.pluginModule.url) as Record<string, unknown>;
const createPlugins = pluginModule[init.pluginModule.export];
if (typeof createPlugins !== 'function') throw new Error(`${init.pluginModule.url} has no function export ${init.pluginModule.export}`);
const plugins = await (createPlugins as () => LanguagePlugin[] | Promise<LanguagePlugin[]>)();

const core = new EngineCore(fillEngineOptions({
  ...init.options,
  plugins,
  // The main thread keeps the engine's limits on invocations in flight; here they must never bite.
  maxInFlight: 10_000_000,
  maxInFlightPerFunction: 10_000_000,
  onWarning: (message) => outbox.send({ t: 'warning', message: `thread ${init.index}: ${message}` }),
}), {
  onInstance: (name, version, live) => outbox.send({ t: 'instance', name, version, live }),
  onVisitEnd: () => {
    if (resultsSinceSnapshot) sendSnapshot();
    outbox.flush();
  },
});

/** Invocations running here, by the main thread's id: aborting one cancels it. */
const running = new Map<number, AbortController>();
/** Versions compiled by 'prepare', waiting for their commit, by "name@version". */
const prepared = new Map<string, FunctionVersion>();
/** Prepares whose version was discarded before they finished. */
const discarded = new Set<string>();
/** Commits still compiling here, by name: invocations of that name wait for them. */
const installing = new Map<string, Promise<void>>();
let closing = false;

port.on('message', (batch: ToThread[]) => {
  for (const message of batch) handle(message);
});

function handle (message: ToThread): void {
  switch (message.t) {
    case 'records': {
      const reader = new RecordReader(message.buffer, message.length);
      while (!reader.done) {
        const { id, acceptedAt, name, input } = readInvoke(reader);
        invoke(id, acceptedAt, name, input);
      }
      break;
    }
    case 'cancel': running.get(message.id)?.abort(new Error(message.message)); break;
    case 'prepare': prepare(message.request, message.record, message.rateState); break;
    case 'commit': commit(message.request, message.record, message.rateState); break;
    case 'discard': discard(`${message.name}@${message.version}`); break;
    case 'remove': remove(message.request, message.name); break;
    case 'protect': core.protectAddress(message.host, message.port); break;
    case 'close': void close(); break;
  }
}

function invoke (id: number, acceptedAt: number, name: string, input: Uint8Array): void {
  const controller = new AbortController();
  running.set(id, controller);
  const pending = installing.get(name);
  if (pending !== undefined) {
    void pending.then(() => start(id, acceptedAt, name, input, controller));
  } else {
    start(id, acceptedAt, name, input, controller);
  }
}

function start (id: number, acceptedAt: number, name: string, input: Uint8Array, controller: AbortController): void {
  core.invoke(name, input, {
    signal: controller.signal,
    // The wall clock started when the main thread accepted the invocation, not when it got here.
    acceptedMsAgo: performance.timeOrigin + performance.now() - acceptedAt,
    onResult: (result) => {
      running.delete(id);
      writeResult(outbox.records, id, result);
      outbox.wrote();
      resultsSinceSnapshot = true;
    },
  }).catch((error: unknown) => {
    running.delete(id);
    outbox.send({ t: 'refused', id, error: toErrorRecord(error) });
  });
}

function prepare (request: number, record: FunctionRecord, rateState: SharedArrayBuffer | undefined): void {
  const key = `${record.name}@${record.version}`;
  core.prepare(record, { rateState }).then((version) => {
    if (discarded.delete(key)) return;
    prepared.set(key, version);
    outbox.send({ t: 'done', request });
  }, (error: unknown) => {
    discarded.delete(key);
    outbox.send({ t: 'done', request, error: toErrorRecord(error) });
  });
}

function commit (request: number, record: FunctionRecord, rateState: SharedArrayBuffer | undefined): void {
  const key = `${record.name}@${record.version}`;
  const version = prepared.get(key);
  prepared.delete(key);
  if (version !== undefined) {
    core.install(version);
    outbox.send({ t: 'done', request });
    return;
  }
  const installed = core.prepare(record, { rateState }).then((compiled) => {
    if (!closing) core.install(compiled);
    outbox.send({ t: 'done', request });
  }, async (error: unknown) => {
    // An older version here must not run in its place: without the function, invocations are refused.
    await core.remove(record.name).catch(() => {});
    outbox.send({ t: 'done', request, error: toErrorRecord(error) });
  }).finally(() => {
    if (installing.get(record.name) === installed) installing.delete(record.name);
  });
  installing.set(record.name, installed);
}

function discard (key: string): void {
  if (!prepared.delete(key)) discarded.add(key);
}

function remove (request: number, name: string): void {
  void (installing.get(name) ?? Promise.resolve()).then(() => core.remove(name)).then(
    () => outbox.send({ t: 'done', request }),
    (error: unknown) => outbox.send({ t: 'done', request, error: toErrorRecord(error) }),
  );
}

async function close (): Promise<void> {
  if (closing) return;
  closing = true;
  clearInterval(snapshots);
  clearInterval(heartbeat);
  await core.close().catch(() => {});
  outbox.send({ t: 'closed' });
  outbox.flush();
  port.close();
}

/**
 * The main thread reads scheduler figures from snapshots (its stats() cannot wait for an answer):
 * sent every kSnapshotEveryMs, and with the results of each lane visit, so the figures are as of
 * the thread's last result. V8's heap statistics, not process.memoryUsage(): no RSS read per visit.
 */
let resultsSinceSnapshot = false;
function sendSnapshot (): void {
  resultsSinceSnapshot = false;
  const heap = getHeapStatistics();
  outbox.send({ t: 'snapshot', snapshot: { scheduler: core.schedulerStats(), heapUsedBytes: heap.used_heap_size, externalBytes: heap.external_memory } });
}
const snapshots = setInterval(sendSnapshot, kSnapshotEveryMs);
snapshots.unref();

outbox.send({ t: 'ready', languages: core.languages });
