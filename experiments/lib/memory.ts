import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Resident set size of a process in bytes, from /proc (Linux); undefined where there is none. */
export function processRss (pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * A process's RSS once it has settled: waits `settleMs`, then takes the median of a few reads
 * 100 ms apart (a collection or an allocation in progress moves single reads).
 */
export async function settledRss (pid: number, settleMs: number): Promise<number | undefined> {
  await sleep(settleMs);
  const reads: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(100);
    const rss = processRss(pid);
    if (rss !== undefined) reads.push(rss);
  }
  reads.sort((a, b) => a - b);
  return reads[Math.floor(reads.length / 2)];
}

/** Least-squares line y = intercept + slope·x through the points (slope NaN with fewer than two distinct x). */
export function linearFit (points: readonly { x: number, y: number }[]): { slope: number, intercept: number } {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) { sxx += (p.x - mx) ** 2; sxy += (p.x - mx) * (p.y - my); }
  const slope = sxx === 0 ? NaN : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

export const kMiB = 2 ** 20;
export const kGiB = 2 ** 30;

/**
 * Proportional set size of a process in bytes (its private pages plus its share of pages it shares
 * with others, such as a runtime's binary and libraries), from /proc/PID/smaps_rollup; falls back to
 * RSS where that file is missing. The fair measure of what one more process of many costs.
 */
export function processPss (pid: number): number | undefined {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    if (match !== null) return Number(match[1]) * 1024;
  } catch {}
  return processRss(pid);
}
