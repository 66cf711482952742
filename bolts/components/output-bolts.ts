import type { BasicBolt, Bolt, MetricCounter, OutputCollector, OutputFields, TopologyContext, Tuple } from '../../runtime/index.js';
import type { Flow } from '../flow.js';
import { headRuns, ignoredFlowRecord, scanCandidateRecords, scoredFlowDetailRecords, scoredFlowRecord, type KafkaRecord } from '../output/format.js';
import type { RecordSink, TopicBatch } from '../output/record-sink.js';
import type { ScoredFlowWriter } from '../postgres/scored-flow-writer.js';
import { Resources } from './resources.js';
import { STREAM_DISCARD, STREAM_IGNORED, STREAM_INVALID } from './streams.js';
import type { ThemisArgs } from './themis-args.js';

/** Upper bounds (ms) of the latency histogram the scored output keeps, exported as counters. */
export const LATENCY_BUCKETS_MS = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 2000, 5000, 10_000, 30_000, 60_000];

export function latencyBucketName(i: number): string {
  return i < LATENCY_BUCKETS_MS.length ? `scored_latency_le_${LATENCY_BUCKETS_MS[i]}ms` : 'scored_latency_le_inf';
}

type OutputKind = 'scored' | 'scan' | 'ignored';

/**
 * The output bolts (reference §5.19, §5.21-5.23): each batch of inputs becomes records in one
 * write to the sink (files or Kafka, and PostgreSQL for scored flows when enabled); the inputs are
 * acked only once the write is confirmed, and failed for replay when it is not (§15 items 23-24).
 */
export class OutputBolt implements Bolt {
  private sink!: RecordSink;
  private writer: ScoredFlowWriter | null = null;
  private resources!: Resources;
  private collector!: OutputCollector;
  private latency: MetricCounter[] = [];
  private written!: MetricCounter;
  /** Scored flows (conversations or lone flows) whose records were written; null for the other outputs. */
  private flowsWritten: MetricCounter | null = null;
  /** Scored records PostgreSQL refused because another flow's row holds their id (the exporter repeated an id). */
  private idConflicts: MetricCounter | null = null;
  private log!: TopologyContext['log'];
  /**
   * The ignored output's records by why they are there: a line that is not a valid flow, and a
   * flow that failed every retry (from the spout). Discards are counted by their timer bolt.
   */
  private readonly ignoredBy = new Map<string, MetricCounter>();

  constructor(private readonly args: ThemisArgs & { readonly kind: OutputKind }) {}

  async prepare(context: TopologyContext, collector: OutputCollector): Promise<void> {
    this.collector = collector;
    this.log = context.log;
    this.resources = new Resources(this.args, context.log);
    this.sink = await this.resources.sink();
    if (this.args.kind === 'scored') {
      this.writer = await this.resources.scoredFlowWriter();
      this.latency = Array.from({ length: LATENCY_BUCKETS_MS.length + 1 }, (_, i) => context.counter(latencyBucketName(i)));
      this.flowsWritten = context.counter('scored_flows_written');
      this.idConflicts = context.counter('scored_flow_id_conflicts');
    }
    this.written = context.counter(`${this.args.kind}_records_written`);
    if (this.args.kind === 'ignored') {
      this.ignoredBy.set(STREAM_INVALID, context.counter('invalid_records_written'));
      this.ignoredBy.set(STREAM_IGNORED, context.counter('failed_records_written'));
    }
  }

  executeBatch(inputs: Tuple[]): void {
    const topics = this.args.config.topics;
    let batches: TopicBatch[];
    const flows: Flow[] = [];
    if (this.args.kind === 'scored') {
      const summary: KafkaRecord[] = [];
      const detail: KafkaRecord[] = [];
      for (const t of inputs) {
        const flow = t.values[1] as Flow;
        flows.push(flow);
        const runs = headRuns(flow);
        summary.push(scoredFlowRecord(flow, runs));
        for (const d of scoredFlowDetailRecords(flow, runs)) detail.push(d);
      }
      batches = [
        { topic: topics.scored, records: summary },
        { topic: topics.scoredDetail, records: detail },
      ];
    } else if (this.args.kind === 'scan') {
      const records: KafkaRecord[] = [];
      const max = this.args.config.scanCandidates.maxPackets;
      for (const t of inputs) for (const r of scanCandidateRecords(t.values[1] as Flow, max)) records.push(r);
      batches = [{ topic: topics.scanCandidates, records }];
    } else {
      const records = inputs.map((t) =>
        t.sourceStream === STREAM_DISCARD
          ? ignoredFlowRecord({ reason: t.values[2] as string, flow: t.values[1] as Flow })
          : ignoredFlowRecord({
              reason: t.values[0] as string,
              line: t.values[1] as string,
              origin: t.values[2] as string,
              stage: t.sourceStream === STREAM_IGNORED ? 'retries' : 'parse',
            }),
      );
      batches = [{ topic: topics.ignored, records }];
    }
    const writes: Array<Promise<unknown>> = [this.sink.write(batches)];
    if (this.writer && flows.length > 0) writes.push(this.writer.writeBatch(flows).then((r) => this.reportIdConflicts(r.otherFlowIds)));
    Promise.all(writes).then(
      () => {
        const now = Date.now();
        // Latency of the record that completes a conversation (or of a flow that needs no
        // pairing); a flow released unmatched waited for its window on purpose.
        for (const f of flows) if (f.matched || (f.protocol !== 6 && f.protocol !== 17)) this.observeLatency(now - f.receivedAtMs);
        let n = 0;
        for (const b of batches) n += b.records.length;
        this.written.inc(n);
        this.flowsWritten?.inc(flows.length);
        for (const t of inputs) {
          this.ignoredBy.get(t.sourceStream)?.inc();
          this.collector.ack(t);
        }
      },
      (err: unknown) => {
        for (const t of inputs) this.collector.fail(t, err);
      },
    );
  }

  /** Not an error of the flows (they are on the topics and acked), but never silent: counted and logged once per batch. */
  private reportIdConflicts(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.idConflicts!.inc(ids.length);
    this.log.warn('scored flows not written to PostgreSQL: a row of another flow (other protocol or endpoints) holds their id', {
      flowIds: ids.slice(0, 20).join(','),
      count: ids.length,
    });
  }

  private observeLatency(ms: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]!) i++;
    this.latency[i]!.inc();
  }

  async cleanup(): Promise<void> {
    await this.resources?.release();
  }
  declareOutputFields(): OutputFields {
    return {};
  }
}

/**
 * The timer bolts (reference §5.24) as metrics: counts the tuples it sees under the name given
 * (`first_tuple`, `discard_tuple`, `last_tuple`), exported as `themis_<name>_total` with the
 * instance label, instead of Redis counters that never expired and counted ticks (§15 item 39).
 */
export class TimerBolt implements BasicBolt {
  private counter!: MetricCounter;
  constructor(private readonly args: { readonly counter: string }) {}
  prepare(context: TopologyContext): void {
    this.counter = context.counter(this.args.counter);
  }
  execute(): void {
    this.counter.inc();
  }
  declareOutputFields(): OutputFields {
    return {};
  }
}
