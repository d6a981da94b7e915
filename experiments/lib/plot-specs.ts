import type { TopLevelSpec } from 'vega-lite';

/**
 * The vega-lite charts of doc/plots/, one function per chart, each from one experiment's JSON
 * result (experiments/results/<name>.json). Only the fields a chart reads are typed here; the
 * experiments own their formats.
 */

type Summary = { p50: number, p99: number };
type Row = Record<string, unknown>;

/** One chart to render: its file name (without .svg), the result it reads, and how. */
export interface ChartDef {
  readonly name: string;
  readonly source: string;
  readonly spec: (result: Row) => TopLevelSpec;
}

const kKindOrder = ['springbok', 'process', 'cgroup-process', 'container'];
const kKindLabels: Record<string, string> = { springbok: 'springbok', process: 'process per invocation', 'cgroup-process': 'process in a cgroup', container: 'container' };

function percentileRows (base: Row, summary: Summary | undefined): Row[] {
  if (summary === undefined) return [];
  return [{ ...base, percentile: 'p50', ms: summary.p50 }, { ...base, percentile: 'p99', ms: summary.p99 }];
}

/** baselines.json: cold start and warm latency per runtime, p50 and p99 on a log scale. */
function baselinesLatency (result: Row): TopLevelSpec {
  const rows = result.rows as { runtime: string, kind: string, function: string, coldStartMs?: Summary, warmLatencyMs?: Summary }[];
  const values = rows.flatMap((r) => {
    const base = { runtime: r.runtime, kind: kKindLabels[r.kind] ?? r.kind, kindOrder: kKindOrder.indexOf(r.kind), function: `${r.function}` };
    // A process per invocation is cold every time: its one figure stands in both panels.
    return [
      ...percentileRows({ ...base, measure: 'cold start (deployed → first result)' }, r.coldStartMs),
      ...percentileRows({ ...base, measure: 'warm invocation' }, r.warmLatencyMs),
    ];
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'springbok and baselines: latency per invocation (log scale)', subtitle: 'dot p50, tick p99; a process per invocation is cold on every invocation' },
    data: { values },
    facet: { row: { field: 'function', title: null, header: { labelFontSize: 13, labelFontWeight: 'bold' } }, column: { field: 'measure', title: null, header: { labelFontSize: 12 } } },
    spec: {
      width: 300,
      height: { step: 16 },
      layer: [
        { transform: [{ pivot: 'percentile', value: 'ms', groupby: ['runtime', 'kind', 'kindOrder', 'function', 'measure'] }], mark: { type: 'rule', color: '#bbb' }, encoding: { x: { field: 'p50', type: 'quantitative' }, x2: { field: 'p99' }, y: { field: 'runtime', type: 'nominal', sort: { field: 'kindOrder' } } } },
        { mark: { type: 'point', filled: true, size: 60 }, transform: [{ filter: "datum.percentile === 'p50'" }], encoding: { x: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'milliseconds' }, y: { field: 'runtime', type: 'nominal', sort: { field: 'kindOrder' }, title: null }, color: { field: 'kind', type: 'nominal', title: null, sort: kKindOrder.map((k) => kKindLabels[k]) } } },
        { mark: { type: 'tick', thickness: 2 }, transform: [{ filter: "datum.percentile === 'p99'" }], encoding: { x: { field: 'ms', type: 'quantitative' }, y: { field: 'runtime', type: 'nominal', sort: { field: 'kindOrder' } }, color: { field: 'kind', type: 'nominal' } } },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
}

/** baselines.json: invocations per second at the run's concurrency, per runtime (log scale). */
function baselinesThroughput (result: Row): TopLevelSpec {
  const rows = result.rows as { runtime: string, kind: string, function: string, throughput?: { concurrency: number, perSecond: number } }[];
  const values = rows.filter((r) => r.throughput !== undefined).map((r) => ({ runtime: r.runtime, kind: kKindLabels[r.kind] ?? r.kind, kindOrder: kKindOrder.indexOf(r.kind), function: r.function, perSecond: r.throughput!.perSecond, concurrency: r.throughput!.concurrency }));
  const concurrency = values[0]?.concurrency ?? '?';
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `springbok and baselines: invocations per second, ${concurrency} in flight (log scale)`, subtitle: 'springbok: one engine process (one thread runs functions); processes: all cores' },
    data: { values },
    facet: { column: { field: 'function', title: null, header: { labelFontSize: 13, labelFontWeight: 'bold' } } },
    spec: {
      width: 300,
      height: { step: 16 },
      mark: { type: 'bar' },
      encoding: {
        // A bar on a log scale needs a baseline other than 0: 1 invocation per second.
        x: { field: 'perSecond', type: 'quantitative', scale: { type: 'log', domainMin: 1 }, title: 'invocations per second' },
        x2: { datum: 1 },
        y: { field: 'runtime', type: 'nominal', sort: { field: 'kindOrder' }, title: null },
        color: { field: 'kind', type: 'nominal', title: null, sort: kKindOrder.map((k) => kKindLabels[k]) },
      },
    },
  } as TopLevelSpec;
}

