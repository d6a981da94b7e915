import { createConnection, type Socket } from 'node:net';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { SpringbokClient } from '../../dispatchers/client.ts';
import { encodeFrame, MessageType } from '../../dispatchers/protocol.ts';
import { summarize } from './report.ts';

export interface OverloadReport {
  readonly flood: { readonly requests: number, readonly ok: number, readonly queueFull: number, readonly otherErrors: number, readonly queueFullLatencyMs: ReturnType<typeof summarize> };
  readonly recoveredPerSecond: number;
  readonly baselinePerSecond: number;
  readonly connections: { readonly opened: number, readonly answered: number };
  readonly slowReader: { readonly requests: number, readonly rssGrowthBytes: number };
  readonly rssBytes: { readonly before: number, readonly afterFlood: number, readonly end: number };
}

/** An sm function whose answer is 1 MB: 10,000 times a 100-byte line. */
export const kBigAnswer = `push 10000\ntop:\n  outs "${'x'.repeat(99)}\\n"\n  push 1\n  sub\n  dup\n  jnz top\n`;

async function rate (client: SpringbokClient, name: string, input: string, milliseconds: number): Promise<number> {
  let done = 0;
  const endAt = performance.now() + milliseconds;
  await Promise.all(Array.from({ length: 16 }, async () => { while (performance.now() < endAt) { await client.invoke(name, input); done++; } }));
  return Math.round(done / (milliseconds / 1000));
}

/**
 * Overload against a real engine: a flood of `floodRequests` concurrent invocations (many more than
 * its queues admit), then the throughput after the flood; `connections` connections at once, each
 * pinging; and a client that sends requests with large answers and never reads them.
 * Function `work` must be deployed (input `workInput`), and `big` must answer `bigInput` with a large output.
 */
export async function overload (socketPath: string, options: { floodRequests: number, connections: number, slowRequests: number, work: string, workInput: string, big: string, bigInput: string }): Promise<OverloadReport> {
  const client = await SpringbokClient.connect({ socketPath });
  const rss = async (): Promise<number> => (await client.stats()).process.rssBytes;
  const baselinePerSecond = await rate(client, options.work, options.workInput, 1000);
  const before = await rss();

  const floodClients = await Promise.all(Array.from({ length: 8 }, () => SpringbokClient.connect({ socketPath })));
  let ok = 0;
  let queueFull = 0;
  let otherErrors = 0;
  const queueFullLatency: number[] = [];
  await Promise.all(Array.from({ length: options.floodRequests }, async (_, i) => {
    const startedAt = performance.now();
    try {
      const result = await floodClients[i % floodClients.length]!.invoke(options.work, options.workInput);
      if (result.ok) ok++;
      else otherErrors++;
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_QUEUE_FULL') {
        queueFull++;
        queueFullLatency.push(performance.now() - startedAt);
      } else {
        otherErrors++;
      }
    }
  }));
  await Promise.all(floodClients.map((c) => c.close()));
  const afterFlood = await rss();
  const recoveredPerSecond = await rate(client, options.work, options.workInput, 1000);

  const sockets: Socket[] = [];
  let answered = 0;
  // All connections stay open together; they are opened 100 at a time, retrying a connect that the
  // kernel refuses while the engine's accept backlog is full (EAGAIN on a unix socket).
  const connect = async (): Promise<Socket> => {
    for (let attempt = 0; ; attempt++) {
      const socket = createConnection(socketPath);
      try {
        await once(socket, 'connect');
        socket.on('error', () => {});
        return socket;
      } catch (error) {
        socket.destroy();
        if ((error as { code?: string }).code !== 'EAGAIN' || attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  try {
    for (let opened = 0; opened < options.connections; opened += 100) {
      const batch = await Promise.all(Array.from({ length: Math.min(100, options.connections - opened) }, connect));
      sockets.push(...batch);
    }
    await Promise.all(sockets.map(async (socket, i) => {
      const answer = once(socket, 'data');
      socket.write(encodeFrame(MessageType.ping, i + 1, {}));
      await answer;
      answered++;
    }));
  } finally {
    for (const socket of sockets) socket.destroy();
  }

  const slowBefore = await rss();
  const slow = createConnection(socketPath);
  slow.on('error', () => {});
  await once(slow, 'connect');
  slow.pause(); // never reads
  // Requests trickle in, as from a client that keeps asking but never reads: the engine must stop
  // taking them once the unread answers pile up, so its memory stays bounded.
  for (let i = 0; i < options.slowRequests && !slow.destroyed; i++) {
    slow.write(encodeFrame(MessageType.invoke, i + 1, { name: options.big }, Buffer.from(options.bigInput)));
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const slowAfter = await rss();
  slow.destroy();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const end = await rss();
  await client.close();
  return {
    flood: { requests: options.floodRequests, ok, queueFull, otherErrors, queueFullLatencyMs: summarize(queueFullLatency) },
    recoveredPerSecond,
    baselinePerSecond,
    connections: { opened: options.connections, answered },
    slowReader: { requests: options.slowRequests, rssGrowthBytes: slowAfter - slowBefore },
    rssBytes: { before, afterFlood, end },
  };
}
