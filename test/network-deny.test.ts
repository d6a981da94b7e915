import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { example, httpBase, startEngineProcess, temporaryDir, type EngineProcess } from './support/engine-process.ts';

/**
 * The engine's deny list and own-port check, end to end: real `springbok serve` processes (two
 * scheduler threads, --http and --listen, a deploy token) and a real local server, all on
 * 127.0.0.1. A tenant's function names internal addresses in its own allow-list, in every spelling,
 * directly and behind redirects, and tries to delete another tenant's function through the
 * engine's HTTP port. It must reach nothing unless the operator opened the range, and never the
 * engine itself.
 */

const kToken = 'network-deny-token';
const auth = { authorization: `Bearer ${kToken}` };

/** Spellings that all connect to 127.0.0.1 on Linux (the URL parser rewrites most of them). */
const kLoopbackForms = ['127.0.0.1', '0.0.0.0', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '2130706433', '0x7f000001', '0x7f.1', '0177.0.0.1', '127.1', 'localhost.'];
/** Spellings of this machine that do not connect to 127.0.0.1 here (IPv6 unspecified, forms embedding 127.0.0.1): refused all the same. */
const kEmbeddingForms = ['[::]', '[::127.0.0.1]', '[64:ff9b::7f00:1]', '[2002:7f00:1::]'];

/** The attacker: fetches what its input says and reports what happened, so one invocation shows one attempt. */
const kAttacker = `export default async (input, ctx) => {
  const { url, method } = JSON.parse(input);
  try {
    const response = await ctx.fetch(url, { method });
    return 'ok ' + response.status + ' ' + String.fromCharCode(...response.body);
  } catch (error) {
    return 'error ' + error.code + ': ' + error.message;
  }
};
`;

/** A server for the tests: /redirect?to=URL answers 307 to URL (the method is kept, so a DELETE stays one); anything else is recorded and answered. */
async function localServer (): Promise<{ port: number, hits: string[] } & AsyncDisposable> {
  const hits: string[] = [];
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    if (url.pathname === '/redirect') {
      response.writeHead(307, { location: url.searchParams.get('to') ?? '/' });
      response.end();
      return;
    }
    hits.push(`${request.method} ${request.url}`);
    response.end('local secret');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    [Symbol.asyncDispose]: async () => { server.closeAllConnections(); server.close(); },
  };
}

interface Engine {
  readonly process: EngineProcess;
  readonly base: string;
  readonly httpPort: number;
  readonly tcpPort: number;
}

async function startEngine (dir: string, extraArgs: string[], env: NodeJS.ProcessEnv = {}): Promise<Engine> {
  const process = await startEngineProcess({ dir, extraArgs: ['--http', '127.0.0.1:0', '--listen', '127.0.0.1:0', '--deploy-token', kToken, '--workers', '2', ...extraArgs], env });
  const base = httpBase(process);
  const tcp = /\btcp=127\.0\.0\.1:(\d+)/.exec(process.readyLine)?.[1];
  assert.ok(tcp !== undefined, process.readyLine);
  return { process, base, httpPort: Number(new URL(base).port), tcpPort: Number(tcp) };
}

async function deploy (engine: Engine, name: string, language: string, source: string | Uint8Array, allowHosts: readonly string[] = []): Promise<void> {
  const query = allowHosts.map((host) => `&allow-host=${encodeURIComponent(host)}`).join('');
  const response = await fetch(`${engine.base}/functions/${name}?language=${language}&wall-ms=15000${query}`, { method: 'PUT', headers: auth, body: source });
  assert.equal(response.status, 200, await response.text());
}

/** One attempt by the attacker: its report, and how many requests the engine counted. */
async function attempt (engine: Engine, url: string, method = 'GET'): Promise<{ report: string, netRequests: number }> {
  const response = await fetch(`${engine.base}/functions/attacker`, { method: 'POST', body: JSON.stringify({ url, method }) });
  const report = await response.text();
  assert.equal(response.status, 200, report);
  return { report, netRequests: Number(response.headers.get('x-springbok-net-requests')) };
}

