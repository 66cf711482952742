import type { FailCause, GaugeSample, Logger, TopologyContext } from '../contracts.js';
import { DEFAULT_STREAM } from '../contracts.js';
import { ComponentError, describeError } from '../errors.js';
import { LatencyHistogram, type HistogramSnapshot } from '../latency-histogram.js';
import { newCounters } from '../metrics-snapshot.js';
import type { ControlSink, TreeMember } from '../root-tracking.js';
import type { ComponentSpec, TaskSpec, TopologySpec } from '../spec.js';
import { makeLogger } from './logger.js';
import type { Route, StreamTable } from './routing.js';

/** What a task needs from the worker thread that hosts it. */
export interface TaskHost extends ControlSink {
  readonly spec: TopologySpec;
  readonly me: number;
  readonly streams: StreamTable;
  readonly acking: boolean;
  readonly timeoutMs: number;
  deliver(destTask: number, streamCode: number, sourceTask: number, values: readonly unknown[], root: number, edgeHi: number, edgeLo: number, moreTrees: number[] | null): void;
  /**
   * Runs a tuple at once in a basic bolt task on this thread, inside the caller's emit, as a child
   * of `anchors` in the trees `root` and `moreTrees` (flat [root, 0, 0]*); false if the task is elsewhere.
   */
  runChained(destTask: number, streamCode: number, sourceTask: number, values: readonly unknown[], root: number, moreTrees: number[] | null, anchors: readonly TreeMember[] | null): boolean;
  scheduleTurn(): void;
  /** A spout has data again: ask the idle spouts at once. */
  wakeSpouts(): void;
  /** Takes what failed a root (its spout task does, with the Failed verdict), if a note came. */
  takeFailureNote(root: number): FailCause | undefined;
  /** Opens or closes a bolt task's circuit breaker (`OutputCollector.dependencyLost`). */
  setBreaker(task: number, component: string, open: boolean, dependency: string, err?: unknown): void;
}

function checkMetricName(name: string): void {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`metric name "${name}" must be snake_case`);
}

/** Labels the engine sets on every series of a task, and the histogram's; a gauge sample cannot use them. */
const RESERVED_LABELS = new Set(['instance', 'component', 'task', 'le']);

function checkGaugeLabels(gauge: string, labels: Readonly<Record<string, string>>): void {
  for (const [label, value] of Object.entries(labels)) {
    if (!/^[a-z][a-z0-9_]*$/.test(label) || RESERVED_LABELS.has(label)) throw new Error(`gauge "${gauge}": label "${label}" must be snake_case and not one of ${[...RESERVED_LABELS].join(', ')}`);
    if (typeof value !== 'string') throw new Error(`gauge "${gauge}": label "${label}" must be a string, not ${typeof value}`);
  }
}

/** What spout and bolt tasks share: their context, counters, logger and stream routes. */
export abstract class EmittingTask {
  readonly counters = newCounters();
  readonly log: Logger;
  protected readonly context: TopologyContext;
  private readonly codes = new Map<string, number>();
  protected readonly custom: Record<string, number> = {};
  protected readonly customHistograms: Record<string, LatencyHistogram> = {};
  private readonly readers = new Map<string, () => unknown>();
  private readonly gauges = new Map<string, () => readonly GaugeSample[]>();

  constructor(
    protected readonly host: TaskHost,
    protected readonly comp: ComponentSpec,
    protected readonly ts: TaskSpec,
    protected readonly routes: Map<number, Route[]>,
  ) {
    this.log = makeLogger({ component: comp.id, task: ts.taskId });
    this.context = {
      topologyName: host.spec.options.name,
      componentId: comp.id,
      taskId: ts.taskId,
      taskIndex: ts.taskIndex,
      componentTasks: comp.tasks,
      workerIndex: host.me,
      log: this.log,
      counter: (name) => {
        checkMetricName(name);
        this.custom[name] ??= 0;
        return { inc: (by = 1) => void (this.custom[name] = (this.custom[name] ?? 0) + by) };
      },
      histogram: (name) => {
        checkMetricName(name);
        const h = (this.customHistograms[name] ??= new LatencyHistogram());
        return { observe: (seconds) => h.observe(seconds) };
      },
      reading: (name, read) => void this.readers.set(name, read),
      gauge: (name, read) => {
        checkMetricName(name);
        this.gauges.set(name, read);
      },
    };
    for (const stream of Object.keys(comp.outputs)) this.codes.set(stream, host.streams.code(comp.id, stream)!);
  }

  get taskId(): number {
    return this.ts.taskId;
  }
  get component(): string {
    return this.comp.id;
  }

  // The stream of the last emit, its code and routes: most tasks emit on one stream.
  private lastStream: string | undefined | null = null;
  private lastCode = -1;
  protected lastRoutes: Route[] = [];

  /** The code of an emit's stream; its routes are then in `lastRoutes`. */
  protected streamCode(stream: string | undefined): number {
    if (stream === this.lastStream) return this.lastCode;
    const code = this.codeOf(stream);
    this.lastStream = stream;
    this.lastCode = code;
    this.lastRoutes = this.routes.get(code)!;
    return code;
  }

  private codeOf(stream: string | undefined): number {
    const code = this.codes.get(stream ?? DEFAULT_STREAM);
    if (code === undefined) {
      throw new ComponentError(`"${this.comp.id}" emitted on undeclared stream "${stream ?? DEFAULT_STREAM}" (declared: ${[...this.codes.keys()].join(', ')})`, {
        component: this.comp.id,
        task: this.ts.taskId,
        stream: stream ?? DEFAULT_STREAM,
      });
    }
    return code;
  }

  protected customHistogramSnapshots(): Record<string, HistogramSnapshot> {
    const out: Record<string, HistogramSnapshot> = {};
    for (const name of Object.keys(this.customHistograms)) out[name] = this.customHistograms[name]!.snapshot();
    return out;
  }

  /** The readings' values for a metrics report; undefined when the component registered none. */
  protected takeReadings(): Record<string, unknown> | undefined {
    if (this.readers.size === 0) return undefined;
    const out: Record<string, unknown> = {};
    for (const [name, read] of this.readers) {
      try {
        const value = read();
        if (value !== undefined) out[name] = value;
      } catch (err) {
        this.reportError(err, { reading: name });
      }
    }
    return out;
  }

  /** The gauges' samples for a metrics report; a gauge whose read throws or gives a bad label is left out and counted as an error. */
  private readGauges(): Record<string, readonly GaugeSample[]> {
    const out: Record<string, readonly GaugeSample[]> = {};
    for (const [name, read] of this.gauges) {
      try {
        const samples = read();
        for (const s of samples) checkGaugeLabels(name, s.labels);
        out[name] = samples;
      } catch (err) {
        this.reportError(err, { gauge: name });
      }
    }
    return out;
  }

  /** `{ readings, gauges }` for TaskMetrics, each left out when the component has none. */
  protected readingsField(): { readings?: Record<string, unknown>; gauges?: Record<string, readonly GaugeSample[]> } {
    const readings = this.takeReadings();
    return { ...(readings === undefined ? {} : { readings }), ...(this.gauges.size === 0 ? {} : { gauges: this.readGauges() }) };
  }

  protected reportError(err: unknown, fields?: Record<string, unknown>): void {
    this.counters.errors++;
    this.log.error('component error', { error: describeError(err), ...fields });
  }
}
