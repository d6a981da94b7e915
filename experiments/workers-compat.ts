#!/usr/bin/env node
/**
 * The Workers compatibility suite (test/workers-compat/*.js) on workerd and on springbok's two
 * JavaScript engines: each Worker gets the same POST of its input at path "/", and the responses
 * (status, headers and body; the transport headers each server frames its answer with left out,
 * test/workers-compat/cases.ts, kTransportHeaders) are compared byte for byte. workerd serves the files as they are (one process, one
 * service and one port per Worker); springbok runs them through the in-process Engine, as the
 * socket invokes them. With --update-expected, workerd's answers become the `.expected` files the
 * test (test/workers-compat.test.ts) checks both engines against.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../engine/index.ts';
import { jsPlugin } from '../plugins/js/index.ts';
import { quickjsPlugin } from '../plugins/quickjs/index.ts';
import { answerText, compatCases, kCompatLanguages, kKnownDifferences, runOnSpringbok, startLoopbackServer, type CompatCase } from '../test/workers-compat/cases.ts';
import { experimentArgs, machineHeader, writeResult } from './lib/report.ts';
import { startWorkerdWorkers, type WorkerdWorkers } from './lib/workerd-server.ts';

// experimentArgs knows only the flags every experiment shares: take this one out first.
const updateExpected = process.argv.includes('--update-expected');
process.argv = process.argv.filter((arg) => arg !== '--update-expected');
const args = experimentArgs('workers-compat', 'Usage: node experiments/workers-compat.ts [--quick] [--update-expected]\n\nRuns every Worker of test/workers-compat/ on workerd and on springbok js and quickjs, and compares the responses (status, headers, body) byte for byte.\n  --update-expected  write workerd\'s answers to test/workers-compat/<name>.expected');

interface Row {
  worker: string;
  workerdBytes: number | null;
  js: 'same' | 'differs';
  quickjs: 'same' | 'differs';
  /** Whether workerd still answers what the committed `.expected` file holds. */
  expectedFile: 'same' | 'differs' | 'missing' | 'written';
  /** Why springbok answers otherwise, for the Workers listed as known differences. */
  knownDifference?: string;
}

const header = machineHeader();
console.log(JSON.stringify(header));
const cases = await compatCases();
const dir = await mkdtemp(join(tmpdir(), 'springbok-workers-compat-'));
let workerd: WorkerdWorkers | undefined;
let workerdError: string | undefined;
const rows: Row[] = [];
const differences: { worker: string, language: string, workerd: string, springbok: string }[] = [];
const loopback = await startLoopbackServer();
try {
  try {
    workerd = await startWorkerdWorkers(dir, Object.fromEntries(cases.map((compatCase) => [compatCase.name, compatCase.path])), { env: { LOOPBACK: loopback.origin }, allowLocalNetwork: true });
  } catch (error) {
    workerdError = (error as Error).message.split('\n')[0];
    console.log(`workerd skipped: ${workerdError}`);
  }
  if (workerd !== undefined) {
    await using engine = await Engine.open({ plugins: [jsPlugin(), quickjsPlugin()], netAllowPrivate: ['127.0.0.1'] });
    for (const compatCase of cases) rows.push(await compare(engine, workerd, compatCase));
  }
} finally {
  await workerd?.stop();
  await loopback[Symbol.asyncDispose]();
  await rm(dir, { recursive: true, force: true });
}

if (rows.length > 0) {
  console.log(`\n${'worker'.padEnd(20)} ${'bytes'.padStart(6)}  js       quickjs  .expected  known difference`);
  for (const row of rows) console.log(`${row.worker.padEnd(20)} ${String(row.workerdBytes).padStart(6)}  ${row.js.padEnd(8)} ${row.quickjs.padEnd(8)} ${row.expectedFile.padEnd(10)} ${row.knownDifference === undefined ? '' : 'yes'}`);
  const same = rows.filter((row) => row.js === 'same' && row.quickjs === 'same').length;
  console.log(`\n${same} of ${rows.length} Workers answer byte for byte what workerd answers on both engines`);
  for (const difference of differences) console.log(`\n${difference.worker} on ${difference.language}${difference.worker in kKnownDifferences ? ` (known: ${kKnownDifferences[difference.worker]})` : ''}:\n--- workerd\n${difference.workerd}--- springbok\n${difference.springbok}`);
}
await writeResult(args.out, { experiment: 'workers-compat', quick: args.quick, machine: header, workerd: workerdError === undefined ? `ran (startup ${workerd?.startupMs.toFixed(0)} ms)` : `skipped: ${workerdError}`, rows, differences });

async function compare (engine: Engine, server: WorkerdWorkers, compatCase: CompatCase): Promise<Row> {
  // A Uint8Array body carries no content-type, as the socket's POST has none.
  const response = await fetch(`${server.urls[compatCase.name]}/`, { method: 'POST', body: compatCase.input });
  const answer = answerText(response.status, response.headers, Buffer.from(await response.arrayBuffer()));
  const row: Row = { worker: compatCase.name, workerdBytes: answer.length, js: 'same', quickjs: 'same', expectedFile: 'missing', knownDifference: kKnownDifferences[compatCase.name] };
  for (const language of kCompatLanguages) {
    const output = Buffer.from(await runOnSpringbok(engine, language, compatCase, loopback));
    if (!output.equals(answer)) {
      row[language] = 'differs';
      differences.push({ worker: compatCase.name, language, workerd: answer.toString('utf8'), springbok: output.toString('utf8') });
    }
  }
  if (updateExpected) {
    await writeFile(compatCase.expectedPath, answer);
    row.expectedFile = 'written';
  } else {
    const expected = await readFile(compatCase.expectedPath).catch(() => undefined);
    if (expected !== undefined) row.expectedFile = expected.equals(answer) ? 'same' : 'differs';
  }
  return row;
}
