import { ExitCode, kAddressHelp, kAddressOption, parse, requestFailed, resolveAddress, usageError, withClient, type CliIo, type Command } from './common.ts';

const help = `Usage: springbok stats [options]

Shows the engine's counters: invocations, failures by error code, CPU used, queue state, memory.

Options:
${kAddressHelp}
  --json                 the whole stats record as JSON
`;

export const statsCommand: Command = {
  summary: 'show engine and per-function counters',
  help,
  async run (args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(args, { ...kAddressOption, json: { type: 'boolean' } }, help);
    if (positionals.length > 0) throw usageError('stats takes no arguments', help);
    const stats = await withClient(resolveAddress(values.socket, io.env, help), (client) => client.stats()).catch((error: unknown) => { throw requestFailed(error); });
    if (values.json === true) {
      io.stdout.write(`${JSON.stringify(stats)}\n`);
      return ExitCode.ok;
    }
    const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    const errors = (record: Record<string, number | undefined>): string => Object.entries(record).map(([code, count]) => `${code}×${count}`).join(' ') || '-';
    io.stdout.write(`uptime ${(stats.uptimeMs / 1000).toFixed(1)} s, ${stats.functions} functions, ${stats.inFlight} invocations in flight, rss ${mb(stats.process.rssBytes)}, heap ${mb(stats.process.heapUsedBytes)}\n`);
    io.stdout.write(`scheduler: ${stats.scheduler.slices} slices, ${stats.scheduler.turns} turns, ${stats.scheduler.lanesReady} lanes ready, ${stats.scheduler.tasksWaiting} waiting\n`);
    for (const [index, thread] of (stats.threads ?? []).entries()) {
      io.stdout.write(`  thread ${index}: ${thread.inFlight} in flight, ${thread.functions} functions, ${thread.instances} instances, heap ${mb(thread.heapUsedBytes)}, ${thread.scheduler.slices} slices\n`);
    }
    io.stdout.write(`total: ${stats.totals.invocations} invocations, ${stats.totals.ok} ok, ${stats.totals.failed} failed (${errors(stats.totals.errors)}), cpu ${stats.totals.cpuMs.toFixed(1)} ms\n`);
    for (const [name, f] of Object.entries(stats.perFunction)) {
      io.stdout.write(`  ${name}: ${f.invocations} invocations, ${f.ok} ok, ${f.failed} failed (${errors(f.errors)}), cpu ${f.cpuMs.toFixed(1)} ms, peak memory ${f.peakMemoryBytes} B, ${f.inFlight} in flight\n`);
    }
    return ExitCode.ok;
  },
};
