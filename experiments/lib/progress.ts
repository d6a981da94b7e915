import { performance } from 'node:perf_hooks';

/**
 * Progress of a long experiment step, for a person watching a terminal: one line rewritten in place
 * (a bar when the total is known), at most a few times a second. When stdout is not a terminal
 * (CI, a pipe, a file) it prints nothing, so logs and captured output hold only the results; the
 * experiments print one line per measured point in any case.
 */
export interface Progress {
  /** `done` of `total` (when known) with a short note, e.g. the current memory. */
  update (done: number, note?: string): void;
  /** Clears the line. */
  end (): void;
}

const kQuiet: Progress = { update: () => {}, end: () => {} };

export function progress (label: string, total?: number, stream: NodeJS.WriteStream = process.stdout): Progress {
  if (stream.isTTY !== true) return kQuiet;
  const startedAt = performance.now();
  let lastAt = -Infinity;
  let shown = false;
  return {
    update (done, note = '') {
      const now = performance.now();
      if (now - lastAt < 200 && (total === undefined || done < total)) return;
      lastAt = now;
      const seconds = ((now - startedAt) / 1000).toFixed(0);
      let bar = `${done}`;
      if (total !== undefined && total > 0) {
        const width = 24;
        const filled = Math.min(width, Math.round(done / total * width));
        bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
      }
      const line = `${label} ${bar} ${seconds} s ${note}`.slice(0, Math.max(20, (stream.columns ?? 100) - 1));
      stream.write(`\r\x1b[2K${line}`);
      shown = true;
    },
    end () {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}
