import { Counter, Gauge, type Registry } from 'prom-client';
import type { WorkerMetricsSnapshot } from '../../runtime/index.js';
import type { ExporterStats } from './flow-decoder.js';

/** The name under which the collector spout publishes its CollectorReading (TopologyContext.reading). */
export const COLLECTOR_READING = 'collector';

/** What a collector reports: per-exporter totals since it started, the datagrams its buffer dropped, and those it holds now. */
export interface CollectorReading {
  readonly exporters: readonly ExporterStats[];
  readonly droppedDatagrams: number;
  readonly bufferedDatagrams: number;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/**
 * The progress text of a collector, one clause per exporter:
 *   `192.0.2.1:4739 v10: 120 datagrams, 3,600 flows, 0 sequence gaps, 0 template misses, 0 malformed; buffer drops 0`
 */
export function describeCollector(reading: CollectorReading): string {
  const exporters = reading.exporters.map(describeExporter);
  return `${exporters.length === 0 ? 'no exporter yet' : exporters.join('; ')}; buffer drops ${fmt(reading.droppedDatagrams)}`;
}

/** `192.0.2.1:4739 v10: 120 datagrams, 3,600 flows, 0 sequence gaps, 0 template misses, 0 malformed` */
export function describeExporter(e: ExporterStats): string {
  return (
    `${e.exporter} v${e.version}: ${fmt(e.datagrams)} datagrams, ${fmt(e.flows)} flows, ${fmt(e.sequenceGaps)} sequence gaps, ` +
    `${fmt(e.templateMisses)} template misses, ${fmt(e.malformed)} malformed`
  );
}

/** The collector readings of every task that published one, from the latest worker reports. */
export function collectorReadings(snapshots: ReadonlyArray<WorkerMetricsSnapshot | undefined>): CollectorReading[] {
  const readings: CollectorReading[] = [];
  for (const s of snapshots) {
    if (s === undefined) continue;
    for (const t of s.tasks) {
      const reading = t.readings?.[COLLECTOR_READING] as CollectorReading | undefined;
      if (reading !== undefined) readings.push(reading);
    }
  }
  return readings;
}

type ExporterCounter = keyof Pick<ExporterStats, 'datagrams' | 'flows' | 'sequenceGaps' | 'templateMisses' | 'malformed'>;

const EXPORTER_COUNTERS: ReadonlyArray<readonly [name: string, field: ExporterCounter, help: string]> = [
  ['themis_collector_datagrams_total', 'datagrams', 'NetFlow/IPFIX datagrams received from the exporter and decoded'],
  ['themis_collector_flows_total', 'flows', 'Flows decoded from the exporter'],
  ['themis_collector_sequence_gaps_total', 'sequenceGaps', "Gaps in the exporter's sequence numbers: runs of datagrams lost on the way"],
  ['themis_collector_template_misses_total', 'templateMisses', 'Data sets that arrived before their template (held briefly, then counted and dropped)'],
  ['themis_collector_malformed_total', 'malformed', 'Malformed datagrams or sets from the exporter, counted and dropped'],
];

/**
 * The collector's Prometheus series, read at each scrape from the spout tasks' latest readings:
 * per exporter (`exporter` label, `addr:port`) and, for the buffer, per instance. README.md,
 * section Metrics, lists them.
 */
export function registerCollectorMetrics(registry: Registry, snapshots: () => ReadonlyArray<WorkerMetricsSnapshot | undefined>, instance: string): void {
  for (const [name, field, help] of EXPORTER_COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ['instance', 'exporter'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const reading of collectorReadings(snapshots())) {
          for (const e of reading.exporters) this.inc({ instance, exporter: e.exporter }, e[field]);
        }
      },
    });
  }
  new Counter({
    name: 'themis_collector_dropped_datagrams_total',
    help: "Datagrams dropped because the collector's buffer was full (the topology fell behind the exporters)",
    labelNames: ['instance'] as const,
    registers: [registry],
    collect() {
      this.reset();
      let dropped = 0;
      for (const reading of collectorReadings(snapshots())) dropped += reading.droppedDatagrams;
      this.inc({ instance }, dropped);
    },
  });
  new Gauge({
    name: 'themis_collector_buffered_datagrams',
    help: 'Datagrams received and waiting in the buffer between the socket and the spout',
    labelNames: ['instance'] as const,
    registers: [registry],
    collect() {
      let buffered = 0;
      for (const reading of collectorReadings(snapshots())) buffered += reading.bufferedDatagrams;
      this.set({ instance }, buffered);
    },
  });
}
