/** What one worker thread reports for its tasks and executors, merged by the supervisor. */
import type { GaugeSample } from './contracts.js';
import type { HistogramSnapshot } from './latency-histogram.js';

export interface TaskCounters {
  emitted: number;
  transferred: number;
  executed: number;
  acked: number;
  failed: number;
  timedOut: number;
  errors: number;
  /** Times the task's circuit breaker opened (a dependency lost). */
  breakerOpens: number;
}

export interface TaskMetrics {
  readonly task: number;
  readonly component: string;
  readonly kind: 'spout' | 'bolt' | 'acker';
  readonly counters: TaskCounters;
  /**
   * Bolts: sampled execute latency, the bolt's own time (bolts it ran chained are excluded), and
   * sampled process latency (execute start to ack, the same exclusion). Spouts: complete latency of
   * every root completed by its acker. null where the kind has none.
   */
  readonly execute: HistogramSnapshot | null;
  readonly process: HistogramSnapshot | null;
  readonly complete: HistogramSnapshot | null;
  /** Spouts: roots in flight and parked. */
  readonly pending: number;
  readonly parked: number;
  /** Bolts: whether the task's circuit breaker is open (a dependency it needs is down). */
  readonly breakerOpen: boolean;
  /** Counters and histograms the component declared through its context. */
  readonly custom: Readonly<Record<string, number>>;
  readonly customHistograms: Readonly<Record<string, HistogramSnapshot>>;
  /** What the component's readings returned at this report (`TopologyContext.reading`); absent when it has none. */
  readonly readings?: Readonly<Record<string, unknown>>;
  /** The samples of the component's gauges at this report (`TopologyContext.gauge`); absent when it has none. */
  readonly gauges?: Readonly<Record<string, readonly GaugeSample[]>>;
}

/** A bolt executor. */
export interface ExecutorMetrics {
  readonly executor: number;
  readonly component: string;
  /** Storm's capacity over the last interval: tuples executed × mean execute latency / interval. */
  readonly capacity: number;
  /** Tuples addressed to the executor and not yet executed (its inbox and those on their way). */
  readonly queueDepth: number;
}

/** A worker thread's own figures over the last interval. */
export interface ThreadMetrics {
  /** Share of the interval its event loop was busy (perf_hooks eventLoopUtilization): the thread's CPU, near enough. */
  readonly busyRatio: number;
  readonly heapUsedBytes: number;
  /** V8's limit for the thread's heap (maxOldGenerationMb and the young generation). */
  readonly heapLimitBytes: number;
}

export interface WorkerMetricsSnapshot {
  readonly worker: number;
  readonly atMs: number;
  readonly thread: ThreadMetrics;
  readonly tasks: readonly TaskMetrics[];
  readonly executors: readonly ExecutorMetrics[];
}

export function newCounters(): TaskCounters {
  return { emitted: 0, transferred: 0, executed: 0, acked: 0, failed: 0, timedOut: 0, errors: 0, breakerOpens: 0 };
}