/** baselines.json: springbok js over its socket against workerd over HTTP, per concurrency. */
function baselinesWorkerd (result: Row): TopLevelSpec {
  const rows = (result.workerd as { rows: { server: string, function: string, concurrency: number, perSecond: number, latencyMs: Summary }[] }).rows;
  const values = rows.flatMap((r) => [
    { server: r.server, function: r.function, concurrency: r.concurrency, measure: 'invocations per second', value: r.perSecond },
    { server: r.server, function: r.function, concurrency: r.concurrency, measure: 'p50 latency (ms)', value: r.latencyMs.p50 },
    { server: r.server, function: r.function, concurrency: r.concurrency, measure: 'p99 latency (ms)', value: r.latencyMs.p99 },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'springbok js (unix socket) and workerd (loopback HTTP, autocannon), same JS module', subtitle: 'x: requests in flight' },
    data: { values },
    facet: { row: { field: 'measure', title: null }, column: { field: 'function', title: null, header: { labelFontSize: 13, labelFontWeight: 'bold' } } },
    spec: {
      width: 220,
      height: 140,
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'concurrency', type: 'ordinal', title: 'concurrency', axis: { labelAngle: 0 } },
        xOffset: { field: 'server' },
        y: { field: 'value', type: 'quantitative', title: null },
        color: { field: 'server', type: 'nominal', title: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** warm-invoke.json: throughput and latency against concurrency, trivial and CPU-bound function. */
function warmInvoke (result: Row): TopLevelSpec {
  const rows = result.rows as { function: string, concurrency: number, perSecond: number, latencyMs: Summary }[];
  const values = rows.flatMap((r) => [
    { function: r.function, concurrency: r.concurrency, measure: 'invocations per second', value: r.perSecond },
    { function: r.function, concurrency: r.concurrency, measure: 'p50 latency (ms)', value: r.latencyMs.p50 },
    { function: r.function, concurrency: r.concurrency, measure: 'p99 latency (ms)', value: r.latencyMs.p99 },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Warm invocations through the unix socket (log scales)', subtitle: 'trivial: hello.sm; cpu: sum.sm of 20,000 numbers' },
    data: { values },
    facet: { column: { field: 'measure', title: null } },
    spec: {
      width: 200,
      height: 180,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'concurrency', type: 'quantitative', scale: { type: 'log', base: 2 }, axis: { values: [1, 8, 64] }, title: 'concurrency' },
        y: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: null },
        color: { field: 'function', type: 'nominal', title: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** noisy-neighbour.json: a light function's latency against the number of CPU hogs, per slice. */
function noisyNeighbour (result: Row): TopLevelSpec {
  const rows = result.rows as { sliceMs: number, hogs: number, latencyMs: Summary }[];
  const values = rows.flatMap((r) => percentileRows({ slice: `${r.sliceMs} ms slice`, hogs: r.hogs }, r.latencyMs));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'A light function beside CPU hogs: latency through the socket', subtitle: 'solid line p50, dashed p99; target: p99 beside hogs ≤ 2 × p99 alone' },
    data: { values },
    width: 320,
    height: 200,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'hogs', type: 'ordinal', title: 'CPU hogs (other functions in infinite loops)', axis: { labelAngle: 0 } },
      y: { field: 'ms', type: 'quantitative', title: 'latency (ms)' },
      color: { field: 'slice', type: 'nominal', title: null },
      strokeDash: { field: 'percentile', type: 'nominal', title: null, legend: null, sort: ['p50', 'p99'] },
    },
  };
}

/** noisy-neighbour.json: the light function beside 4 hogs of each kind (memory, network, rate-limited network). */
function noisyNeighbourKinds (result: Row): TopLevelSpec {
  const rows = (result.neighbours ?? []) as { kind: string, latencyMs: Summary }[];
  const label: Record<string, string> = { none: 'alone', memory: 'memory', network: 'network', 'rated-network': 'network at 1 MiB/s' };
  const values = rows.flatMap((r) => percentileRows({ neighbours: label[r.kind] ?? r.kind }, r.latencyMs));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'A light function beside 4 memory or network hogs', subtitle: 'latency through the socket, default 2 ms slice, 2 scheduler threads' },
    data: { values },
    width: 360,
    height: 200,
    mark: 'bar',
    encoding: {
      x: { field: 'neighbours', type: 'nominal', title: null, sort: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'percentile', type: 'nominal' },
      y: { field: 'ms', type: 'quantitative', title: 'latency (ms)' },
      color: { field: 'percentile', type: 'nominal', title: null },
    },
  };
}

