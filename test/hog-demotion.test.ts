import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { getPriority } from 'node:os';
import { Engine } from '../engine/index.ts';
import { kHogCpuMs } from '../engine/threads/thread-priority.ts';
import { kRoot } from './support/engine-process.ts';

/**
 * A scheduler thread runs a CPU hog at a lower OS priority (engine/threads/thread-priority.ts), and
 * a short invocation at the normal one: read from the kernel's own view of this process's threads.
 */
const kThreadPlugins = new URL('./support/test-plugins.ts', import.meta.url).href;

/** The nice value of each thread of this process, by thread id (field 19 of /proc/self/task/TID/stat). */
async function niceByThread (): Promise<Map<number, number>> {
  const nice = new Map<number, number>();
  for (const tid of await readdir('/proc/self/task')) {
    const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue; // the thread ended meanwhile
    // After the command name in parentheses, which may hold spaces: state is field 3, nice field 19.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    nice.set(Number(tid), Number(fields[16]));
  }
  return nice;
}

/** This process's nice value: every thread starts with it. */
const kStartNice = getPriority();
const demotedThreads = async (): Promise<number> => [...(await niceByThread()).values()].filter((nice) => nice > kStartNice).length;

test('a scheduler thread running a CPU hog is demoted, and back at its own priority for a short function', { skip: !existsSync('/proc/thread-self') && 'Linux only' }, async () => {
  await using engine = await Engine.open({ workers: 1, pluginModule: { url: kThreadPlugins, export: 'threadSmPlugins' } });
  await engine.deploy('hog', 'sm', await readFile(`${kRoot}/examples/sm/spin.sm`), { cpuMs: 60_000, wallMs: 60_000 });
  await engine.deploy('light', 'sm', await readFile(`${kRoot}/examples/sm/hello.sm`));
  assert.equal((await engine.invoke('light', Buffer.from('x'))).ok, true);
  assert.equal(await demotedThreads(), 0, 'no thread is demoted before any hog ran');

  const controller = new AbortController();
  const hog = engine.invoke('hog', new Uint8Array(), { signal: controller.signal });
  try {
    // Past kHogCpuMs of CPU the hog's slices run demoted; polled, since the thread is only demoted while in a slice.
    let seen = 0;
    for (let i = 0; i < 200 && seen === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, kHogCpuMs));
      seen = await demotedThreads();
    }
    assert.equal(seen, 1, 'the one scheduler thread runs the hog demoted');
  } finally {
    controller.abort(new Error('test over'));
    await hog;
  }
  // The turn that ended the hog put the thread back; a short function runs there undemoted.
  assert.equal((await engine.invoke('light', Buffer.from('x'))).ok, true);
  assert.equal(await demotedThreads(), 0);
});
