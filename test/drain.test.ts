import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SpringbokClient } from '../dispatchers/client.ts';
import { httpBase, startEngineProcess, temporaryDir } from './support/engine-process.ts';

// SIGTERM drains the engine (doc/architecture.md, "Stopping"): invocations in flight run to their
// own end and are answered on their connections, new work is refused with ERR_CLOSED, /healthz
// says 503, and after --drain-ms what still runs ends with ERR_CLOSED.

const kSpin = Buffer.from('top:\n  jmp top\n');
const kEcho = Buffer.from('outin\n');
const codeOf = (result: { ok: boolean, error?: { code: string } }): string => result.ok ? 'ok' : result.error!.code;

test('SIGTERM lets the invocation in flight finish, refuses new ones with ERR_CLOSED, then the engine exits 0', async () => {
  await using dir = await temporaryDir();
  const engine = await startEngineProcess({ dir: dir.path, extraArgs: ['--workers', '1', '--drain-ms', '10000', '--http', '0'] });
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  try {
    await client.deploy('spin', 'sm', kSpin, { cpuMs: 400, wallMs: 10_000 });
    await client.deploy('echo', 'sm', kEcho);
    const inFlight = client.invoke('spin', '');
    inFlight.catch(() => {}); // awaited below; a failure of an earlier step must not surface as unhandled
    await new Promise((resolve) => setTimeout(resolve, 50));
    const exited = once(engine.child, 'exit');
    engine.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 150));
    await assert.rejects(client.invoke('echo', 'late'), { code: 'ERR_CLOSED', message: /draining/ });
    const health = await fetch(`${httpBase(engine)}/healthz`).catch(() => undefined);
    // The HTTP front stopped accepting connections: either no connection at all, or a 503.
    assert.ok(health === undefined || health.status === 503, `healthz answered ${health?.status} while draining`);
    const result = await inFlight;
    assert.equal(codeOf(result), 'ERR_CPU_BUDGET', 'the invocation in flight ran to its own end');
    const [exitCode] = await exited as [number | null];
    assert.equal(exitCode, 0, engine.stderr());
  } finally {
    await client.close();
    await engine.stop();
  }
});

test('SIGTERM: what still runs when --drain-ms passes ends with ERR_CLOSED, answered before the connection ends', async () => {
  await using dir = await temporaryDir();
  const engine = await startEngineProcess({ dir: dir.path, extraArgs: ['--workers', '0', '--drain-ms', '300'] });
  const client = await SpringbokClient.connect({ socketPath: engine.socketPath });
  try {
    await client.deploy('spin', 'sm', kSpin, { cpuMs: 60_000, wallMs: 60_000 });
    const inFlight = client.invoke('spin', '');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const startedAt = performance.now();
    const exited = once(engine.child, 'exit');
    engine.child.kill('SIGTERM');
    const result = await inFlight;
    const tookMs = performance.now() - startedAt;
    assert.equal(codeOf(result), 'ERR_CLOSED');
    assert.ok(tookMs >= 250 && tookMs < 8000, `the drain ended after ${tookMs.toFixed(0)} ms for --drain-ms 300`);
    const [exitCode] = await exited as [number | null];
    assert.equal(exitCode, 0, engine.stderr());
  } finally {
    await client.close();
    await engine.stop();
  }
});