type BudgetPrecisionRow = {
  language?: string; workload?: string; budgetMs?: number; budget?: { cpuMs: number };
  osCpuMs?: { p50: number | null, p99: number | null }; wallMs?: { p50: number | null };
  overshootRatio?: { p50: number | null, p99: number | null }; threadCpuOvershootMs?: Summary; stoppedInTime?: boolean;
};

/**
 * cpu-budget-precision.json: per language and workload, the OS-measured CPU of an invocation ÷ its
 * CPU budget (log scale). A workload whose process had to be killed has no CPU figure: its wall
 * time ÷ budget stands in (the thread was busy all along). Results from before the experiment
 * covered every language (sm rows only, `budgetMs`) still render.
 */
function cpuBudgetPrecision (result: Row): TopLevelSpec {
  const rows = result.rows as BudgetPrecisionRow[];
  const values = rows.map((r, order) => {
    const cpuMs = r.budget?.cpuMs ?? r.budgetMs ?? NaN;
    const legacy = r.language === undefined && r.threadCpuOvershootMs !== undefined;
    const p50 = legacy ? (r.threadCpuOvershootMs!.p50 + cpuMs) / cpuMs : r.overshootRatio?.p50 ?? null;
    const p99 = legacy ? (r.threadCpuOvershootMs!.p99 + cpuMs) / cpuMs : r.overshootRatio?.p99 ?? null;
    const killed = p50 === null;
    const wallRatio = (r.wallMs?.p50 ?? NaN) / cpuMs;
    const outcome = killed ? 'not stopped: process killed (wall ÷ budget)' : legacy || r.stoppedInTime === true ? 'stopped in time' : 'not stopped in time';
    return {
      label: `${r.language ?? 'sm'} ${r.workload ?? `loop-${cpuMs}ms`} (${cpuMs} ms)`,
      order,
      outcome,
      // A point on a log scale needs a positive value: 0.01 stands for "no CPU to speak of".
      p50: Math.max(0.01, killed ? wallRatio : p50),
      p99: Math.max(0.01, killed ? wallRatio : p99 ?? p50),
    };
  });
  const outcomes = ['stopped in time', 'not stopped in time', 'not stopped: process killed (wall ÷ budget)'];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'CPU budget precision: OS CPU of an invocation ÷ its CPU budget (log scale)', subtitle: 'dot p50, tick p99; thread CPU (process CPU for js); 1 = exactly the budget' },
    data: { values },
    width: 420,
    height: { step: 14 },
    layer: [
      { mark: { type: 'rule', color: '#bbb' }, encoding: { x: { field: 'p50', type: 'quantitative' }, x2: { field: 'p99' }, y: { field: 'label', type: 'nominal', sort: { field: 'order' } } } },
      { mark: { type: 'point', filled: true, size: 50 }, encoding: { x: { field: 'p50', type: 'quantitative', scale: { type: 'log' }, title: 'OS CPU ÷ CPU budget' }, y: { field: 'label', type: 'nominal', sort: { field: 'order' }, title: null, axis: { labelLimit: 400 } }, color: { field: 'outcome', type: 'nominal', title: null, scale: { domain: outcomes, range: ['#4c78a8', '#e45756', '#b279a2'] } } } },
      { mark: { type: 'tick', thickness: 2 }, encoding: { x: { field: 'p99', type: 'quantitative' }, y: { field: 'label', type: 'nominal', sort: { field: 'order' } }, color: { field: 'outcome', type: 'nominal' } } },
      { mark: { type: 'rule', strokeDash: [4, 3], color: '#888' }, encoding: { x: { datum: 1 } } },
    ],
  };
}

