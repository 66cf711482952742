import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { TaskCounters, WorkerMetricsSnapshot } from './metrics-snapshot.js';
import type { RunningTopology } from './topology-runner.js';

/**
 * Exposes the figures of every worker thread, merged, as Prometheus series. Every series carries
 * the `instance` label (the topology's instance name) plus `component` and `task`, or
 * `executor` for executor-level series. The registry is passed in, never a global.
 */
export function registerTopologyMetrics(registry: Registry, topology: RunningTopology, instance: string): void {
  const snapshots = () => topology.snapshots.filter((s): s is WorkerMetricsSnapshot => s !== undefined);
  const taskLabels = ['instance', 'component', 'task'] as const;

  const counter = (name: string, help: string, pick: (c: TaskCounters) => number) =>
    new Counter({
      name,
      help,
      labelNames: taskLabels,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of snapshots()) {
          for (const t of s.tasks) {
            if (t.kind === 'acker') continue;
            this.inc({ instance, component: t.component, task: String(t.task) }, pick(t.counters));
          }
        }
      },
    });
  counter('themis_emitted_tuples_total', 'Tuples emitted by a task (Storm: emitted)', (c) => c.emitted);
  counter('themis_transferred_tuples_total', 'Tuple copies sent to subscribing tasks (Storm: transferred)', (c) => c.transferred);
  counter('themis_executed_tuples_total', 'Input tuples executed by a bolt task', (c) => c.executed);
  counter('themis_acked_tuples_total', 'Tuples acked (bolts) or roots completed (spouts)', (c) => c.acked);
  counter('themis_failed_tuples_total', 'Tuples failed (bolts) or roots failed, timeouts included (spouts)', (c) => c.failed);
  counter('themis_timed_out_tuples_total', 'Spout roots failed by the message timeout', (c) => c.timedOut);
  counter('themis_component_errors_total', 'Exceptions thrown by a task and survived', (c) => c.errors);
  counter('themis_execute_latency_ms_sum', 'Sum of sampled execute latencies, ms', (c) => c.executeMsSum);
  counter('themis_execute_latency_ms_count', 'Number of sampled execute latencies', (c) => c.executeCount);
  counter('themis_process_latency_ms_sum', 'Sum of sampled process latencies (execute start to ack), ms', (c) => c.processMsSum);
  counter('themis_process_latency_ms_count', 'Number of sampled process latencies', (c) => c.processCount);
  counter('themis_complete_latency_ms_sum', 'Sum of spout complete latencies (emit to tree complete), ms', (c) => c.completeMsSum);
  counter('themis_complete_latency_ms_count', 'Number of completed spout roots timed', (c) => c.completeCount);

  new Gauge({
    name: 'themis_spout_pending_roots',
    help: 'Spout roots in flight (counted against maxSpoutPending)',
    labelNames: taskLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of snapshots()) for (const t of s.tasks) if (t.kind === 'spout') this.set({ instance, component: t.component, task: String(t.task) }, t.pending);
    },
  });
  new Gauge({
    name: 'themis_spout_parked_roots',
    help: 'Spout roots held by a bolt (flow matching), outside maxSpoutPending and the timeout',
    labelNames: taskLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of snapshots()) for (const t of s.tasks) if (t.kind === 'spout') this.set({ instance, component: t.component, task: String(t.task) }, t.parked);
    },
  });
  const executorLabels = ['instance', 'component', 'executor', 'worker'] as const;
  new Gauge({
    name: 'themis_executor_capacity_ratio',
    help: 'Share of the last metrics interval an executor spent executing (Storm: capacity)',
    labelNames: executorLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of snapshots()) for (const e of s.executors) this.set({ instance, component: e.component, executor: String(e.executor), worker: String(s.worker) }, e.capacity);
    },
  });
  new Gauge({
    name: 'themis_executor_queue_depth_tuples',
    help: "Tuples waiting in an executor's inbox",
    labelNames: executorLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of snapshots()) for (const e of s.executors) this.set({ instance, component: e.component, executor: String(e.executor), worker: String(s.worker) }, e.queueDepth);
    },
  });

  // Counters the components declared themselves, e.g. the Themis timer bolts.
  const custom = new Map<string, Counter>();
  const ensureCustom = () => {
    for (const s of snapshots()) {
      for (const t of s.tasks) {
        for (const name of Object.keys(t.custom)) {
          if (custom.has(name)) continue;
          const metricName = `themis_${name}_total`;
          custom.set(
            name,
            new Counter({
              name: metricName,
              help: `Component counter ${name}`,
              labelNames: taskLabels,
              registers: [registry],
              collect() {
                this.reset();
                for (const s2 of snapshots()) for (const t2 of s2.tasks) if (t2.custom[name] !== undefined) this.inc({ instance, component: t2.component, task: String(t2.task) }, t2.custom[name]!);
              },
            }),
          );
        }
      }
    }
  };
  topology.on('metrics', ensureCustom);
}

/** Serves `/metrics` on the given port, bound to 127.0.0.1 unless another host is given. */
export async function serveMetrics(registry: Registry, port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found; try /metrics\n');
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
