/**
 * The Kafka-to-Kafka run of the Themis benchmark: the generated flows are produced (keyed by
 * conversation, as themis-ingest does) to a fresh input topic first, then the topology consumes
 * the topic up to its end offsets and writes every output topic, acking after the broker confirmed.
 * Flows/s counts from activation to the last tree complete; latency is from the flow's parse to the
 * confirmed write of its scored record (the queue the consumer works through is included).
 */
import { createReadStream } from 'node:fs';
import { Kafka, logLevel } from '../../spouts/kafka/kafkajs.js';
import { createTopics } from '../../spouts/kafka/create-topics.js';
import { ingest } from '../../spouts/ingest/ingest.js';
import { jsonLinesSource } from '../../spouts/ingest/sources.js';
import { validateConfig, type ThemisConfig } from '../../bolts/themis-config.js';
import { startThemis } from '../../topology/run-themis.js';
import { percentile, rssSampler, type ThemisRun } from './measure.js';

export interface KafkaBenchOptions {
  readonly brokers: string[];
  readonly dataDir: string;
  readonly inputPath: string;
  readonly flows: number;
  readonly workers: number;
  readonly plainLoopFlowsPerSec: number;
  readonly workerHeapMb?: number;
  /** The topology's config (default: defaultConfig()); its topics are replaced by the run's own. */
  readonly config?: ThemisConfig;
}

export async function runKafkaBench(o: KafkaBenchOptions): Promise<ThemisRun> {
  const prefix = `bench-${Date.now()}`;
  const topics = {
    input: `${prefix}-netflow-json`,
    ignored: `${prefix}-ignored-flows`,
    scored: `${prefix}-scored-flows`,
    scoredDetail: `${prefix}-scored-flows-detail`,
    scanCandidates: `${prefix}-scan-candidates`,
    alerts: `${prefix}-alerts`,
  };
  await createTopics({ brokers: o.brokers, topics: Object.values(topics), partitions: 4 });
  const kafka = new Kafka({ brokers: o.brokers, logLevel: logLevel.NOTHING, clientId: 'themis-bench' });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const summary = await ingest(jsonLinesSource(createReadStream(o.inputPath), o.inputPath), { brokers: o.brokers, topic: topics.input, sendInvalid: true, batchSize: 1000, maxBatchesInFlight: 4 });
    console.error(`bench: produced ${summary.sent.toLocaleString('en-US')} flows to ${topics.input}`);
    const validated = validateConfig({ ...(o.config ?? {}), topics });
    if ('errors' in validated) throw new Error(validated.errors.join('; '));
    const rss = rssSampler();
    const run = await startThemis({
      submit: { executors: o.workers, tasks: o.workers, maxPending: 20_000, extraMatch: 0, name: prefix },
      args: { config: validated.config, dataDir: o.dataDir, outputDir: '/dev/null', instance: prefix, services: { kafka: { brokers: o.brokers, clientId: prefix } } },
      input: { kind: 'kafka', brokers: o.brokers, topic: topics.input, groupId: prefix, maxRetries: 5, stopAtEndOffsets: true, fromBeginning: true },
      workers: o.workers,
      ...(o.workerHeapMb !== undefined ? { workerHeapMb: o.workerHeapMb } : {}),
      metricsPort: null,
    });
    const t0 = performance.now();
    await run.topology.waitUntilDone(5);
    const secs = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 1100));
    const result: ThemisRun = {
      mode: 'kafka',
      flows: summary.sent,
      offeredPerSec: null,
      flowsPerSec: Math.round(summary.sent / secs),
      p50Ms: percentile(run.topology.snapshots, 0.5),
      p99Ms: percentile(run.topology.snapshots, 0.99),
      p99WholeRunMs: null,
      peakRssMb: rss.stop(),
      plainLoopFlowsPerSec: o.plainLoopFlowsPerSec,
      workers: o.workers,
    };
    await run.stop();
    return result;
  } finally {
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect();
  }
}