/** c-wasm.json: the same C code natively, as plain, fuel-metered and Asyncify wasm, and in the engine. */
function cFuel (result: Row): TopLevelSpec {
  const speed = result.speed as Record<string, Summary | string>[];
  const variants: [string, string][] = [['nativeMs', 'native'], ['plainWasmMs', 'plain wasm'], ['fuelWasmMs', 'fuel-metered wasm'], ['asyncifyWasmMs', 'Asyncify wasm (no fuel)'], ['engineCpuMs', 'through the engine']];
  const values = speed.flatMap((s) => {
    const native = (s.nativeMs as Summary).p50;
    return variants.filter(([key]) => s[key] !== undefined).map(([key, label], order) => ({ workload: s.workload as string, variant: label, order, ratio: Math.round((s[key] as Summary).p50 / native * 100) / 100 }));
  });
  const workloads = speed.map((s) => s.workload as string);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'C: time per call relative to native (p50)', subtitle: 'the fuel counter is what makes the CPU budget exact for C' },
    data: { values },
    width: { step: 22 },
    height: 220,
    layer: [
      { mark: { type: 'bar' }, encoding: { y: { field: 'ratio', type: 'quantitative', title: 'time ÷ native' }, color: { field: 'variant', type: 'nominal', title: null, sort: { field: 'order' } } } },
      { mark: { type: 'text', dy: -6, fontSize: 9 }, encoding: { y: { field: 'ratio', type: 'quantitative' }, text: { field: 'ratio', type: 'quantitative' } } },
    ],
    encoding: {
      x: { field: 'workload', type: 'nominal', title: null, sort: workloads, axis: { labelAngle: 0 } },
      xOffset: { field: 'variant', sort: { field: 'order' } },
    },
  };
}

const kLanguageOrder = ['sm', 'c', 'lua', 'lua54', 'js', 'quickjs'];
const kMiB = 2 ** 20;

/** density.json: engine RSS growth against live functions, per language (log scales). */
function densityRss (result: Row): TopLevelSpec {
  const languages = result.languages as { language: string, emptyRssBytes: number, points: { functions: number, liveRssBytes: number }[] }[];
  const values = languages.flatMap((l) => l.points.map((p) => ({ language: l.language, functions: p.functions, growthMiB: Math.max(0.1, Math.round((p.liveRssBytes - l.emptyRssBytes) / kMiB * 10) / 10) })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Density: engine RSS growth against live functions (log scales)', subtitle: 'each function deployed and invoked once (a live, idle instance); one springbok serve process per language' },
    data: { values },
    width: 420,
    height: 260,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'functions', type: 'quantitative', scale: { type: 'log' }, title: 'live functions' },
      y: { field: 'growthMiB', type: 'quantitative', scale: { type: 'log' }, title: 'RSS growth over the empty engine (MiB)' },
      color: { field: 'language', type: 'nominal', title: null, sort: kLanguageOrder },
    },
  };
}