/** Invokes the light function until `stop` is set; returns its latencies (ms) and any failure. */
function keepCallingLight (engine: Engine, stop: { done: boolean }): Promise<{ latencies: number[], failures: string[] }> {
  return (async () => {
    const latencies: number[] = [];
    const failures: string[] = [];
    while (!stop.done) {
      const startedAt = performance.now();
      const response = await fetch(`${engine.base}/functions/light`, { method: 'POST', body: 'neighbour' });
      const text = await response.text();
      latencies.push(performance.now() - startedAt);
      if (text !== 'hello, neighbour') failures.push(`${response.status} ${text}`);
    }
    return { latencies, failures };
  })();
}

/** The attacker's allow-list: every spelling of every port it tries, and the metadata address. */
function attackerAllowList (ports: readonly number[]): string[] {
  return [...ports.flatMap((port) => [...kLoopbackForms, ...kEmbeddingForms].map((form) => `${form}:${port}`)), '169.254.169.254', '[fd00:ec2::254]'];
}

async function victimSurvives (engine: Engine): Promise<void> {
  const response = await fetch(`${engine.base}/functions/victim`);
  assert.equal(response.status, 200, `the other tenant's function is gone: ${await response.text()}`);
}

/** The three tenants: a victim, a light neighbour, and the attacker allowed every spelling of `ports`. */
async function deployTenants (engine: Engine, ports: readonly number[]): Promise<void> {
  await deploy(engine, 'victim', 'sm', await readFile(example('sm/hello.sm')));
  await deploy(engine, 'light', 'sm', await readFile(example('sm/hello.sm')));
  await deploy(engine, 'attacker', 'js', kAttacker, attackerAllowList(ports));
}

/** Runs `attacks` while the light function is called in a loop; then the victim must exist and the light function have answered promptly. */
async function whileNeighboursRun (engine: Engine, attacks: () => Promise<void>): Promise<void> {
  const stop = { done: false };
  const light = keepCallingLight(engine, stop);
  try {
    await attacks();
  } finally {
    stop.done = true;
  }
  await victimSurvives(engine);
  const { latencies, failures } = await light;
  assert.deepEqual(failures, []);
  assert.ok(latencies.length > 0 && Math.max(...latencies) < 3000, `the light function answered ${latencies.length} times, the slowest in ${Math.max(...latencies).toFixed(0)} ms`);
}

