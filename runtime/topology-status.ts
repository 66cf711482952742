import { LATENCY_BUCKETS_SECONDS, type HistogramSnapshot } from './latency-histogram.js';
import type { TaskMetrics, ThreadMetrics, WorkerMetricsSnapshot } from './metrics-snapshot.js';
import type { GroupingType, TopologySpec } from './spec.js';

/**
 * The live page's view of a running topology (Storm UI's topology page): its graph from the spec,
 * and per component the figures of the latest worker reports, merged over tasks and executors.
 * Rates and latency quantiles are over a sliding window of the samples this tracker took: each
 * sample keeps a component's cumulative counters and histograms, so memory is
 * components × WINDOW_SAMPLES × buckets, whatever the traffic.
 */

export interface StreamInput {
  readonly source: string;
  readonly stream: string;
  readonly grouping: GroupingType;
  readonly fields?: readonly string[];
}

export interface ComponentStatus {
  readonly id: string;
  readonly kind: 'spout' | 'bolt';
  readonly executors: number;
  readonly tasks: number;
  readonly inputs: readonly StreamInput[];
  /** Totals since start, as `/metrics` serves them. */
  readonly emitted: number;
  readonly executed: number;
  readonly acked: number;
  readonly failed: number;
  readonly timedOut: number;
  readonly errors: number;
  /** Per second over the window. */
  readonly emittedPerSec: number;
  readonly executedPerSec: number;
  /** Bolts: execute latency (own time) over the window, ms; null without samples. */
  readonly executeP50Ms: number | null;
  readonly executeP99Ms: number | null;
  /** Bolts: the highest capacity of its executors in their last interval, and their queue depths summed. */
  readonly capacity: number | null;
  readonly queueDepth: number | null;
  readonly breakerOpen: boolean;
  /** Spouts: roots in flight and parked, and complete latency over the window, ms. */
  readonly pending: number | null;
  readonly parked: number | null;
  readonly completeP50Ms: number | null;
  readonly completeP99Ms: number | null;
}

/** A worker thread's figures of its latest report. */
export interface ThreadStatus extends ThreadMetrics {
  readonly worker: number;
}

export interface TopologyStatusView {
  readonly name: string;
  readonly atMs: number;
  readonly windowSecs: number;
  readonly components: readonly ComponentStatus[];
  readonly threads: readonly ThreadStatus[];
}

/** Samples kept for rates and quantiles: with the page's 2 s refresh, about 30 s. */
export const WINDOW_SAMPLES = 15;

interface Cumulative {
  readonly emitted: number;
  readonly executed: number;
  readonly latency: HistogramSnapshot;
}

interface Sample {
  readonly atMs: number;
  readonly byComponent: ReadonlyMap<string, Cumulative>;
}

/**
 * The q-quantile of a histogram's per-bucket counts, interpolated linearly inside its bucket as
 * Prometheus' histogram_quantile does; null when it holds nothing. Seconds.
 */
export function histogramQuantile(q: number, counts: readonly number[]): number | null {
  let total = 0;
  for (const c of counts) total += c;
  if (total <= 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] ?? 0;
    if (c > 0 && below + c >= rank) {
      // The +Inf bucket has no upper bound: report its lower one, as Prometheus does.
      if (i >= LATENCY_BUCKETS_SECONDS.length) return LATENCY_BUCKETS_SECONDS[LATENCY_BUCKETS_SECONDS.length - 1]!;
      const lower = i === 0 ? 0 : LATENCY_BUCKETS_SECONDS[i - 1]!;
      const upper = LATENCY_BUCKETS_SECONDS[i]!;
      return lower + (upper - lower) * ((rank - below) / c);
    }
    below += c;
  }
  return null;
}

function emptyHistogram(): HistogramSnapshot {
  return { counts: new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0), sum: 0, count: 0 };
}

function addInto(into: HistogramSnapshot, h: HistogramSnapshot | null): void {
  if (h === null) return;
  for (let i = 0; i < into.counts.length; i++) into.counts[i]! += h.counts[i] ?? 0;
}