/** density.json: bytes per live function (deploy + instance), and live functions per GiB, per language. */
function densityPerFunction (result: Row): TopLevelSpec {
  const languages = result.languages as { language: string, bytesPerDeployedFunction: number, bytesPerIdleInstance: number, bytesPerLiveFunction: number, liveFunctionsPerGiB: number | null }[];
  const values = languages.flatMap((l) => [
    { language: l.language, part: 'deployed (artifact, records)', order: 0, kib: Math.max(0, Math.round(l.bytesPerDeployedFunction / 102.4) / 10) },
    { language: l.language, part: 'live instance (first invocation)', order: 1, kib: Math.max(0, Math.round(l.bytesPerIdleInstance / 102.4) / 10) },
  ]);
  const labels = languages.map((l) => ({ language: l.language, kib: Math.round(l.bytesPerLiveFunction / 1024), label: `${l.liveFunctionsPerGiB?.toLocaleString('en-US') ?? '?'} per GiB` }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Density: memory per live function (RSS, KiB) and live functions per GiB', subtitle: 'slope of RSS against the count; split into what the deploy and the first invocation added' },
    width: 420,
    height: { step: 26 },
    layer: [
      {
        data: { values },
        mark: { type: 'bar' },
        encoding: {
          y: { field: 'language', type: 'nominal', sort: kLanguageOrder, title: null },
          x: { field: 'kib', type: 'quantitative', title: 'KiB per live function', stack: 'zero' },
          color: { field: 'part', type: 'nominal', title: null, sort: ['deployed (artifact, records)', 'live instance (first invocation)'] },
          order: { field: 'order' },
        },
      },
      {
        data: { values: labels },
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 11 },
        encoding: { y: { field: 'language', type: 'nominal', sort: kLanguageOrder }, x: { field: 'kib', type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
  };
}

/** density.json: live functions per GiB in springbok against idle processes per GiB (one per function), log scale. */
function densityPerGiB (result: Row): TopLevelSpec {
  const languages = result.languages as { language: string, liveFunctionsPerGiB: number | null }[];
  const baselines = (result.baselines ?? []) as { runtime: string, processesPerGiB: number }[];
  const values = [
    ...languages.filter((l) => l.liveFunctionsPerGiB !== null).map((l) => ({ what: `springbok ${l.language}`, kind: 'springbok: live functions', order: kLanguageOrder.indexOf(l.language), perGiB: l.liveFunctionsPerGiB })),
    ...baselines.map((b, i) => ({ what: `idle process: ${b.runtime}`, kind: 'an idle process per function (PSS)', order: 10 + i, perGiB: b.processesPerGiB })),
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Density: functions held ready per GiB of memory (log scale)', subtitle: 'springbok: RSS slope per live function; baselines: one warm process per function, its proportional set size' },
    data: { values },
    width: 420,
    height: { step: 20 },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          // A bar on a log scale needs a baseline other than 0: 10 per GiB.
          x: { field: 'perGiB', type: 'quantitative', scale: { type: 'log', domainMin: 10 }, title: 'functions per GiB' },
          x2: { datum: 10 },
          y: { field: 'what', type: 'nominal', sort: { field: 'order' }, title: null, axis: { labelLimit: 240 } },
          color: { field: 'kind', type: 'nominal', title: null },
        },
      },
      { mark: { type: 'text', align: 'left', dx: 4, fontSize: 10 }, encoding: { x: { field: 'perGiB', type: 'quantitative' }, y: { field: 'what', type: 'nominal', sort: { field: 'order' } }, text: { field: 'perGiB', type: 'quantitative', format: ',' } } },
    ],
  };
}

/** scaling.json: deploy time, RSS, warm latency and restart time against the number of functions. */
function scalingFunctions (result: Row): TopLevelSpec {
  const rows = result.functions as { series?: string, language: string, functions: number, deployMsPerFunction: number, rssBytes: number | null, hotLatencyMs: Summary, randomLatencyMs: Summary, randomThroughput: { perSecond: number }, restartMs: number, firstAfterRestartMs: number }[];
  // A series is a language on one engine configuration (e.g. "sm, 2 scheduler threads").
  const point = (r: { series?: string, language: string, functions: number }, measure: string, value: number, target = 'one function', percentile = 'p50'): Row =>
    ({ series: r.series ?? r.language, functions: r.functions, measure, value, target, percentile, line: `${r.series ?? r.language} ${target} ${percentile}` });
  const latency = 'warm latency, 1 in flight (ms)';
  const values = rows.flatMap((r) => [
    point(r, 'deploy (ms per function)', r.deployMsPerFunction),
    ...(r.rssBytes === null ? [] : [point(r, 'engine RSS (MiB), all live', Math.round(r.rssBytes / kMiB * 10) / 10)]),
    point(r, latency, r.hotLatencyMs.p50),
    point(r, latency, r.hotLatencyMs.p99, 'one function', 'p99'),
    point(r, latency, r.randomLatencyMs.p50, 'random function'),
    point(r, latency, r.randomLatencyMs.p99, 'random function', 'p99'),
    point(r, 'random functions, 8 in flight (per second)', r.randomThroughput.perSecond),
    point(r, 'restart to ready (ms)', r.restartMs),
    point(r, 'first answer after the restart (ms)', r.firstAfterRestartMs),
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Scaling with the number of deployed functions (log scales)', subtitle: 'latency: dots one hot function, squares a random one of all; p50 solid, p99 dashed' },
    data: { values },
    facet: { field: 'measure', type: 'nominal', title: null, sort: ['deploy (ms per function)', 'engine RSS (MiB), all live', 'restart to ready (ms)', 'warm latency, 1 in flight (ms)', 'random functions, 8 in flight (per second)', 'first answer after the restart (ms)'] },
    columns: 3,
    spec: {
      width: 260,
      height: 170,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'functions', type: 'quantitative', scale: { type: 'log' }, title: 'deployed functions' },
        y: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: null },
        color: { field: 'series', type: 'nominal', title: null },
        detail: { field: 'line' },
        shape: { field: 'target', type: 'nominal', title: null, sort: ['one function', 'random function'] },
        strokeDash: { field: 'percentile', type: 'nominal', title: null, sort: ['p50', 'p99'] },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** scaling.json: echo latency and payload rate against the input size. */
function scalingInput (result: Row): TopLevelSpec {
  const rows = result.inputSizes as { language: string, inputBytes: number, latencyMs: Summary, megabytesPerSecond: number }[];
  const label = (bytes: number): string => bytes === 0 ? '0 B' : bytes < kMiB ? `${bytes / 1024} KiB` : `${bytes / kMiB} MiB`;
  const sizes = [...new Set(rows.map((r) => r.inputBytes))].sort((a, b) => a - b).map(label);
  const values = rows.flatMap((r) => [
    { language: r.language, size: label(r.inputBytes), measure: 'latency p50 (ms)', value: r.latencyMs.p50 },
    { language: r.language, size: label(r.inputBytes), measure: 'latency p99 (ms)', value: r.latencyMs.p99 },
    ...(r.inputBytes > 0 ? [{ language: r.language, size: label(r.inputBytes), measure: 'MB/s of payload each way', value: r.megabytesPerSecond }] : []),
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Scaling with the input size: an echo function through the unix socket (log scales)', subtitle: '1 invocation in flight' },
    data: { values },
    facet: { column: { field: 'measure', title: null, sort: ['latency p50 (ms)', 'latency p99 (ms)', 'MB/s of payload each way'] } },
    spec: {
      width: 200,
      height: 180,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'size', type: 'ordinal', sort: sizes, title: 'input size', axis: { labelAngle: 0 } },
        y: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: null },
        color: { field: 'language', type: 'nominal', title: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** long-tail.json: the engine's RSS and its live instances over each phase's Zipf load, against the RSS bound where the ceiling is tight. */
function longTailRss (result: Row): TopLevelSpec {
  const phases = result.phases as { name: string, ceilingMiB: number, deployedRssBytes: number, rssBoundBytes: number, maxRssBytes: number, samples: { t: number, rssBytes: number | null, instances?: { live: number } }[] }[];
  const label = (p: { name: string, ceilingMiB: number }): string => `${p.name} (${p.ceilingMiB >= 2 ** 20 ? 'no ceiling' : `${p.ceilingMiB} MiB`})`;
  const rss = 'engine RSS (MiB)';
  const live = 'live instances (stats op)';
  const values = phases.flatMap((p) => p.samples.flatMap((s) => [
    ...(s.rssBytes === null ? [] : [{ phase: label(p), t: s.t, measure: rss, value: Math.round(s.rssBytes / kMiB) }]),
    ...(s.instances === undefined ? [] : [{ phase: label(p), t: s.t, measure: live, value: s.instances.live }]),
  ]));
  // The bound (RSS with every function deployed + the ceiling) is drawn only where the load comes near it.
  const bounds = phases.filter((p) => p.rssBoundBytes < 2 * p.maxRssBytes).map((p) => ({ phase: label(p), measure: rss, value: Math.round(p.rssBoundBytes / kMiB) }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Long tail: Zipf(1) calls over many deployed functions, per instance-memory ceiling', subtitle: 'dashed: RSS with every function deployed + the ceiling (shown where the load comes near it)' },
    facet: { row: { field: 'measure', title: null, sort: [rss, live] } },
    data: { values: [...values, ...bounds.map((b) => ({ ...b, bound: true }))] },
    spec: {
      width: 520,
      height: 180,
      layer: [
        { transform: [{ filter: '!datum.bound' }], mark: { type: 'line', point: { size: 12 } }, encoding: { x: { field: 't', type: 'quantitative', title: 'seconds into the load' }, y: { field: 'value', type: 'quantitative', title: null }, color: { field: 'phase', type: 'nominal', title: null } } },
        { transform: [{ filter: 'datum.bound' }], mark: { type: 'rule', strokeDash: [6, 4] }, encoding: { y: { field: 'value', type: 'quantitative' }, color: { field: 'phase', type: 'nominal' } } },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** http-vs-workerd.json: req/s, p50 and p99 of springbok's HTTP front (js, quickjs, c) and workerd, per function and connection count. */
function httpVsWorkerd (result: Row): TopLevelSpec {
  const rows = result.rows as { function: string, server: string, connections: number, perSecond: number, latencyMs: Summary }[];
  const fnLabel: Record<string, string> = { echo: 'echo', fib: `fib(${Number(result.fibN ?? 20)})` };
  const values = rows.flatMap((r) => {
    const base = { function: fnLabel[r.function] ?? r.function, server: r.server, connections: r.connections };
    return [{ ...base, measure: 'requests/s', value: r.perSecond }, { ...base, measure: 'p50 (ms)', value: r.latencyMs.p50 }, { ...base, measure: 'p99 (ms)', value: r.latencyMs.p99 }];
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'springbok serve --http against workerd, same module, loopback', subtitle: `${result.loadGenerator === 'wrk' ? 'wrk' : 'autocannon'}, keep-alive connections; medians of ${Number(result.rounds)} interleaved rounds (latency on a log scale)` },
    data: { values },
    facet: { row: { field: 'measure', title: null, sort: ['requests/s', 'p50 (ms)', 'p99 (ms)'], header: { labelFontSize: 12 } }, column: { field: 'function', title: null, header: { labelFontSize: 13, labelFontWeight: 'bold' } } },
    spec: {
      width: 240,
      height: 150,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'connections', type: 'ordinal', title: 'connections', axis: { labelAngle: 0 } },
        y: { field: 'value', type: 'quantitative', title: null, scale: { type: 'log' } },
        color: { field: 'server', type: 'nominal', title: null, sort: ['workerd', 'springbok js', 'springbok quickjs', 'springbok c'] },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** Every chart plot.ts renders, in the order doc/results.md shows them. */
export const kCharts: readonly ChartDef[] = [
  { name: 'baselines-latency', source: 'baselines', spec: baselinesLatency },
  { name: 'baselines-throughput', source: 'baselines', spec: baselinesThroughput },
  { name: 'baselines-workerd', source: 'baselines', spec: baselinesWorkerd },
  { name: 'warm-invoke', source: 'warm-invoke', spec: warmInvoke },
  { name: 'http-vs-workerd', source: 'http-vs-workerd', spec: httpVsWorkerd },
  { name: 'noisy-neighbour', source: 'noisy-neighbour', spec: noisyNeighbour },
  { name: 'noisy-neighbour-kinds', source: 'noisy-neighbour', spec: noisyNeighbourKinds },
  { name: 'cpu-budget-precision', source: 'cpu-budget-precision', spec: cpuBudgetPrecision },
  { name: 'c-fuel', source: 'c-wasm', spec: cFuel },
  { name: 'density-rss', source: 'density', spec: densityRss },
  { name: 'density-per-function', source: 'density', spec: densityPerFunction },
  { name: 'density-per-gib', source: 'density', spec: densityPerGiB },
  { name: 'scaling-functions', source: 'scaling', spec: scalingFunctions },
  { name: 'scaling-input', source: 'scaling', spec: scalingInput },
  { name: 'long-tail-rss', source: 'long-tail', spec: longTailRss },
];
