import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine, EngineStats, FunctionInfo } from '../../engine/index.ts';
import type { HttpMetricsSink } from './http-server.ts';

/** Latency buckets of HTTP invocations, in seconds: 100 µs (a warm trivial call) to 10 s (the default wall budget). */
const kLatencyBucketsSeconds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The engine's metrics in the Prometheus text format, on prom-client (metric names in doc/http.md).
 *
 * Everything the engine already counts (invocations, errors, CPU, memory, queues, functions) is
 * read from `engine.stats()` and `engine.list()` when scraped, so the invocation path pays nothing
 * for it. Only the latency histogram is fed per invocation, by the HTTP front, because the engine
 * keeps no latencies.
 */
export class EngineMetrics implements HttpMetricsSink {
  readonly #engine: Engine;
  readonly #registry = new Registry();
  readonly #latency: Histogram<'function'>;
  readonly #invocations: Counter<'function'>;
  readonly #errors: Counter<'function' | 'code'>;
  readonly #cpuSeconds: Counter<'function'>;
  readonly #peakMemory: Gauge<'function'>;
  readonly #functionInFlight: Gauge<'function'>;
  readonly #inFlight: Gauge;
  readonly #lanesReady: Gauge;
  readonly #tasksWaiting: Gauge;
  readonly #slices: Counter;
  readonly #turns: Counter;
  readonly #functions: Gauge<'language' | 'state'>;
  readonly #instancesLive: Gauge<'language'>;
  readonly #instanceEvictions: Counter;
  readonly #instanceRestores: Counter;
  readonly #instanceCharged: Gauge;
  readonly #instanceCeiling: Gauge;

  constructor (engine: Engine) {
    this.#engine = engine;
    const registers = [this.#registry];
    // Process CPU, memory, event-loop lag and GC: the lag is how long the scheduler held the thread.
    collectDefaultMetrics({ register: this.#registry });
    this.#latency = new Histogram({ name: 'springbok_http_invoke_duration_seconds', help: 'Time from the request body read to the answer, of invocations over HTTP, in seconds', labelNames: ['function'], buckets: kLatencyBucketsSeconds, registers });
    this.#invocations = new Counter({ name: 'springbok_invocations_total', help: 'Invocations finished (ok or failed), by function, over every dispatcher', labelNames: ['function'], registers });
    this.#errors = new Counter({ name: 'springbok_invocation_errors_total', help: 'Failed invocations by function and error code', labelNames: ['function', 'code'], registers });
    this.#cpuSeconds = new Counter({ name: 'springbok_function_cpu_seconds_total', help: 'CPU time charged to the function\'s invocations, in seconds', labelNames: ['function'], registers });
    this.#peakMemory = new Gauge({ name: 'springbok_function_peak_memory_bytes', help: 'Highest memory any invocation of the function reported, in bytes', labelNames: ['function'], registers });
    this.#functionInFlight = new Gauge({ name: 'springbok_function_in_flight', help: 'Invocations of the function accepted and not finished', labelNames: ['function'], registers });
    this.#inFlight = new Gauge({ name: 'springbok_in_flight', help: 'Invocations accepted and not finished, across all functions', registers });
    this.#lanesReady = new Gauge({ name: 'springbok_scheduler_lanes_ready', help: 'Functions with runnable invocations in the scheduler\'s ring', registers });
    this.#tasksWaiting = new Gauge({ name: 'springbok_scheduler_tasks_waiting', help: 'Invocations parked on host work (network, another thread)', registers });
    this.#slices = new Counter({ name: 'springbok_scheduler_slices_total', help: 'Scheduler slices run', registers });
    this.#turns = new Counter({ name: 'springbok_scheduler_turns_total', help: 'Scheduler turns that gave the thread back with work still queued', registers });
    this.#functions = new Gauge({ name: 'springbok_functions', help: 'Deployed functions by language and state', labelNames: ['language', 'state'], registers });
    this.#instancesLive = new Gauge({ name: 'springbok_instances_live', help: 'Live sandboxes by language (a function has one per scheduler thread that has run it)', labelNames: ['language'], registers });
    this.#instanceEvictions = new Counter({ name: 'springbok_instance_evictions_total', help: 'Idle sandboxes closed to stay under the instance-memory ceiling', registers });
    this.#instanceRestores = new Counter({ name: 'springbok_instance_restores_total', help: 'Evicted functions instantiated again by their next invocation', registers });
    this.#instanceCharged = new Gauge({ name: 'springbok_instance_memory_bytes', help: 'Memory charged to live sandboxes against the ceiling (their memory budget when it covers the instance)', registers });
    this.#instanceCeiling = new Gauge({ name: 'springbok_instance_memory_ceiling_bytes', help: 'The instance-memory ceiling (serve --max-instance-memory)', registers });
  }

  /** Function names with latency series, so those of removed functions can be dropped at scrape. */
  readonly #timed = new Set<string>();

  observeInvoke (name: string, seconds: number): void {
    this.#latency.observe({ function: name }, seconds);
    this.#timed.add(name);
  }

  async render (): Promise<{ readonly contentType: string, readonly body: string }> {
    this.#update(this.#engine.stats(), this.#engine.list(), this.#engine.languages);
    return { contentType: this.#registry.contentType, body: await this.#registry.metrics() };
  }

  /** Replaces every engine-derived series by the snapshot; a removed function's series disappear. */
  #update (stats: EngineStats, functions: readonly FunctionInfo[], languages: readonly string[]): void {
    for (const metric of [this.#invocations, this.#errors, this.#cpuSeconds, this.#peakMemory, this.#functionInFlight, this.#slices, this.#turns, this.#functions, this.#instancesLive, this.#instanceEvictions, this.#instanceRestores]) metric.reset();
    for (const [name, fn] of Object.entries(stats.perFunction)) {
      this.#invocations.inc({ function: name }, fn.invocations);
      for (const [code, count] of Object.entries(fn.errors)) this.#errors.inc({ function: name, code }, count ?? 0);
      this.#cpuSeconds.inc({ function: name }, fn.cpuMs / 1000);
      this.#peakMemory.set({ function: name }, fn.peakMemoryBytes);
      this.#functionInFlight.set({ function: name }, fn.inFlight);
    }
    this.#inFlight.set(stats.inFlight);
    this.#lanesReady.set(stats.scheduler.lanesReady);
    this.#tasksWaiting.set(stats.scheduler.tasksWaiting);
    this.#slices.inc(stats.scheduler.slices);
    this.#turns.inc(stats.scheduler.turns);
    this.#instanceEvictions.inc(stats.instances.evictions);
    this.#instanceRestores.inc(stats.instances.restores);
    this.#instanceCharged.set(stats.instances.chargedBytes);
    this.#instanceCeiling.set(stats.instances.ceilingBytes);
    // Without this a name that was deployed once would keep its histogram for ever.
    for (const name of this.#timed) {
      if (!(name in stats.perFunction)) { this.#latency.remove({ function: name }); this.#timed.delete(name); }
    }
    for (const language of languages) this.#instancesLive.set({ language }, 0);
    for (const fn of functions) {
      this.#functions.inc({ language: fn.language, state: fn.state });
      this.#instancesLive.inc({ language: fn.language }, fn.instances);
    }
  }
}
