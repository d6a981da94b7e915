import { emptyUsage, type Usage } from '../budget.ts';
import { hasMoreItemsThan } from './array-scan.ts';
import { toErrorRecord, type ErrorRecord } from '../errors.ts';
import type { InvokeResult } from '../invocation.ts';
import type { CallStep, FlowSpec, FlowStep, MapStep } from './flow-spec.ts';
import { FlowDataError, inputOf, jsonOf, referencesOf, renderTemplate } from './flow-template.ts';

/**
 * One run of a flow, on the control plane's thread. It holds no fiber: it is a table of step
 * outputs and a few callbacks. A step starts as soon as the steps it reads have finished, as an
 * ordinary invocation of its function (its own budgets, admission and thread); the first step to
 * fail, the flow's wall clock or the caller's cancel ends the run and cancels what still runs.
 */

/** What a flow run needs of the engine. */
export interface FlowHost {
  /** Runs one invocation of a step's function; rejects with EngineError when it is refused (unknown function, full queue, closed). */
  invokeStep (name: string, input: Uint8Array, signal: AbortSignal): Promise<InvokeResult>;
}

export interface FlowRunOptions {
  /** The flow's wall-clock budget, in ms, from acceptance. */
  readonly wallMs: number;
  readonly acceptedMsAgo?: number | undefined;
  readonly version: number;
  readonly maxOutputBytes: number;
  readonly maxLogBytes: number;
  readonly signal?: AbortSignal | undefined;
  /** Called once, synchronously, as the run ends and before its promise settles. It does not throw. */
  readonly onResult: (result: InvokeResult) => void;
}

/** How one step went, in the flow's usage (`usage.steps`, in the order of the flow file). */
export interface StepReport {
  readonly id: string;
  readonly function: string;
  /** not-run: the flow ended before the step could start. cancelled: it was running when the flow ended. */
  state: 'not-run' | 'running' | 'done' | 'failed' | 'cancelled';
  /** Invocations of its function: 1, or one per item of a map step. */
  invocations: number;
  /** Added over its invocations (memoryBytes: the largest). */
  readonly usage: Usage;
  /** When it started, in ms after the flow was accepted; absent when it did not run. */
  startMs?: number;
  /** From its start to its end (or the flow's), in ms. */
  wallMs?: number;
  error?: ErrorRecord;
}

/** A flow's usage: the sum over its steps' invocations (memoryBytes: the largest), and each step's part. */
export interface FlowUsage extends Usage {
  readonly steps: readonly StepReport[];
}

/** A step that failed: its error, and for a map step the item whose invocation failed. */
class StepFailure extends Error {
  readonly record: ErrorRecord;
  readonly item: number | undefined;
  constructor (record: ErrorRecord, item?: number) {
    super(record.message);
    this.record = record;
    this.item = item;
  }
}

/** Runs one flow invocation; never rejects (a failure is a result, as for any function). */
export function runFlow (spec: FlowSpec, input: Uint8Array, host: FlowHost, options: FlowRunOptions): Promise<InvokeResult> {
  return new FlowRun(spec, input, host, options).result;
}

class FlowRun {
  readonly result: Promise<InvokeResult>;
  readonly #spec: FlowSpec;
  readonly #input: Uint8Array;
  readonly #host: FlowHost;
  readonly #options: FlowRunOptions;
  readonly #controller = new AbortController();
  readonly #outputs = new Map<string, Uint8Array>();
  readonly #reports = new Map<string, StepReport>();
  /** Per step, how many of the steps it reads have not finished. */
  readonly #waitingOn = new Map<string, number>();
  readonly #readers = new Map<string, FlowStep[]>();
  /**
   * Per step, the readers that have not yet taken its output; at 0 the output is dropped, so a long
   * chain holds the outputs of its frontier, not of every step. The flow's output template counts
   * as a reader that never takes.
   */
  readonly #unread = new Map<string, number>();
  readonly #startedAt: number;
  readonly #deadline: NodeJS.Timeout;
  readonly #logs: string[] = [];
  #logBytes = 0;
  #unfinished: number;
  #settled = false;
  #resolve!: (result: InvokeResult) => void;

