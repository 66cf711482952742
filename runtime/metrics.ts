import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, type MetricType, type Registry } from 'prom-client';
import { LATENCY_BUCKETS_SECONDS, type HistogramSnapshot } from './latency-histogram.js';
import type { GaugeSample } from './contracts.js';
import type { ExecutorMetrics, TaskCounters, TaskMetrics, WorkerMetricsSnapshot } from './metrics-snapshot.js';
import type { LivePage } from './live-page.js';
import type { RunningTopology } from './topology-runner.js';

/** One task's histogram, with the labels it is exposed under (besides `instance` and `le`). */
interface TaskHistogram {
  readonly component: string;
  readonly task: number;
  readonly histogram: HistogramSnapshot;
}

const LE_LABELS = LATENCY_BUCKETS_SECONDS.map(String);

/**
 * A Prometheus histogram whose buckets the worker threads have already counted: prom-client's
 * Histogram can only observe values one by one, so this one writes its series (`_bucket` with
 * cumulative counts, `_sum`, `_count`) from the latest snapshots at each scrape.
 */
class SnapshotHistogram extends Histogram<string> {
  constructor(
    registry: Registry,
    private readonly metricName: string,
    private readonly helpText: string,
    private readonly instance: string,
    private readonly read: () => Iterable<TaskHistogram>,
  ) {
    super({ name: metricName, help: helpText, labelNames: ['instance', 'component', 'task'], buckets: [...LATENCY_BUCKETS_SECONDS], registers: [registry] });
  }

  override async get(): ReturnType<Histogram<string>['get']> {
    const values: Array<{ value: number; labels: Record<string, string>; metricName: string }> = [];
    for (const { component, task, histogram } of this.read()) {
      const labels = { instance: this.instance, component, task: String(task) };
      let cumulative = 0;
      for (let i = 0; i < LE_LABELS.length; i++) {
        cumulative += histogram.counts[i] ?? 0;
        values.push({ value: cumulative, labels: { ...labels, le: LE_LABELS[i]! }, metricName: `${this.metricName}_bucket` });
      }
      values.push({ value: histogram.count, labels: { ...labels, le: '+Inf' }, metricName: `${this.metricName}_bucket` });
      values.push({ value: histogram.sum, labels, metricName: `${this.metricName}_sum` });
      values.push({ value: histogram.count, labels, metricName: `${this.metricName}_count` });
    }
    // prom-client types `type` as an enum, but writes the string it holds into `# TYPE`.
    return { name: this.metricName, help: this.helpText, type: 'histogram' as unknown as MetricType, aggregator: 'sum', values, collect: () => undefined };
  }

  /** What the registry calls to write the text format. */
  getForPromString(): ReturnType<Histogram<string>['get']> {
    return this.get();
  }
}

/** One task's gauge samples, with the task's labels. */
interface TaskGauge {
  readonly component: string;
  readonly task: number;
  readonly samples: readonly GaugeSample[];
}

/**
 * A gauge whose series the components report themselves (`TopologyContext.gauge`), each with its
 * own labels: written from the latest snapshots at each scrape, so a series a component stopped
 * reporting (a Kafka partition revoked) is gone, and its label names need not be declared up front.
 */
class SnapshotGauge extends Gauge<string> {
  constructor(
    registry: Registry,
    private readonly metricName: string,
    private readonly helpText: string,
    private readonly instance: string,
    private readonly read: () => Iterable<TaskGauge>,
  ) {
    super({ name: metricName, help: helpText, labelNames: ['instance', 'component', 'task'], registers: [registry] });
  }

  override async get(): ReturnType<Gauge<string>['get']> {
    const values: Array<{ value: number; labels: Record<string, string> }> = [];
    for (const { component, task, samples } of this.read()) {
      for (const s of samples) values.push({ value: s.value, labels: { ...s.labels, instance: this.instance, component, task: String(task) } });
    }
    return { name: this.metricName, help: this.helpText, type: 'gauge' as unknown as MetricType, aggregator: 'sum', values, collect: () => undefined };
  }

