import type { BasicBolt, Bolt, Logger, MetricCounter, MetricHistogram, OutputCollector, OutputFields, TopologyContext, Tuple } from '../../runtime/index.js';
import type { Flow } from '../flow.js';
import { ALERTS_FILE_TOPIC } from '../output/alert-record.js';
import { AlertTally } from '../output/alert-tally.js';
import { headRuns, ignoredFlowRecord, scanCandidateRecords, scoredFlowDetailRecords, scoredFlowRecord, type KafkaRecord } from '../output/format.js';
import type { RecordSink, TopicBatch } from '../output/record-sink.js';
import { SourceTally } from '../output/source-tally.js';
import { postgresFault } from '../resilience/dependency-fault.js';
import { DependencyClosedError, DependencyGuard, stallThresholdMs } from '../resilience/dependency-guard.js';
import { Resources } from './resources.js';
import { STREAM_DISCARD, STREAM_IGNORED, STREAM_INVALID } from './streams.js';
import type { ThemisArgs } from './themis-args.js';

/** The scored output's end-to-end latency histogram, exported as `themis_scored_latency_seconds`. */
export const SCORED_LATENCY = 'scored_latency';
/** The scored output's reading for the live page: a SourceTallyReport per task and interval. */
export const SCORED_SOURCES_READING = 'scored_sources';
/** The alerts output's reading for the live page: an AlertTallyReport per task and interval. */
export const LATEST_ALERTS_READING = 'latest_alerts';

type OutputKind = 'scored' | 'scan' | 'ignored' | 'alerts';

/** Where a flow refused as bad data was refused: by PostgreSQL, or by the output sink. */
type RefusedAt = 'persist' | 'output';

/**
 * The output bolts (reference §5.19, §5.21-5.23): each batch of inputs becomes records in one
 * write to the sink (files or Kafka, and PostgreSQL for scored flows and alerts when enabled); the inputs are
 * acked only once the write is confirmed (§15 items 23-24).
 *
 * A failed write is never the flows' fault unless the dependency says so (issue 13): while the
 * sink or PostgreSQL is unavailable the batch is kept and retried with backoff under a circuit
 * breaker (the engine then gives the task no input, so the spouts stop, and no root times out);
 * each of the two writes is retried on its own, so one that succeeded is not repeated. A write
 * refused as bad data is narrowed down to the flows at fault (DependencyGuard.writeIsolating):
 * those go to ignored-flows with the stage (`persist`, `output`) and the error, and are acked, as
 * a replay would be refused the same way; the rest of the batch is written once.
 */
