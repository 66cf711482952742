/** Counters one worker thread reports for its tasks and executors, merged by the supervisor. */

export interface TaskCounters {
  emitted: number;
  transferred: number;
  executed: number;
  acked: number;
  failed: number;
  timedOut: number;
  errors: number;
  /** Sums and counts of sampled latencies, milliseconds. */
  executeMsSum: number;
  executeCount: number;
  processMsSum: number;
  processCount: number;
  completeMsSum: number;
  completeCount: number;
  /** Times the task's circuit breaker opened (a dependency lost). */
  breakerOpens: number;
}

export interface TaskMetrics {
  readonly task: number;
  readonly component: string;
  readonly kind: 'spout' | 'bolt' | 'acker';
  readonly counters: TaskCounters;
  /** Spouts: roots in flight and parked. */
  readonly pending: number;
  readonly parked: number;
  /** Counters the component declared through its context. */
  readonly custom: Readonly<Record<string, number>>;
}

export interface ExecutorMetrics {
  readonly executor: number;
  readonly component: string;
  /** Share of the last interval spent executing, 0..1. */
  readonly capacity: number;
  readonly queueDepth: number;
}

export interface WorkerMetricsSnapshot {
  readonly worker: number;
  readonly atMs: number;
  readonly tasks: readonly TaskMetrics[];
  readonly executors: readonly ExecutorMetrics[];
}

export function newCounters(): TaskCounters {
  return {
    emitted: 0,
    transferred: 0,
    executed: 0,
    acked: 0,
    failed: 0,
    timedOut: 0,
    errors: 0,
    executeMsSum: 0,
    executeCount: 0,
    processMsSum: 0,
    processCount: 0,
    completeMsSum: 0,
    completeCount: 0,
    breakerOpens: 0,
  };
}
