/**
 * What came out of a topology run on Kafka, counted by input flow id while the run goes on: a
 * consumer reads the scored and ignored topics from the beginning, and every input id a record
 * accounts for is one delivery of that id (a scored record's `flow_id` and, for a conversation,
 * its `pair_flow_id`; an ignored record's `flow_id`, or the id at the head of its raw line).
 * Deliveries beyond the first are duplicates. Counts are one byte per id of a dense id range, so
 * a soak of millions of flows keeps a few MB here.
 *
 * Wire formats read (bolts/output/format.ts): `{"type":"scored_flow",...,"flow_id":N,...,"pair_flow_id":N|null,...}`
 * and `{"type":"ignored_flow","stage":...,"flow_id":N|null,"line":"..."...}`.
 */
import { Kafka, logLevel, type Consumer, type EachBatchPayload } from '../../spouts/kafka/kafkajs.js';

const ID_AT_LINE_HEAD = /^\{"id":(\d+),/;

export interface OutputTopics {
  readonly scored: string;
  readonly ignored: string;
}

export class OutputTally {
  /** Records read from the scored topic. */
  scoredRecords = 0;
  /** Records read from the ignored topic. */
  ignoredRecords = 0;
  /** Deliveries of an id already delivered. */
  duplicates = 0;
  /** Deliveries of ids outside [firstId, firstId + maxIds), or records with no id at all. */
  private outOfRange = 0;
  /** Deliveries per id (saturating at 255); 0 for an id not delivered. */
  private readonly counts: Uint8Array;
  /** 1 for an id that went in (`noteSent`). */
  private readonly sent: Uint8Array;
  /** Next offset to read, per `topic/partition`. */
  private readonly nextOffsets = new Map<string, number>();
  private consumer: Consumer | null = null;

  constructor(
    private readonly firstId: number,
    maxIds: number,
  ) {
    this.counts = new Uint8Array(maxIds);
    this.sent = new Uint8Array(maxIds);
  }

  /** Records that the line went in: its id (at the head of the line) must come out. */
  noteSent(line: string): void {
    const id = ID_AT_LINE_HEAD.exec(line)?.[1];
    const i = id === undefined ? -1 : Number(id) - this.firstId;
    if (i < 0 || i >= this.sent.length) throw new RangeError(`a line sent without an id in [${this.firstId}, ${this.firstId + this.sent.length}): ${line.slice(0, 100)}`);
    this.sent[i] = 1;
  }

  /** Starts reading both topics from the beginning with group `groupId`; resolves once the consumer runs. */
  async start(brokers: readonly string[], topics: OutputTopics, groupId: string): Promise<void> {
    const kafka = new Kafka({ clientId: 'themis-bench-tally', brokers: [...brokers], logLevel: logLevel.NOTHING });
    this.consumer = kafka.consumer({ groupId, maxBytes: 16 * 1024 * 1024, maxWaitTimeInMs: 250 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [topics.scored, topics.ignored], fromBeginning: true });
    const isScored = (topic: string) => topic === topics.scored;
    await this.consumer.run({ eachBatch: (payload) => this.onBatch(payload, isScored(payload.batch.topic)) });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = null;
  }

  /** Ids that went in and never came out, and ids that came out although they never went in (records without an id included). */
  missingAndUnexpected(): { missing: number; unexpected: number } {
    let missing = 0;
    let unexpected = this.outOfRange;
    for (let i = 0; i < this.sent.length; i++) {
      if (this.sent[i] === 1 && this.counts[i] === 0) missing++;
      else if (this.sent[i] === 0 && this.counts[i] !== 0) unexpected += this.counts[i]!;
    }
    return { missing, unexpected };
  }

  /** Whether every partition of the topics has been read up to `ends` (`topic/partition` → end offset). */
  hasReadUpTo(ends: ReadonlyMap<string, number>): boolean {
    for (const [key, end] of ends) if (end > 0 && (this.nextOffsets.get(key) ?? 0) < end) return false;
    return true;
  }

  private async onBatch({ batch }: EachBatchPayload, isScored: boolean): Promise<void> {
    for (const m of batch.messages) {
      if (m.value === null) continue;
      const record = JSON.parse(m.value.toString()) as { flow_id?: number | null; pair_flow_id?: number | null; line?: string };
      if (isScored) {
        this.scoredRecords++;
        this.deliver(record.flow_id ?? null);
        if (record.pair_flow_id !== null && record.pair_flow_id !== undefined) this.deliver(record.pair_flow_id);
      } else {
        this.ignoredRecords++;
        const fromLine = record.line === undefined ? undefined : ID_AT_LINE_HEAD.exec(record.line)?.[1];
        this.deliver(record.flow_id ?? (fromLine === undefined ? null : Number(fromLine)));
      }
    }
    this.nextOffsets.set(`${batch.topic}/${batch.partition}`, Number(batch.lastOffset()) + 1);
  }

  private deliver(id: number | null): void {
    const i = id === null ? -1 : id - this.firstId;
    if (i < 0 || i >= this.counts.length) {
      this.outOfRange++;
      return;
    }
    if (this.counts[i]! > 0) this.duplicates++;
    if (this.counts[i]! < 255) this.counts[i] = this.counts[i]! + 1;
  }
}