export class OutputBolt implements Bolt {
  private sink!: RecordSink;
  /** PostgreSQL in production mode: the scored flows' rows, or the alerts'; null otherwise. */
  private persist: ((inputs: readonly Tuple[]) => Promise<unknown>) | null = null;
  private sinkGuard!: DependencyGuard;
  private writerGuard: DependencyGuard | null = null;
  private resources!: Resources;
  private collector!: OutputCollector;
  private log!: Logger;
  private latency: MetricHistogram | null = null;
  private written!: MetricCounter;
  /** Scored flows (conversations or lone flows) whose records were written; null for the other outputs. */
  private flowsWritten: MetricCounter | null = null;
  /** Scored output: the interval's worst sources, for the live page. */
  private tally: SourceTally | null = null;
  /** Alerts output: the interval's alert records, for the live page. */
  private alertTally: AlertTally | null = null;
  /** Inputs a dependency refused as bad data (sent to ignored-flows, or, on the ignored output itself, dropped and logged). */
  private refused!: MetricCounter;
  /** Scored records PostgreSQL refused because another flow's row holds their id (the exporter repeated an id). */
  private idConflicts: MetricCounter | null = null;
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
    const retries = context.counter('dependency_retries');
    const stallMs = stallThresholdMs(this.args.config.windows.messageTimeoutSecs);
    const sink = this.sink;
    this.sinkGuard = new DependencyGuard({ dependency: sink.dependency, fault: (err) => sink.fault(err), collector, retries, stallMs });
    if (this.args.kind === 'alerts') {
      const writer = await this.resources.alertWriter();
      if (writer) this.persist = (inputs) => writer.writeBatch(inputs.map((t) => t.values[1] as string));
      const alerts = (this.alertTally = new AlertTally());
      context.reading(LATEST_ALERTS_READING, () => alerts.take());
    }
    if (this.args.kind === 'scored') {
      const writer = await this.resources.scoredFlowWriter();
      if (writer) this.persist = (inputs) => writer.writeBatch(inputs.map((t) => t.values[1] as Flow)).then((r) => this.reportIdConflicts(r.otherFlowIds));
      this.latency = context.histogram(SCORED_LATENCY);
      this.flowsWritten = context.counter('scored_flows_written');
      this.idConflicts = context.counter('scored_flow_id_conflicts');
      const tally = (this.tally = new SourceTally());
      context.reading(SCORED_SOURCES_READING, () => tally.take());
    }
    if (this.persist) this.writerGuard = new DependencyGuard({ dependency: 'postgresql', fault: postgresFault, collector, retries, stallMs });
    this.written = context.counter(`${this.args.kind}_records_written`);
    this.refused = context.counter('refused_records');
    if (this.args.kind === 'ignored') {
      this.ignoredBy.set(STREAM_INVALID, context.counter('invalid_records_written'));
      this.ignoredBy.set(STREAM_IGNORED, context.counter('failed_records_written'));
    }
  }

  /** The sink's records of these inputs. */
  private recordsOf(inputs: readonly Tuple[]): TopicBatch[] {
    const topics = this.args.config.topics;
    if (this.args.kind === 'scored') {
      const summary: KafkaRecord[] = [];
      const detail: KafkaRecord[] = [];
      for (const t of inputs) {
        const flow = t.values[1] as Flow;
        const runs = headRuns(flow);
        summary.push(scoredFlowRecord(flow, runs));
        for (const d of scoredFlowDetailRecords(flow, runs)) detail.push(d);
      }
      return [
        { topic: topics.scored, records: summary },
        { topic: topics.scoredDetail, records: detail },
      ];
    }
    if (this.args.kind === 'alerts') {
      const topic = this.args.services.kafka ? topics.alerts : ALERTS_FILE_TOPIC;
      return [{ topic, records: inputs.map((t) => ({ key: t.values[0] as string, value: t.values[1] as string })) }];
    }
    if (this.args.kind === 'scan') {
      const records: KafkaRecord[] = [];
      const max = this.args.config.scanCandidates.maxPackets;
      for (const t of inputs) for (const r of scanCandidateRecords(t.values[1] as Flow, max)) records.push(r);
      return [{ topic: topics.scanCandidates, records }];
    }
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
    return [{ topic: topics.ignored, records }];
  }

  executeBatch(inputs: Tuple[]): void {
    // Built before any write: a record that cannot be built is a fault of this code (the batch
    // fails, as an exception would), never a reason to hold the batch against a healthy sink.
    const batches = this.recordsOf(inputs);
    this.writeBatch(inputs, batches).catch((err: unknown) => this.unfinished(inputs, err));
  }

  private async writeBatch(inputs: Tuple[], batches: TopicBatch[]): Promise<void> {
    const persist = this.persist;
    const [sinkRefused, writerRefused] = await Promise.all([
      this.sinkGuard.writeIsolating(inputs, (subset) => this.sink.write(subset === inputs ? batches : this.recordsOf(subset))),
      persist && this.writerGuard ? this.writerGuard.writeIsolating(inputs, persist) : [],
    ]);
    const refused = new Map<Tuple, { at: RefusedAt; error: unknown }>();
    for (const r of writerRefused) refused.set(r.item, { at: 'persist', error: r.error });
    for (const r of sinkRefused) if (!refused.has(r.item)) refused.set(r.item, { at: 'output', error: r.error });
    if (refused.size > 0) await this.sendRefused(refused);

    const accepted = refused.size === 0 ? inputs : inputs.filter((t) => !refused.has(t));
    const now = Date.now();
    let flows = 0;
    if (this.alertTally) for (const t of accepted) this.alertTally.add(t.values[1] as string);
    for (const t of accepted) {
      if (this.args.kind !== 'scored') continue;
      const f = t.values[1] as Flow;
      flows++;
      this.tally?.add(f);
      // Latency of the record that completes a conversation (or of a flow that needs no
      // pairing); a flow released unmatched waited for its window on purpose, and so did one the
      // evidence stage held (its hold is in themis_evidence_hold_seconds).
      if ((f.matched || (f.protocol !== 6 && f.protocol !== 17)) && f.heldForEvidenceMs === undefined) this.latency?.observe((now - f.receivedAtMs) / 1000);
    }
    let n = 0;
    for (const b of accepted === inputs ? batches : this.recordsOf(accepted)) n += b.records.length;
    this.written.inc(n);
    this.flowsWritten?.inc(flows);
    for (const t of accepted) this.ignoredBy.get(t.sourceStream)?.inc();
    for (const t of inputs) this.collector.ack(t);
  }

  /**
   * Flows a dependency refused as bad data go to ignored-flows with the stage and the error. On the
   * ignored output itself, or when even that record is refused, the input can go nowhere: it is
   * logged with the error and dropped.
   */
  private async sendRefused(refused: ReadonlyMap<Tuple, { at: RefusedAt; error: unknown }>): Promise<void> {
    this.refused.inc(refused.size);
    const toIgnored: Tuple[] = [];
    for (const [t, r] of refused) {
      // An ignored record or an alert has no flow to send to ignored-flows.
      if (this.args.kind === 'ignored' || this.args.kind === 'alerts') this.dropped(t, r.at, r.error);
      else toIgnored.push(t);
    }
    const recordOf = (t: Tuple) => {
      const r = refused.get(t)!;
      return ignoredFlowRecord({ flow: t.values[1] as Flow, stage: r.at, reason: errorText(r.error) });
    };
    const topic = this.args.config.topics.ignored;
    const unwritable = await this.sinkGuard.writeIsolating(toIgnored, (subset) => this.sink.write([{ topic, records: subset.map(recordOf) }]));
    for (const u of unwritable) this.dropped(u.item, 'output', u.error);
  }

  private dropped(t: Tuple, at: RefusedAt, error: unknown): void {
    this.log.error('an output record was refused as bad data and cannot be written to ignored-flows either; dropped', {
      stage: at,
      sourceStream: t.sourceStream,
      ...(this.args.kind === 'ignored' ? { origin: t.values[2] } : this.args.kind === 'alerts' ? { alertId: t.values[0] } : { flowId: (t.values[1] as Flow).id }),
      error: errorText(error),
    });
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

  /** The batch could not be finished: abandoned at shutdown (replayed on restart), or a fault of this code (failed). */
  private unfinished(inputs: Tuple[], err: unknown): void {
    if (err instanceof DependencyClosedError) {
      this.log.warn('output batch abandoned at shutdown while its dependency was down; the next run replays it', { inputs: inputs.length, dependency: err.dependency });
      return;
    }
    for (const t of inputs) this.collector.fail(t, err);
  }

  async cleanup(): Promise<void> {
    this.sinkGuard?.close();
    this.writerGuard?.close();
    await this.resources?.release();
  }
  declareOutputFields(): OutputFields {
    return {};
  }
}

/** The error's message, for an ignored record's `reason`. */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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