  constructor (spec: FlowSpec, input: Uint8Array, host: FlowHost, options: FlowRunOptions) {
    this.#spec = spec;
    this.#input = input;
    this.#host = host;
    this.#options = options;
    this.result = new Promise((resolve) => { this.#resolve = resolve; });
    this.#startedAt = performance.now() - (options.acceptedMsAgo ?? 0);
    for (const kept of referencesOf(spec.output)) this.#unread.set(kept, (this.#unread.get(kept) ?? 0) + 1);
    this.#unfinished = spec.steps.length;
    for (const step of spec.steps) {
      this.#reports.set(step.id, { id: step.id, function: step.function, state: 'not-run', invocations: 0, usage: emptyUsage() });
      this.#waitingOn.set(step.id, step.needs.length);
      for (const need of step.needs) {
        this.#readers.set(need, [...(this.#readers.get(need) ?? []), step]);
        this.#unread.set(need, (this.#unread.get(need) ?? 0) + 1);
      }
    }
    this.#deadline = setTimeout(this.#expire, Math.max(0, options.wallMs - (options.acceptedMsAgo ?? 0)));
    options.signal?.addEventListener('abort', this.#abort, { once: true });
    for (const step of spec.steps) if (step.needs.length === 0) this.#start(step);
  }

  #start (step: FlowStep): void {
    const report = this.#reports.get(step.id)!;
    report.state = 'running';
    report.startMs = this.#sinceStart();
    const running = step.kind === 'map' ? this.#runMap(step, report) : this.#runCall(step, report);
    running.then((output) => this.#finishStep(step, report, output), (error: unknown) => this.#failStep(step, report, error));
  }

  #finishStep (step: FlowStep, report: StepReport, output: Uint8Array): void {
    if (this.#settled) return;
    report.state = 'done';
    report.wallMs = roundMs(this.#sinceStart() - report.startMs!);
    // An output nothing reads (a step run for its effect) is not kept.
    if (this.#unread.has(step.id)) this.#outputs.set(step.id, output);
    this.#unfinished--;
    for (const reader of this.#readers.get(step.id) ?? []) {
      const left = this.#waitingOn.get(reader.id)! - 1;
      this.#waitingOn.set(reader.id, left);
      if (left === 0) this.#start(reader);
    }
    if (this.#unfinished === 0) this.#finishFlow();
  }

  #failStep (step: FlowStep, report: StepReport, error: unknown): void {
    if (this.#settled) return;
    const failure = error instanceof StepFailure ? error : new StepFailure(error instanceof FlowDataError ? { code: 'ERR_INVALID_ARGUMENT', message: error.message } : toErrorRecord(error));
    report.state = 'failed';
    report.wallMs = roundMs(this.#sinceStart() - report.startMs!);
    report.error = failure.record;
    const where = failure.item === undefined ? '' : ` item ${failure.item}`;
    this.#settle({ code: failure.record.code, message: `step ${JSON.stringify(step.id)}${where} (function ${step.function}): ${failure.record.message}` });
  }

  #finishFlow (): void {
    let output: Uint8Array;
    try {
      output = renderTemplate(this.#spec.output, this.#read);
    } catch (error) {
      this.#settle({ code: 'ERR_INVALID_ARGUMENT', message: `flow output: ${(error as Error).message}` });
      return;
    }
    if (output.byteLength > this.#options.maxOutputBytes) {
      this.#settle({ code: 'ERR_OUTPUT_TOO_LARGE', message: `flow output of ${output.byteLength} bytes is over the limit of ${this.#options.maxOutputBytes}` });
      return;
    }
    this.#settle(undefined, output);
  }

  async #runCall (step: CallStep, report: StepReport): Promise<Uint8Array> {
    const input = renderTemplate(step.input, this.#read);
    this.#taken(step);
    return this.#call(step, report, input);
  }

  /** Runs the step's function once; resolves to its output, rejects with StepFailure. */
  async #call (step: FlowStep, report: StepReport, input: Uint8Array, item?: number): Promise<Uint8Array> {
    report.invocations++;
    let result: InvokeResult;
    try {
      result = await this.#host.invokeStep(step.function, input, this.#controller.signal);
    } catch (error) {
      throw new StepFailure(toErrorRecord(error), item);
    }
    // Once the flow has answered, its usage and logs are the caller's and stay as they were.
    if (!this.#settled) {
      addUsage(report.usage, result.usage);
      const tag = item === undefined ? step.id : `${step.id}#${item}`;
      for (const line of result.logs) this.#log(`[${tag}] ${line}`);
    }
    if (!result.ok) throw new StepFailure(result.error, item);
    return result.output;
  }

  /**
   * Runs the step's function on every item of its array, at most `concurrency` at once, and joins
   * the outputs into a JSON array in item order. The joined size is held to the engine's output
   * limit as outputs arrive, so a fan-out cannot pile up more than one output's worth past it.
   */
  async #runMap (step: MapStep, report: StepReport): Promise<Uint8Array> {
    const what = step.over === undefined ? 'the flow\'s input' : `the output of step ${JSON.stringify(step.over)}`;
    const over = this.#read(step.over);
    const refused = { code: 'ERR_INVALID_ARGUMENT', message: `map over more than ${step.maxItems} items is refused (the step's maxItems)` } as const;
    if (hasMoreItemsThan(over, step.maxItems)) throw new StepFailure(refused);
    const items = jsonOf(over, what);
    this.#taken(step);
    if (!Array.isArray(items)) throw new StepFailure({ code: 'ERR_INVALID_ARGUMENT', message: `map needs a JSON array; ${what} is ${items === null ? 'null' : typeof items}` });
    if (items.length > step.maxItems) throw new StepFailure(refused);
    const joined: unknown[] = new Array(items.length);
    let next = 0;
    let bytes = 2;
    const worker = async (): Promise<void> => {
      while (next < items.length && !this.#settled) {
        const index = next++;
        const output = await this.#call(step, report, inputOf(items[index]), index);
        bytes += output.byteLength + 1;
        if (bytes > this.#options.maxOutputBytes) throw new StepFailure({ code: 'ERR_OUTPUT_TOO_LARGE', message: `the joined outputs pass the limit of ${this.#options.maxOutputBytes} bytes` }, index);
        try {
          joined[index] = jsonOf(output, 'its output');
        } catch (error) {
          throw new StepFailure({ code: 'ERR_INVALID_ARGUMENT', message: (error as FlowDataError).message }, index);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(step.concurrency, items.length) }, worker));
    return Buffer.from(JSON.stringify(joined));
  }

  /** `step` has built its input: the outputs it read are dropped once no other reader waits for them. */
  #taken (step: FlowStep): void {
    for (const need of step.needs) {
      const left = this.#unread.get(need)! - 1;
      this.#unread.set(need, left);
      if (left === 0) this.#outputs.delete(need);
    }
  }

  /** The flow's input (undefined) or a finished step's output; the scheduling guarantees it is there. */
  readonly #read = (step: string | undefined): Uint8Array => step === undefined ? this.#input : this.#outputs.get(step)!;

  #settle (error: ErrorRecord | undefined, output?: Uint8Array): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#deadline);
    this.#options.signal?.removeEventListener('abort', this.#abort);
    // The steps still running are cancelled: they end ERR_CANCELLED in their own functions' stats.
    this.#controller.abort(new Error('the flow ended'));
    const now = this.#sinceStart();
    const usage = { ...emptyUsage(), steps: [...this.#reports.values()] };
    for (const report of usage.steps) {
      if (report.state === 'running') {
        report.state = 'cancelled';
        report.wallMs = roundMs(now - report.startMs!);
      }
      addUsage(usage, report.usage);
    }
    const result: InvokeResult = error === undefined
      ? { ok: true, output: output!, usage, logs: this.#logs, version: this.#options.version }
      : { ok: false, error, usage, logs: this.#logs, version: this.#options.version };
    this.#options.onResult(result);
    this.#resolve(result);
  }

  #log (line: string): void {
    if (this.#logBytes > this.#options.maxLogBytes) return;
    this.#logBytes += Buffer.byteLength(line) + 1;
    this.#logs.push(this.#logBytes > this.#options.maxLogBytes ? `[log truncated at ${this.#options.maxLogBytes} bytes]` : line);
  }

  #sinceStart (): number {
    return roundMs(performance.now() - this.#startedAt);
  }

  readonly #expire = (): void => {
    const running = [...this.#reports.values()].filter((report) => report.state === 'running').map((report) => report.id);
    this.#settle({ code: 'ERR_WALL_TIMEOUT', message: `flow wall-clock budget of ${this.#options.wallMs} ms passed${running.length > 0 ? ` (still running: step ${running.join(', step ')})` : ''}` });
  };

  readonly #abort = (): void => {
    const reason: unknown = this.#options.signal?.reason;
    this.#settle({ code: 'ERR_CANCELLED', message: `flow cancelled by its caller${reason instanceof Error ? `: ${reason.message}` : ''}` });
  };
}

/** To the microsecond, as usage is reported everywhere. */
function roundMs (ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * Adds one invocation's usage to a step's or a flow's. The kv counters are added when the part has
 * them; a part's itemised ctx.invoke calls are not carried (they are its function's own detail).
 */
function addUsage (total: Usage, part: Usage): void {
  total.cpuMs = roundMs(total.cpuMs + part.cpuMs);
  total.memoryBytes = Math.max(total.memoryBytes, part.memoryBytes);
  total.netRequests += part.netRequests;
  total.netBytes += part.netBytes;
  if (part.kvReads !== undefined) total.kvReads = (total.kvReads ?? 0) + part.kvReads;
  if (part.kvWrites !== undefined) total.kvWrites = (total.kvWrites ?? 0) + part.kvWrites;
  if (part.kvBytes !== undefined) total.kvBytes = (total.kvBytes ?? 0) + part.kvBytes;
}
