/**
 * A scheduler thread of a thread executor (a worker_thread; see thread-executor.ts). It hosts a
 * local executor: the main thread's control plane stores functions and admits invocations; the
 * thread executor tells this thread to prepare, commit and remove the functions it sends here, and
 * sends each invocation to the least-loaded thread.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { LocalExecutor } from '../local-executor.ts';
import { toErrorRecord } from '../errors.ts';
import { fillEngineOptions } from '../options.ts';
import type { InvocationRequest, LanguagePlugin, PluginContext } from '../plugin.ts';
import type { FunctionRecord } from '../registry.ts';
import type { FromThread, ThreadInit, ToThread } from './messages.ts';
import { startBeating } from './heartbeat.ts';
import { clearPreempt, installPreemptFlag } from '../preemption.ts';
import { enableHogDemotion } from './thread-priority.ts';
import { Outbox } from './outbox.ts';
import { readInvoke, RecordReader, writeResult } from './records.ts';
import { RemoteCalls } from '../invoke/remote-calls.ts';

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
const plugins = await (createPlugins as (context: PluginContext) => LanguagePlugin[] | Promise<LanguagePlugin[]>)({ schedulerThreads: init.threads });

const executor = new LocalExecutor(fillEngineOptions({
  ...init.options,
  plugins,
  onWarning: (message) => outbox.send({ t: 'warning', message: `thread ${init.index}: ${message}` }),
}), {
  onInstance: (name, version, live, end) => outbox.send({ t: 'instance', name, version, live, end }),
  onVisitEnd: () => {
    if (resultsSinceSnapshot) sendSnapshot();
    outbox.flush();
  },
});

/** ctx.invoke and kv go to the main thread's control plane. */
const remoteCalls = new RemoteCalls((message) => outbox.send(message));
executor.serveCalls(remoteCalls);

/** Invocations running here, by the main thread's id: aborting one cancels it. */
const running = new Map<number, AbortController>();
/** Prepares whose version was discarded before they finished, by "name@version". */
const discarded = new Set<string>();
/** Commits still compiling here, by name: invocations of that name wait for them. */
const installing = new Map<string, Promise<void>>();
let closing = false;

installPreemptFlag(init.preempt);
enableHogDemotion();
port.on('message', (batch: ToThread[]) => {
  // Read now: whatever preempted the slice that just ended is in this batch.
  clearPreempt();
  for (const message of batch) handle(message);
});

function handle (message: ToThread): void {
  switch (message.t) {
    case 'records': {
      const reader = new RecordReader(message.buffer, message.length);
      while (!reader.done) {
        const { id, acceptedAt, name, input, request, depth } = readInvoke(reader);
        invoke(id, acceptedAt, name, input, request, depth);
      }
      break;
    }
    case 'cancel': running.get(message.id)?.abort(new Error(message.message)); break;
    case 'prepare': prepare(message.request, message.record, message.rateState); break;
    case 'commit': commit(message.request, message.record, message.rateState); break;
    case 'discard': discard(message.name, message.version); break;
    case 'remove': remove(message.request, message.name); break;
    case 'protect': executor.protectAddress(message.host, message.port); break;
    case 'answer': remoteCalls.answer(message.id, message.answer); break;
    case 'close': void close(); break;
  }
}

function invoke (id: number, acceptedAt: number, name: string, input: Uint8Array, request: InvocationRequest | undefined, depth: number): void {
  const controller = new AbortController();
  running.set(id, controller);
  const pending = installing.get(name);
  if (pending !== undefined) {
    void pending.then(() => start(id, acceptedAt, name, input, request, depth, controller));
  } else {
    start(id, acceptedAt, name, input, request, depth, controller);
  }
}

function start (id: number, acceptedAt: number, name: string, input: Uint8Array, request: InvocationRequest | undefined, depth: number, controller: AbortController): void {
  executor.invoke(name, input, {
    signal: controller.signal,
    request,
    depth,
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
  executor.prepare(record, undefined, rateState).then(() => {
    if (discarded.delete(key)) {
      executor.discard(record);
      return;
    }
    outbox.send({ t: 'done', request });
  }, (error: unknown) => {
    discarded.delete(key);
    outbox.send({ t: 'done', request, error: toErrorRecord(error) });
  });
}

/** The prepared version goes in service, or one compiled now: invocations of the name wait for it. */
function commit (request: number, record: FunctionRecord, rateState: SharedArrayBuffer | undefined): void {
  const installed = executor.commit(record, rateState).then(
    () => outbox.send({ t: 'done', request }),
    (error: unknown) => outbox.send({ t: 'done', request, error: toErrorRecord(error) }),
  ).finally(() => {
    if (installing.get(record.name) === installed) installing.delete(record.name);
  });
  installing.set(record.name, installed);
}

function discard (name: string, version: number): void {
  // Still compiling: dropped when it finishes.
  if (!executor.discard({ name, version })) discarded.add(`${name}@${version}`);
}

function remove (request: number, name: string): void {
  void (installing.get(name) ?? Promise.resolve()).then(() => executor.remove(name)).then(
    () => outbox.send({ t: 'done', request }),
    (error: unknown) => outbox.send({ t: 'done', request, error: toErrorRecord(error) }),
  );
}

async function close (): Promise<void> {
  if (closing) return;
  closing = true;
  clearInterval(snapshots);
  clearInterval(heartbeat);
  await executor.close().catch(() => {});
  remoteCalls.close();
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
  outbox.send({ t: 'snapshot', snapshot: { scheduler: executor.schedulerStats(), instances: executor.instanceStats(), heapUsedBytes: heap.used_heap_size, externalBytes: heap.external_memory } });
}
const snapshots = setInterval(sendSnapshot, kSnapshotEveryMs);
snapshots.unref();

outbox.send({ t: 'ready', languages: executor.languages });