  getForPromString(): ReturnType<Gauge<string>['get']> {
    return this.get();
  }
}

/**
 * Exposes the figures of every worker thread, merged, as Prometheus series. Every series carries
 * the `instance` label (the topology's instance name) plus `component` and `task`, or
 * `executor` and `worker` for executor-level series. The registry is passed in, never a global.
 * README.md, section Metrics, lists them all.
 */
export function registerTopologyMetrics(registry: Registry, topology: RunningTopology, instance: string): void {
  const snapshots = () => topology.snapshots.filter((s): s is WorkerMetricsSnapshot => s !== undefined);
  function* tasks(): Generator<TaskMetrics> {
    for (const s of snapshots()) for (const t of s.tasks) if (t.kind !== 'acker') yield t;
  }
  const taskLabels = ['instance', 'component', 'task'] as const;

  const counter = (name: string, help: string, pick: (c: TaskCounters) => number) =>
    new Counter({
      name,
      help,
      labelNames: taskLabels,
      registers: [registry],
      collect() {
        this.reset();
        for (const t of tasks()) this.inc({ instance, component: t.component, task: String(t.task) }, pick(t.counters));
      },
    });
  counter('themis_emitted_tuples_total', 'Tuples emitted by a task (Storm: emitted)', (c) => c.emitted);
  counter('themis_transferred_tuples_total', 'Tuple copies sent to subscribing tasks, chained runs included (Storm: transferred)', (c) => c.transferred);
  counter('themis_executed_tuples_total', 'Input tuples executed by a bolt task', (c) => c.executed);
  counter('themis_acked_tuples_total', 'Tuples acked (bolts) or roots completed (spouts)', (c) => c.acked);
  counter('themis_failed_tuples_total', 'Tuples failed (bolts) or roots failed, timeouts included (spouts)', (c) => c.failed);
  counter('themis_timed_out_tuples_total', 'Spout roots failed by the message timeout', (c) => c.timedOut);
  counter('themis_component_errors_total', 'Exceptions thrown by a task and survived', (c) => c.errors);
  counter('themis_circuit_breaker_opens_total', "Times a bolt task's circuit breaker opened: a dependency it needs (database, broker) became unavailable", (c) => c.breakerOpens);

  const histogram = (name: string, help: string, pick: (t: TaskMetrics) => HistogramSnapshot | null) =>
    new SnapshotHistogram(registry, name, help, instance, function* () {
      for (const t of tasks()) {
        const h = pick(t);
        if (h !== null) yield { component: t.component, task: t.task, histogram: h };
      }
    });
  histogram(
    'themis_execute_latency_seconds',
    "Sampled execute latency of a bolt task, its own time: the bolts it ran chained (inside its emits) are not in it (Storm: execute latency)",
    (t) => t.execute,
  );
  histogram('themis_process_latency_seconds', 'Sampled process latency of a bolt task: execute start to ack, bolts it ran chained left out (Storm: process latency)', (t) => t.process);
  histogram('themis_complete_latency_seconds', 'Spout complete latency: emit to tree complete, of the roots completed by an acker (Storm: complete latency)', (t) => t.complete);

  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (set: (labels: Record<L, string>, value: number) => void) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill((labels, value) => this.set(labels, value));
      },
    });
  const spoutGauge = (name: string, help: string, pick: (t: TaskMetrics) => number) =>
    gauge(name, help, taskLabels, (set) => {
      for (const t of tasks()) if (t.kind === 'spout') set({ instance, component: t.component, task: String(t.task) }, pick(t));
    });
  spoutGauge('themis_spout_pending_roots', 'Spout roots in flight (counted against maxSpoutPending)', (t) => t.pending);
  spoutGauge('themis_spout_parked_roots', 'Spout roots held by a bolt (flow matching), outside maxSpoutPending and the timeout', (t) => t.parked);

  gauge('themis_circuit_breaker_open', "1 while a bolt task's circuit breaker is open: it takes no input and no root times out", taskLabels, (set) => {
    for (const t of tasks()) if (t.kind === 'bolt') set({ instance, component: t.component, task: String(t.task) }, t.breakerOpen ? 1 : 0);
  });

  const executorGauge = (name: string, help: string, pick: (e: ExecutorMetrics) => number) =>
    gauge(name, help, ['instance', 'component', 'executor', 'worker'] as const, (set) => {
      for (const s of snapshots()) for (const e of s.executors) set({ instance, component: e.component, executor: String(e.executor), worker: String(s.worker) }, pick(e));
    });
  executorGauge(
    'themis_executor_capacity_ratio',
    "A bolt executor's capacity over the last metrics interval: tuples executed × mean execute latency (own time) / interval (Storm: capacity)",
    (e) => e.capacity,
  );
  executorGauge('themis_executor_queue_depth_tuples', 'Tuples addressed to a bolt executor and not yet executed: its inbox and those on their way to it', (e) => e.queueDepth);

  // Counters and histograms the components declared themselves, e.g. the Themis timer bolts.
  const customCounters = new Set<string>();
  const customHistograms = new Set<string>();
  const customGauges = new Set<string>();
  const ensureCustom = () => {
    for (const t of tasks()) {
      for (const name of Object.keys(t.custom)) {
        if (customCounters.has(name)) continue;
        customCounters.add(name);
        new Counter({
          name: `themis_${name}_total`,
          help: `Component counter ${name}`,
          labelNames: taskLabels,
          registers: [registry],
          collect() {
            this.reset();
            for (const t2 of tasks()) if (t2.custom[name] !== undefined) this.inc({ instance, component: t2.component, task: String(t2.task) }, t2.custom[name]);
          },
        });
      }
      for (const name of Object.keys(t.customHistograms)) {
        if (customHistograms.has(name)) continue;
        customHistograms.add(name);
        histogram(`themis_${name}_seconds`, `Component histogram ${name}, seconds`, (t2) => t2.customHistograms[name] ?? null);
      }
      for (const name of Object.keys(t.gauges ?? {})) {
        if (customGauges.has(name)) continue;
        customGauges.add(name);
        new SnapshotGauge(registry, `themis_${name}`, `Component gauge ${name}`, instance, function* () {
          for (const t2 of tasks()) {
            const samples = t2.gauges?.[name];
            if (samples) yield { component: t2.component, task: t2.task, samples };
          }
        });
      }
    }
  };
  topology.on('metrics', ensureCustom);
}

