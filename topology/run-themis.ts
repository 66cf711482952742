import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import {
  componentTotal,
  LivePage,
  moduleRef,
  registerTopologyMetrics,
  RunningTopology,
  serveMetrics,
  TopologyStatusTracker,
  type ComponentRef,
  type WorkerMetricsSnapshot,
} from '../runtime/index.js';
import type { ThemisArgs } from '../bolts/components/themis-args.js';
import type { CollectorSpoutArgs } from '../spouts/collector-spout.js';
import { collectorReadings, registerCollectorMetrics, type CollectorReading } from '../spouts/collector/collector-metrics.js';
import { ALERTS_FILE_TOPIC } from '../bolts/output/alert-record.js';
import { truncateTopicFiles } from '../bolts/output/file-sink.js';
import type { ThemisConfig } from '../bolts/themis-config.js';
import { deploymentParallelism, type SubmitArguments } from './deployment.js';
import { pageAssetsDir } from './ui/assets-dir.js';
import { TrafficView } from './traffic-view.js';
import { kafkaLagOf } from './kafka-lag.js';
import {
  buildThemisTopology,
  spoutLinesStayLocal,
  DISCARD_TIMER,
  INPUT_TIMER,
  MATCH_FLOWS,
  PERSIST_SCORED,
  PERSIST_IGNORED,
  SCAN_CANDIDATES,
  SPOUT,
  type Parallelism,
} from './themis-topology.js';

/**
 * The old-generation cap of each worker thread by default, MB. Without a cap V8 lets each old
 * generation grow to several times its live data (about 140 MB) before collecting it: 10,000,000
 * flows file to file (bench:memory) levelled off at 1.09 GB resident, peak 1,150 MiB. With this
 * cap V8 collects sooner: peak 825 MiB, flat, at 115,190 flows/s against 131,629 uncapped.
 */
export const DEFAULT_WORKER_HEAP_MB = 1024;

export type FlowInput =
  | { readonly kind: 'file'; readonly path: string; readonly label?: string; readonly maxRetries: number; readonly ratePerSec?: number }
  /** NetFlow v5/v9 and IPFIX exporters sending to a UDP address (spouts/collector-spout.ts). */
  | ({ readonly kind: 'collector' } & CollectorSpoutArgs)
  | {
      readonly kind: 'kafka';
      readonly brokers: readonly string[];
      readonly topic: string;
      readonly groupId: string;
      readonly maxRetries: number;
      readonly stopAtEndOffsets?: boolean;
      readonly fromBeginning?: boolean;
      /** config `kafka.commitIntervalMs`, `kafka.sessionTimeoutMs` */
      readonly commitIntervalMs?: number;
      readonly sessionTimeoutMs?: number;
      /**
       * Both directions of a conversation are in one partition (themis-ingest keys the topic so;
       * default true): each consumer's lines then stay on its thread. When false, lines are
       * spread over every thread's parsers by conversation, as with a single reader.
       */
      readonly keyedByConversation?: boolean;
    };

export interface RunThemisOptions {
  readonly submit: SubmitArguments;
  readonly args: ThemisArgs;
  readonly input: FlowInput;
  readonly workers: number;
  /**
   * Old-generation heap cap of each worker thread, MB (engine option maxOldGenerationMb); default
   * DEFAULT_WORKER_HEAP_MB, 0 for V8's own limit.
   */
  readonly workerHeapMb?: number;
  readonly ackers?: number;
  readonly parallelism?: Readonly<Record<string, Parallelism>>;
  /**
   * Add to the output files of earlier runs (embedded outputs only). Default false: the output
   * files start empty, so that they hold this run's records and nothing else.
   */
  readonly appendOutputs?: boolean;
  /** null: no endpoint. */
  readonly metricsPort: number | null;
  readonly metricsHost?: string;
}