test('deny list on by default: no spelling of loopback, nor metadata, reaches a local server or the engine, whatever the allow-list says', { timeout: 180_000 }, async () => {
  await using dir = await temporaryDir();
  await using local = await localServer();
  const engine = await startEngine(dir.path, []);
  await using _engine = engine.process;
  await deployTenants(engine, [engine.httpPort, engine.tcpPort, local.port]);
  await whileNeighboursRun(engine, async () => {
    for (const port of [local.port, engine.httpPort, engine.tcpPort]) {
      for (const form of [...kLoopbackForms, ...kEmbeddingForms]) {
        const url = `http://${form}:${port}/functions/victim`;
        const { report, netRequests } = await attempt(engine, url, 'DELETE');
        assert.match(report, /^error ERR_NETWORK_BUDGET: .* is not a public address \(.*(loopback|unspecified).*\): the engine's network deny list refuses it/, url);
        assert.equal(netRequests, 0, `${url}: refused before a byte was sent, so not a request`);
      }
    }
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/latest/meta-data/']) {
      const { report } = await attempt(engine, url);
      assert.match(report, /^error ERR_NETWORK_BUDGET: .* is not a public address \(cloud metadata/, url);
    }
    // A redirect to loopback cannot be tried from here: the redirecting server is on loopback itself, and is refused first.
    const { report } = await attempt(engine, `http://127.0.0.1:${local.port}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${engine.httpPort}/functions/victim`)}`, 'DELETE');
    assert.match(report, /^error ERR_NETWORK_BUDGET: 127\.0\.0\.1 is not a public address/);
  });
  assert.deepEqual(local.hits, [], 'the local server saw no request');
});

test('the operator opens loopback: every spelling reaches the local server, directly and by redirect; the engine\'s own ports never', { timeout: 180_000 }, async () => {
  await using dir = await temporaryDir();
  await using local = await localServer();
  const engine = await startEngine(dir.path, ['--net-allow-private', '127.0.0.0/8,0.0.0.0']);
  await using _engine = engine.process;
  await deployTenants(engine, [engine.httpPort, engine.tcpPort, local.port]);
  await whileNeighboursRun(engine, async () => {
    for (const form of kLoopbackForms) {
      const direct = await attempt(engine, `http://${form}:${local.port}/direct`);
      assert.equal(direct.report, 'ok 200 local secret', `${form}: the same request the deny list refused goes through once the operator opened loopback`);
      assert.equal(direct.netRequests, 1);
      const redirected = await attempt(engine, `http://127.0.0.1:${local.port}/redirect?to=${encodeURIComponent(`http://${form}:${local.port}/redirected`)}`);
      assert.equal(redirected.report, 'ok 200 local secret', `redirect to ${form}`);
      assert.equal(redirected.netRequests, 2, 'each hop is a request');
    }
    assert.equal(local.hits.length, kLoopbackForms.length * 2);
    for (const form of kEmbeddingForms) {
      const { report } = await attempt(engine, `http://${form}:${local.port}/direct`);
      assert.match(report, /^error ERR_NETWORK_BUDGET: .* is not a public address/, `${form}: opening 127.0.0.0/8 does not open :: nor the IPv6 forms that embed 127.0.0.1`);
    }

    for (const port of [engine.httpPort, engine.tcpPort]) {
      for (const form of kLoopbackForms) {
        const target = `http://${form}:${port}/functions/victim`;
        const direct = await attempt(engine, target, 'DELETE');
        assert.match(direct.report, /^error ERR_NETWORK_BUDGET: .* is the engine's own address$/, target);
        assert.equal(direct.netRequests, 0);
        const redirected = await attempt(engine, `http://127.0.0.1:${local.port}/redirect?to=${encodeURIComponent(target)}`, 'DELETE');
        assert.match(redirected.report, /^error ERR_NETWORK_BUDGET: .* is the engine's own address$/, `redirect to ${target}`);
        assert.equal(redirected.netRequests, 1, 'the redirect was a request, the refused hop is not');
      }
    }
    // The function calling itself through the engine (a loop of invocations) is the same own-port refusal.
    const self = await attempt(engine, `http://0.0.0.0:${engine.httpPort}/functions/attacker`, 'POST');
    assert.match(self.report, /is the engine's own address$/);
  });
});

test('a redirect from an opened server to an address the operator did not open is refused at that hop (SPRINGBOK_NET_ALLOW_PRIVATE)', { timeout: 120_000 }, async () => {
  await using dir = await temporaryDir();
  await using local = await localServer();
  // Only the server's own address is open: 0.0.0.0, which also lands on it, is not.
  const engine = await startEngine(dir.path, [], { SPRINGBOK_NET_ALLOW_PRIVATE: '127.0.0.1/32' });
  await using _engine = engine.process;
  await deploy(engine, 'attacker', 'js', kAttacker, [...attackerAllowList([local.port, engine.httpPort])]);
  assert.equal((await attempt(engine, `http://127.0.0.1:${local.port}/direct`)).report, 'ok 200 local secret');
  for (const target of [`http://0.0.0.0:${local.port}/hidden`, `http://[::]:${local.port}/hidden`, 'http://169.254.169.254/latest/meta-data/', `http://[64:ff9b::7f00:1]:${local.port}/hidden`]) {
    const redirected = await attempt(engine, `http://127.0.0.1:${local.port}/redirect?to=${encodeURIComponent(target)}`);
    assert.match(redirected.report, /^error ERR_NETWORK_BUDGET: .* is not a public address/, `redirect to ${target}`);
    assert.equal(redirected.netRequests, 1);
  }
  const own = await attempt(engine, `http://127.0.0.1:${local.port}/redirect?to=${encodeURIComponent(`http://[::ffff:7f00:1]:${engine.httpPort}/functions`)}`);
  assert.match(own.report, /is the engine's own address$/);
  assert.deepEqual(local.hits, ['GET /direct'], 'no redirect reached the server it pointed at');
});

test('serve refuses a bad --net-allow-private before it starts, naming the option', async () => {
  await using dir = await temporaryDir();
  for (const [args, env, named] of [
    [['--net-allow-private', '10.0.0.1/8'], {}, /--net-allow-private must be a list of IP addresses or CIDR ranges .*"10\.0\.0\.1\/8"/],
    [[], { SPRINGBOK_NET_ALLOW_PRIVATE: '127.0.0.1,intranet' }, /SPRINGBOK_NET_ALLOW_PRIVATE must be a list .*"intranet"/],
  ] as const) {
    await assert.rejects(startEngineProcess({ dir: dir.path, extraArgs: [...args], env }), named);
  }
});
