import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Engine } from '../../engine/index.ts';

/**
 * The Workers compatibility suite: every `<name>.js` in this folder is a Worker whose response
 * (status, headers and body, written out by {@link answerText}) is its output for the input in
 * `<name>.input` (an empty body when there is none), and `<name>.expected` holds what workerd
 * answered (written by `experiments/workers-compat.ts --update-expected`).
 */
export interface CompatCase {
  readonly name: string;
  readonly path: string;
  readonly source: Uint8Array;
  readonly input: Uint8Array;
  readonly expectedPath: string;
}

/** The folder of the suite's Workers. */
export const kCompatDir = new URL('.', import.meta.url).pathname;

/**
 * The Workers whose springbok output differs from workerd's, and why: each isolates one
 * difference, so every other Worker is held to workerd's bytes.
 */
export const kKnownDifferences: Readonly<Record<string, string>> = {
  'abort-message': 'the default AbortError message: springbok "This operation was aborted" (Node\'s wording), workerd "The operation was aborted"',
  'digest-md5': 'workerd digests MD5 (an extension); springbok has only the SHA family (NotSupportedError)',
  'header-names': 'workerd accepts the empty header name and non-ASCII names; springbok throws the TypeError the Fetch standard asks for',
  'event-edges': 'workerd gives a never-dispatched event an undefined target and lets preventDefault on a non-cancelable event make dispatchEvent false; springbok follows the DOM standard (null, true)',
};

/**
 * Headers the HTTP layer of a server adds or rewrites, not the Worker: workerd's server frames its
 * answer (content-length or transfer-encoding) and may add a date; springbok hands the Response's
 * own headers over. They are left out of both answers; every other header must be the same.
 */
export const kTransportHeaders: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'date', 'connection', 'keep-alive']);

/**
 * A Worker's answer as the suite compares it: `status <code>`, one `name: value` line per header
 * (lower-case names sorted, transport headers left out), an empty line, then the body's bytes.
 */
export function answerText (status: number, headers: Iterable<readonly [string, string]>, body: Uint8Array): Buffer {
  const lines = [...headers].filter(([name]) => !kTransportHeaders.has(name.toLowerCase())).map(([name, value]) => `${name.toLowerCase()}: ${value}`).sort();
  return Buffer.concat([Buffer.from(`status ${status}\n${lines.map((line) => `${line}\n`).join('')}\n`), body]);
}

/** The JavaScript engines the suite runs on. */
export const kCompatLanguages = ['js', 'quickjs'] as const;

async function readOptional (path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Uint8Array(0);
    throw error;
  }
}

/** Every Worker of the suite, sorted by name. */
export async function compatCases (): Promise<CompatCase[]> {
  const names = (await readdir(kCompatDir)).filter((file) => file.endsWith('.js')).map((file) => file.slice(0, -3)).sort();
  return Promise.all(names.map(async (name) => ({
    name,
    path: join(kCompatDir, `${name}.js`),
    source: await readFile(join(kCompatDir, `${name}.js`)),
    input: await readOptional(join(kCompatDir, `${name}.input`)),
    expectedPath: join(kCompatDir, `${name}.expected`),
  })));
}

/**
 * The server every Worker may fetch from, on a loopback port: it answers the method, path, the
 * request's `x-*` and content-type headers and its body as JSON, with a header of its own, and 404
 * on /missing. Only those parts of a request, because each runtime adds its own other headers.
 * Workers find its origin in `env.LOOPBACK`.
 */
export async function startLoopbackServer (): Promise<{ origin: string, host: string } & AsyncDisposable> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const headers = Object.entries(request.headers).filter(([name]) => name.startsWith('x-') || name === 'content-type').sort(([a], [b]) => a.localeCompare(b));
      const status = request.url === '/missing' ? 404 : 200;
      response.writeHead(status, { 'content-type': 'application/json', 'x-served-by': 'loopback' });
      response.end(JSON.stringify({ method: request.method, path: request.url, headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin: `http://${host}`, host, [Symbol.asyncDispose]: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

/**
 * Deploys the case on `language` as `<language>-<name>`, with `env.LOOPBACK` the loopback server's
 * origin and its host the one allowed, and invokes it as the socket does (a POST of the input to
 * http://function.invalid/): its answer ({@link answerText}), or the engine's error as text. The
 * engine must allow private addresses for 127.0.0.1.
 */
export async function runOnSpringbok (engine: Engine, language: string, compatCase: CompatCase, loopback: { origin: string, host: string }): Promise<string> {
  const name = `${language}-${compatCase.name}`;
  await engine.deploy(name, language, compatCase.source, { allowHosts: [loopback.host] }, { env: { LOOPBACK: loopback.origin } });
  const result = await engine.invoke(name, compatCase.input);
  if (!result.ok) return `error ${result.error.code}: ${result.error.message}`;
  if (result.response === undefined) return 'error: the Worker answered no status and headers';
  return answerText(result.response.status, result.response.headers, result.output).toString('utf8');
}