export interface ThemisRun {
  readonly topology: RunningTopology;
  readonly registry: Registry;
  readonly metricsServer: Server | null;
  /** Figures so far, from the latest metrics of every thread. */
  progress(): Progress;
  /** Collector input: what each exporter sent so far (one reading per listening task); empty otherwise. */
  collectorReadings(): CollectorReading[];
  /** Graceful stop: drain in-flight trees (for up to drainTimeoutMs; default the message timeout), close spouts and bolts, stop the endpoint. */
  stop(drainTimeoutMs?: number): Promise<void>;
}

export interface Progress {
  readonly linesIn: number;
  /** Lines that are not a valid flow, written to the ignored output. */
  readonly invalid: number;
  /** Flows that failed every retry (--max-retries), written to the ignored output. */
  readonly failed: number;
  readonly discarded: number;
  readonly conversations: number;
  /** Scored flows written to the outputs (a conversation counts once). */
  readonly scored: number;
  readonly scanCandidateRecords: number;
  readonly ignoredRecords: number;
  /** Roots failed back to the spout (an error or a timeout), each replayed or given up as failed. */
  readonly replays: number;
  readonly timedOut: number;
  /** Errors the spout reported (e.g. the input could not be read). */
  readonly spoutErrors: number;
  /** File input: lines read and not finished (in flight, held, or failed and not yet replayed). */
  readonly unfinished: number;
}

function spoutRef(input: FlowInput, readerPerThread: boolean, linesStayLocal: boolean): ComponentRef {
  if (input.kind === 'file') {
    const { kind: _kind, ...file } = input;
    return moduleRef(import.meta.url, '../spouts/file-spout', 'FileSpout', { ...file, singleReader: !readerPerThread });
  }
  if (input.kind === 'collector') {
    const { kind: _kind, ...collector } = input;
    return moduleRef(import.meta.url, '../spouts/collector-spout', 'CollectorSpout', collector);
  }
  const { kind: _kind, ...kafka } = input;
  return moduleRef(import.meta.url, '../spouts/kafka-spout', 'KafkaSpout', { ...kafka, brokers: [...kafka.brokers], keyedByConversation: linesStayLocal });
}

export function progressOf(snapshots: ReadonlyArray<WorkerMetricsSnapshot | undefined>): Progress {
  const custom = (component: string, name: string) => {
    let n = 0;
    for (const s of snapshots) if (s) for (const t of s.tasks) if (t.component === component) n += t.custom[name] ?? 0;
    return n;
  };
  return {
    linesIn: custom(INPUT_TIMER, 'first_tuple'),
    invalid: custom(PERSIST_IGNORED, 'invalid_records_written'),
    failed: custom(PERSIST_IGNORED, 'failed_records_written'),
    discarded: custom(DISCARD_TIMER, 'discard_tuple'),
    conversations: componentTotal(snapshots, MATCH_FLOWS, (c) => c.emitted),
    scored: custom(PERSIST_SCORED, 'scored_flows_written'),
    scanCandidateRecords: custom(SCAN_CANDIDATES, 'scan_records_written'),
    ignoredRecords: custom(PERSIST_IGNORED, 'ignored_records_written'),
    replays: componentTotal(snapshots, SPOUT, (c) => c.failed),
    timedOut: componentTotal(snapshots, SPOUT, (c) => c.timedOut),
    spoutErrors: componentTotal(snapshots, SPOUT, (c) => c.errors),
    unfinished: custom(SPOUT, 'lines_read') - custom(SPOUT, 'lines_finished'),
  };
}

/** The topics the embedded default writes, each to `<outputDir>/<topic>.jsonl`. */
export function outputTopics(config: ThemisConfig): readonly string[] {
  const topics = [config.topics.scored, config.topics.scoredDetail, config.topics.scanCandidates, config.topics.ignored];
  // alerts.jsonl exists only with the evidence stage on.
  return config.evidence.enabled ? [...topics, ALERTS_FILE_TOPIC] : topics;
}

