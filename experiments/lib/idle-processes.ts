import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { processPss, processRss } from './memory.ts';
import type { ProcessCommand } from './process-run.ts';

/** What N idle processes of one kind cost, per process. */
export interface IdleProcessMemory {
  readonly processes: number;
  /** Mean proportional set size (shared pages split between the processes that map them). */
  readonly pssBytesPerProcess: number;
  /** Mean resident set size (shared pages counted in full in every process). */
  readonly rssBytesPerProcess: number;
}

/**
 * Starts `count` processes of `command`, each of which must print a line "ready" once it holds its
 * function and then wait on stdin (an idle, warm process per function: the process-per-function
 * baseline of density), reads their memory, and ends them by closing their stdin (SIGKILL after 2 s).
 * @throws when a process exits or stays silent for 10 s before it is ready.
 */
export async function idleProcessMemory (command: ProcessCommand, count: number, settleMs: number): Promise<IdleProcessMemory> {
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const child = spawn(command.file, command.args, { stdio: ['pipe', 'pipe', 'ignore'], env: command.env ?? process.env });
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        let seen = '';
        const timer = setTimeout(() => reject(new Error(`${command.file} did not print "ready" within 10 s`)), 10_000);
        child.stdout.on('data', (chunk: Buffer) => { seen += chunk.toString(); if (seen.includes('ready')) { clearTimeout(timer); resolve(); } });
        child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${command.file} exited with ${code} before it was ready`)); });
        child.once('error', (error) => { clearTimeout(timer); reject(error); });
      });
    }
    await sleep(settleMs);
    let pss = 0;
    let rss = 0;
    for (const child of children) {
      pss += processPss(child.pid!) ?? NaN;
      rss += processRss(child.pid!) ?? NaN;
    }
    return { processes: count, pssBytesPerProcess: Math.round(pss / count), rssBytesPerProcess: Math.round(rss / count) };
  } finally {
    await Promise.all(children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(timer);
    }));
  }
}
