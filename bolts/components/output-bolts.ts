import type { BasicBolt, Bolt, MetricCounter, MetricHistogram, OutputCollector, OutputFields, TopologyContext, Tuple } from '../../runtime/index.js';
import type { Flow } from '../flow.js';
import { headRuns, ignoredFlowRecord, scanCandidateRecords, scoredFlowDetailRecords, scoredFlowRecord, type KafkaRecord } from '../output/format.js';
import type { RecordSink, TopicBatch } from '../output/record-sink.js';
import type { ScoredFlowWriter } from '../postgres/scored-flow-writer.js';
import { Resources } from './resources.js';
import { STREAM_DISCARD, STREAM_IGNORED, STREAM_INVALID } from './streams.js';
import type { ThemisArgs } from './themis-args.js';

/** The scored output's end-to-end latency histogram, exported as `themis_scored_latency_seconds`. */
export const SCORED_LATENCY = 'scored_latency';

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
  private latency: MetricHistogram | null = null;
  private written!: MetricCounter;
  /** Scored flows (conversations or lone flows) whose records were written; null for the other outputs. */
  private flowsWritten: MetricCounter | null = null;
  /**
   * The ignored output's records by why they are there: a line that is not a valid flow, and a
   * flow that failed every retry (from the spout). Discards are counted by their timer bolt.
   */
  private readonly ignoredBy = new Map<string, MetricCounter>();

  constructor(private readonly args: ThemisArgs & { readonly kind: OutputKind }) {}

  async prepare(context: TopologyContext, collector: OutputCollector): Promise<void> {
    this.collector = collector;
    this.resources = new Resources(this.args, context.log);
    this.sink = await this.resources.sink();
    if (this.args.kind === 'scored') {
      this.writer = await this.resources.scoredFlowWriter();
      this.latency = context.histogram(SCORED_LATENCY);
      this.flowsWritten = context.counter('scored_flows_written');
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
    if (this.writer && flows.length > 0) writes.push(this.writer.writeBatch(flows));
    Promise.all(writes).then(
      () => {
        const now = Date.now();
        // Latency of the record that completes a conversation (or of a flow that needs no
        // pairing); a flow released unmatched waited for its window on purpose.
        if (this.latency) for (const f of flows) if (f.matched || (f.protocol !== 6 && f.protocol !== 17)) this.latency.observe((now - f.receivedAtMs) / 1000);
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