/** Builds, validates and starts the Themis topology; resolves once every task is prepared and the spout is active. */
export async function startThemis(o: RunThemisOptions): Promise<ThemisRun> {
  // One reader per worker thread: a file reader per thread takes its own conversations' lines, and
  // a Kafka consumer per thread (one group) its own partitions, which hold whole conversations when
  // the topic is keyed by conversation. Each reader's lines then stay on its thread, from parsing to
  // output. A FIFO has one reader; an input topic not keyed by conversation has a consumer per
  // thread whose lines are spread over every thread's parsers by conversation.
  // A collector has one socket, on one spout task, like standard input.
  const readerPerThread = o.input.kind === 'file' ? o.input.label !== 'stdin' : o.input.kind === 'kafka' && o.input.keyedByConversation !== false;
  const spoutDefault: Parallelism = o.input.kind === 'kafka' || readerPerThread ? { executors: o.workers, tasks: o.workers } : { executors: 1, tasks: 1 };
  const placement = { parallelism: deploymentParallelism(o.submit, spoutDefault, o.parallelism), workers: o.workers, spoutSharesByConversation: readerPerThread };
  // The Kafka spout skips the conversation hash when the topology keeps its lines local.
  const builder = buildThemisTopology({ ...placement, args: o.args, spout: spoutRef(o.input, readerPerThread, spoutLinesStayLocal(placement)) });
  const spec = await builder.build({
    name: o.submit.name,
    workers: o.workers,
    ackers: o.ackers ?? o.workers,
    maxSpoutPending: o.submit.maxPending,
    messageTimeoutSecs: o.args.config.windows.messageTimeoutSecs,
    maxOldGenerationMb: o.workerHeapMb ?? DEFAULT_WORKER_HEAP_MB,
  });
  if (!o.args.services.kafka && o.appendOutputs !== true) {
    try {
      truncateTopicFiles(o.args.outputDir, outputTopics(o.args.config));
    } catch (err) {
      throw new Error(`cannot start the outputs in ${o.args.outputDir} afresh: ${(err as Error).message} (--append adds to them instead)`, { cause: err });
    }
  }
  const topology = await RunningTopology.start(spec);
  const registry = new Registry();
  registerTopologyMetrics(registry, topology, o.submit.name);
  if (o.input.kind === 'collector') registerCollectorMetrics(registry, () => topology.snapshots, o.submit.name);
  let metricsServer: Server | null = null;
  let page: LivePage | null = null;
  if (o.metricsPort !== null) {
    // The live page at `/`: the engine's view of the topology, and the Themis traffic fed from the
    // same worker reports (the scored output's `scored_sources` reading).
    const status = new TopologyStatusTracker(spec, () => topology.snapshots);
    const traffic = new TrafficView(
      (snapshots) => {
        const p = progressOf(snapshots);
        return { linesIn: p.linesIn, scored: p.scored, discarded: p.discarded, ignored: p.ignoredRecords };
      },
      { hasAlerts: o.args.config.evidence.enabled },
    );
    const isKafka = o.input.kind === 'kafka';
    topology.on('metrics', (snapshots: ReadonlyArray<WorkerMetricsSnapshot | undefined>) => traffic.onMetrics(snapshots));
    page = new LivePage({ assetsDir: pageAssetsDir(), state: () => ({ topology: status.sample(), traffic: traffic.state(), kafka: isKafka ? kafkaLagOf(topology.snapshots) : null }) });
    try {
      metricsServer = await serveMetrics(registry, o.metricsPort, o.metricsHost ?? '127.0.0.1', page);
    } catch (err) {
      await topology.shutdown({ drainTimeoutMs: 1000 });
      throw new Error(`cannot serve metrics on ${o.metricsHost ?? '127.0.0.1'}:${o.metricsPort}: ${(err as Error).message} (choose another --metrics-port)`, { cause: err });
    }
  }
  return {
    topology,
    registry,
    metricsServer,
    progress: () => progressOf(topology.snapshots),
    collectorReadings: () => collectorReadings(topology.snapshots),
    async stop(drainTimeoutMs?: number) {
      await topology.shutdown(drainTimeoutMs === undefined ? {} : { drainTimeoutMs });
      page?.close();
      await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
    },
  };
}