const toMs = (s: number | null) => (s === null ? null : s * 1000);

export class TopologyStatusTracker {
  private readonly samples: Sample[] = [];

  constructor(
    private readonly spec: TopologySpec,
    private readonly snapshots: () => ReadonlyArray<WorkerMetricsSnapshot | undefined>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a sample of the latest reports and describes the topology over the window up to it. */
  sample(): TopologyStatusView {
    const snapshots = this.snapshots().filter((s): s is WorkerMetricsSnapshot => s !== undefined);
    const byComponent = new Map<string, TaskMetrics[]>();
    for (const s of snapshots) for (const t of s.tasks) if (t.kind !== 'acker') (byComponent.get(t.component) ?? byComponent.set(t.component, []).get(t.component)!).push(t);

    const atMs = this.now();
    const cumulative = new Map<string, Cumulative>();
    for (const [id, tasks] of byComponent) {
      const latency = emptyHistogram();
      let emitted = 0;
      let executed = 0;
      for (const t of tasks) {
        emitted += t.counters.emitted;
        executed += t.counters.executed;
        addInto(latency, t.kind === 'spout' ? t.complete : t.execute);
      }
      cumulative.set(id, { emitted, executed, latency });
    }
    this.samples.push({ atMs, byComponent: cumulative });
    if (this.samples.length > WINDOW_SAMPLES) this.samples.shift();
    const first = this.samples[0]!;
    const secs = Math.max(0.001, (atMs - first.atMs) / 1000);

    const components: ComponentStatus[] = [];
    for (const c of this.spec.components) {
      if (c.kind === 'acker') continue;
      const tasks = byComponent.get(c.id) ?? [];
      const now = cumulative.get(c.id);
      const then = first.byComponent.get(c.id);
      const sum = (pick: (t: TaskMetrics) => number) => tasks.reduce((n, t) => n + pick(t), 0);
      // The window's histogram: the latest cumulative counts less those of the window's first sample.
      const window = now ? now.latency.counts.map((n, i) => n - (then && then !== now ? (then.latency.counts[i] ?? 0) : 0)) : [];
      const p50 = toMs(histogramQuantile(0.5, window));
      const p99 = toMs(histogramQuantile(0.99, window));
      const executors = snapshots.flatMap((s) => s.executors.filter((e) => e.component === c.id));
      const isSpout = c.kind === 'spout';
      const rate = (pick: (x: Cumulative) => number) => (now && then && then !== now ? Math.max(0, pick(now) - pick(then)) / secs : 0);
      components.push({
        id: c.id,
        kind: c.kind,
        executors: c.executors,
        tasks: c.tasks,
        inputs: c.inputs.map((i) => ({ source: i.source, stream: i.stream, grouping: i.grouping, ...(i.fields ? { fields: i.fields } : {}) })),
        emitted: sum((t) => t.counters.emitted),
        executed: sum((t) => t.counters.executed),
        acked: sum((t) => t.counters.acked),
        failed: sum((t) => t.counters.failed),
        timedOut: sum((t) => t.counters.timedOut),
        errors: sum((t) => t.counters.errors),
        emittedPerSec: rate((x) => x.emitted),
        executedPerSec: rate((x) => x.executed),
        executeP50Ms: isSpout ? null : p50,
        executeP99Ms: isSpout ? null : p99,
        capacity: isSpout ? null : executors.reduce((m, e) => Math.max(m, e.capacity), 0),
        queueDepth: isSpout ? null : executors.reduce((n, e) => n + e.queueDepth, 0),
        breakerOpen: tasks.some((t) => t.breakerOpen),
        pending: isSpout ? sum((t) => t.pending) : null,
        parked: isSpout ? sum((t) => t.parked) : null,
        completeP50Ms: isSpout ? p50 : null,
        completeP99Ms: isSpout ? p99 : null,
      });
    }
    const threads = snapshots.map((s) => ({ worker: s.worker, ...s.thread }));
    return { name: this.spec.options.name, atMs, windowSecs: Math.round(secs), components, threads };
  }
}
