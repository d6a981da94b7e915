#!/usr/bin/env node
/**
 * Does a function's network rate limit hold? A C function limited to 100 kB/s downloads 1 MB from a
 * loopback server; the achieved rate should be within ±10% of the limit (about 10 s). Also measures
 * how far past its byte budget a download gets before it is cut.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Engine } from '../engine/index.ts';
import { cPlugin } from '../plugins/wasm/index.ts';
import { experimentArgs, machineHeader, summarize, writeResult } from './lib/report.ts';

const args = experimentArgs('network-rate', 'Usage: node experiments/network-rate.ts [--quick]\n\nRate-limit precision (100 kB/s, 1 MB; 200 kB in --quick) and byte-budget overshoot of sb_fetch.');
const header = machineHeader();
console.log(JSON.stringify(header));
const server = createServer((request, response) => {
  const size = Number(request.url?.slice(1) ?? 0);
  response.end(Buffer.alloc(size, 0x62));
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const port = (server.address() as { port: number }).port;
// The server is on loopback, which the engine's deny list refuses unless the operator opens it.
const engine = await Engine.open({ plugins: [cPlugin()], netAllowPrivate: ['127.0.0.1'] });
const source = await readFile(new URL('../test/fixtures/fetch.c', import.meta.url));
const rateBytesPerSecond = 100_000;
const sizes = args.quick ? [200_000] : [1_000_000, 1_000_000, 1_000_000];
await engine.deploy('rated', 'c', source, { allowHosts: [`127.0.0.1:${port}`], netRateBytesPerSec: rateBytesPerSecond, netBytes: 4 * 2 ** 20, wallMs: 120_000 });
const runs = [];
for (const size of sizes) {
  const startedAt = performance.now();
  const result = await engine.invoke('rated', Buffer.from(`strict 1 http://127.0.0.1:${port}/${size}`));
  const seconds = (performance.now() - startedAt) / 1000;
  if (!result.ok) throw new Error(result.error.message);
  const rate = result.usage.netBytes / seconds;
  runs.push({ bodyBytes: size, netBytes: result.usage.netBytes, seconds: Math.round(seconds * 1000) / 1000, bytesPerSecond: Math.round(rate), errorPercent: Math.round((rate / rateBytesPerSecond - 1) * 1000) / 10 });
  console.log(`${size} bytes at ${rateBytesPerSecond} B/s: ${seconds.toFixed(2)} s, ${Math.round(rate)} B/s (${runs.at(-1)!.errorPercent}%)`);
}
const overshoot: number[] = [];
for (const budget of [10_000, 100_000, 1_000_000]) {
  await engine.deploy(`cut-${budget}`, 'c', source, { allowHosts: [`127.0.0.1:${port}`], netBytes: budget });
  for (let i = 0; i < (args.quick ? 3 : 20); i++) {
    const result = await engine.invoke(`cut-${budget}`, Buffer.from(`strict 1 http://127.0.0.1:${port}/${budget * 4}`));
    if (result.ok || result.error.code !== 'ERR_NETWORK_BUDGET') throw new Error('expected ERR_NETWORK_BUDGET');
    overshoot.push(result.usage.netBytes - budget);
  }
}
console.log(`byte budget overshoot: ${JSON.stringify(summarize(overshoot))} bytes`);
await engine.close();
server.close();
await writeResult(args.out, { experiment: 'network-rate', quick: args.quick, machine: header, rateBytesPerSecond, runs, byteBudgetOvershootBytes: summarize(overshoot) });
