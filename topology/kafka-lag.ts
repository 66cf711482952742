import type { WorkerMetricsSnapshot } from '../runtime/index.js';
import { COMMITTED_LAG_GAUGE, CONSUMER_LAG_GAUGE } from '../spouts/kafka/lag-gauges.js';
import { SPOUT } from './themis-topology.js';

/** One assigned partition of the Kafka input, as the live page lists it. */
export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /** The spout task that holds it. */
  readonly task: number;
  /** Messages not yet fetched, and not yet finished (committed); null while unknown. */
  readonly consumerLag: number | null;
  readonly committedLag: number | null;
}

/**
 * The Kafka spout tasks' lag gauges from their latest reports, a row per partition, in partition
 * order: as many rows as the input topic has partitions.
 */
export function kafkaLagOf(snapshots: ReadonlyArray<WorkerMetricsSnapshot | undefined>): PartitionLag[] {
  const rows = new Map<string, { topic: string; partition: number; task: number; consumerLag: number | null; committedLag: number | null }>();
  for (const s of snapshots) {
    if (!s) continue;
    for (const t of s.tasks) {
      if (t.component !== SPOUT || !t.gauges) continue;
      for (const [gauge, field] of [
        [CONSUMER_LAG_GAUGE, 'consumerLag'],
        [COMMITTED_LAG_GAUGE, 'committedLag'],
      ] as const) {
        for (const sample of t.gauges[gauge] ?? []) {
          const topic = sample.labels['topic'] ?? '';
          const partition = Number(sample.labels['partition']);
          const key = `${topic}/${partition}`;
          const row = rows.get(key) ?? rows.set(key, { topic, partition, task: t.task, consumerLag: null, committedLag: null }).get(key)!;
          row[field] = sample.value;
        }
      }
    }
  }
  return [...rows.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}
