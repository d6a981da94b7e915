import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * Hog demotion: a scheduler thread runs at a lower OS priority while it runs a CPU hog.
 *
 * Preemption (preemption.ts) ends a hog's slice as soon as a scheduler thread is sent new work, but
 * with hogs on every thread the cores are all busy, and the operating system shares them between
 * the threads running hogs, the main thread that reads and answers sockets, and the thread running
 * the light function: a light invocation's tail was the kernel's time slice, not ours. While a slice
 * of an invocation that has already used kHogCpuMs runs, its thread's nice value is raised by 10, so
 * every other runnable thread (the main thread, a scheduler thread running a short invocation, other
 * processes) takes the core first; alone on a core, a hog still runs at full speed.
 *
 * Linux only (a thread's id is read from /proc/thread-self, and setpriority on a thread id applies
 * to that thread); elsewhere, and on the main thread of an engine without scheduler threads, it does
 * nothing. Only guest code that runs on the scheduler thread is covered: `js` isolates run on
 * isolated-vm's own threads.
 */

/** An invocation that has used this much CPU, in ms, is a hog: 5 default slices. */
export const kHogCpuMs = 10;
/** How much a hog's nice value is raised: CPU weight about a tenth of the thread's own. */
const kHogNiceStep = 10;
/** The highest nice value there is. */
const kMaxNice = 19;

let threadId: number | undefined;
/** The thread's nice value as started (the process's: `nice springbok serve` keeps its meaning). */
let baseNice = 0;
let demoted = false;

/** A scheduler thread's side: its demotions take effect from now (no-op where the thread's id cannot be read). */
export function enableHogDemotion (): void {
  try {
    const id = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    if (!Number.isInteger(id) || id <= 0) return;
    const base = getPriority(id);
    if (base >= kMaxNice) return;
    // Going back up needs CAP_SYS_NICE or an RLIMIT_NICE that allows it: tried once here, so a
    // thread that could not undo a demotion is never demoted (it stays one step down at worst).
    setPriority(id, base + 1);
    setPriority(id, base);
    baseNice = base;
    threadId = id;
  } catch {
    // Not Linux, or not permitted: the thread keeps its priority.
  }
}

/** The scheduler's side: before each slice, whether its task is a hog; false at the end of a turn (the event loop reads new work at full priority). A system call only when that changes. */
export function demoteWhile (hog: boolean): void {
  if (threadId === undefined || hog === demoted) return;
  try {
    setPriority(threadId, hog ? Math.min(kMaxNice, baseNice + kHogNiceStep) : baseNice);
    demoted = hog;
  } catch {
    // Allowed when enabled; should the system refuse later, the thread keeps the priority it had.
  }
}