/**
 * Serves `/metrics` on the given port, bound to 127.0.0.1 unless another host is given, and the
 * live page's routes when one is given (close the page before the server: its event streams stay open).
 */
export async function serveMetrics(registry: Registry, port: number, host = '127.0.0.1', page?: LivePage): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      if (page?.handle(req, res) === true) return;
      res.writeHead(404).end(page ? 'not found; try / or /metrics\n' : 'not found; try /metrics\n');
      return;
    }
    registry
      .metrics()
      .then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body))
      .catch((err: Error) => res.writeHead(500).end(`${err.message}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** Sums one counter over every task of a component, from the latest snapshots. */
export function componentTotal(snapshots: ReadonlyArray<WorkerMetricsSnapshot | undefined>, component: string, pick: (c: TaskCounters) => number): number {
  let n = 0;
  for (const s of snapshots) if (s) for (const t of s.tasks) if (t.component === component) n += pick(t.counters);
  return n;
}

/** Merges one histogram over every task of a component, from the latest snapshots. */
export function componentHistogram(
  snapshots: ReadonlyArray<WorkerMetricsSnapshot | undefined>,
  component: string,
  pick: (t: TaskMetrics) => HistogramSnapshot | null | undefined,
): HistogramSnapshot {
  const counts = new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
  let sum = 0;
  let count = 0;
  for (const s of snapshots) {
    if (!s) continue;
    for (const t of s.tasks) {
      const h = t.component === component ? pick(t) : null;
      if (!h) continue;
      for (let i = 0; i < counts.length; i++) counts[i]! += h.counts[i] ?? 0;
      sum += h.sum;
      count += h.count;
    }
  }
  return { counts, sum, count };
}
