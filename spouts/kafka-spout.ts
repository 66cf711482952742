import { AssignerProtocol, Kafka, logLevel, PartitionAssigners, type Admin, type Consumer, type EachBatchPayload, type LogEntry, type SASLOptions } from './kafka/kafkajs.js';
import type { FailCause, FailReason, GaugeSample, MetricCounter, OutputFields, Spout, SpoutOutputCollector, TopologyContext } from '../runtime/index.js';
import { describeFailure } from './failure-reason.js';
import { conversationHashOf } from './conversation-share.js';
import { describeKafkaError, innermostKafkaError, kafkaErrorType, type KafkaSasl, type KafkaTls } from './kafka/kafka-client.js';
import { installFastFetchDecoder } from './kafka/fetch-decoder.js';
import { decodeCommitRecord, encodeCommitRecord, RecordedCompletions } from './kafka/commit-record.js';
import { stickyAssigner } from './kafka/sticky-assigner.js';
import { COMMITTED_LAG_GAUGE, CONSUMER_LAG_GAUGE } from './kafka/lag-gauges.js';

/** Messages that failed `maxRetries` times leave on this stream, for the ignored-flows output. */
export const IGNORED_STREAM = 'ignored';

/** Structured-cloneable, so every spout task builds its own consumer on its worker thread. */
export interface KafkaSpoutArgs {
  readonly brokers: readonly string[];
  readonly topic: string;
  /** The topology instance name: its spout tasks, and the same topology restarted, share the offsets. */
  readonly groupId: string;
  readonly clientId?: string;
  /** Failures of one message before it is sent to the ignored stream instead (default 5). */
  readonly maxRetries?: number;
  /** Where a group without a committed offset starts: the earliest message, or (default) new ones only. */
  readonly fromBeginning?: boolean;
  /** Bytes per fetch response (kafkajs default 10 MiB) and per partition in it (1 MiB). */
  readonly fetchMaxBytes?: number;
  readonly fetchMaxBytesPerPartition?: number;
  /**
   * How long the broker holds a fetch that finds nothing new (default 500 ms, Kafka's own default;
   * kafkajs' 5 s would also hold up every close by that long, which waits for the open fetch).
   */
  readonly fetchMaxWaitMs?: number;
  /** Fetched messages held for nextTuple; fetching waits while this many are held (default 10 000). */
  readonly maxBufferedMessages?: number;
  /**
   * How often what is complete is committed (default 500 ms); also on rebalance, deactivate and
   * close. Each commit records which messages after the committed offset are still incomplete
   * (kafka/commit-record.ts), so a crash replays those, and what completed since the last commit.
   */
  readonly commitIntervalMs?: number;
  readonly sessionTimeoutMs?: number;
  /**
   * How often the consumer heartbeats (default 500 ms; kafkajs' own is 3 s). A member learns at its
   * next heartbeat that another has joined, so this bounds how long a start or a rebalance waits.
   */
  readonly heartbeatIntervalMs?: number;
  /**
   * Finite input, for tests and benchmarks: read up to the end offsets the topic had at open, and
   * signal exhaustion once every message before them has been fetched and emitted (the engine then waits for completion; the final commit happens on close).
   */
  readonly stopAtEndOffsets?: boolean;
  readonly ssl?: boolean | KafkaTls;
  readonly sasl?: KafkaSasl;
  /**
   * The topic is keyed by conversation (themis-ingest keys it so), so both directions of a
   * conversation are in one partition and reach one spout task: the topology then keeps each task's
   * lines on its own thread, and the spout need not compute the conversation hash of each line.
   */
  readonly keyedByConversation?: boolean;
  /**
   * With several spout tasks (one consumer each, one group), how long a task waits after its
   * activation for every task of the topology to be in the group before it emits anything (default
   * 30 000 ms). Members join moments apart, as their threads finish preparing; emitting before the
   * last one joins would hand the first one's uncommitted messages to the newcomer, so each would
   * be processed twice.
   */
  readonly groupSettleMs?: number;
}

/**
 * THEMIS_KAFKA_CONNECT: no broker answered, or the topic could not be subscribed, at open.
 * THEMIS_KAFKA_CONSUME: the consumer crashed (kafkajs restarts it when `retriable`, we do otherwise).
 * THEMIS_KAFKA_COMMIT: an offset commit failed; the next commit carries the same or a later offset.
 */
export type KafkaSpoutErrorCode = 'THEMIS_KAFKA_CONNECT' | 'THEMIS_KAFKA_CONSUME' | 'THEMIS_KAFKA_COMMIT';

export class KafkaSpoutError extends Error {
  readonly code: KafkaSpoutErrorCode;
  readonly topic: string;
  readonly groupId: string;
  readonly brokers: readonly string[];
  readonly retriable: boolean;

  constructor(message: string, context: { code: KafkaSpoutErrorCode; topic: string; groupId: string; brokers: readonly string[]; retriable: boolean; cause: unknown }) {
    super(message, { cause: context.cause });
    this.name = 'KafkaSpoutError';
    this.code = context.code;
    this.topic = context.topic;
    this.groupId = context.groupId;
    this.brokers = context.brokers;
    this.retriable = context.retriable;
  }
}

const DEFAULT_MAX_RETRIES = 5;
const DEFAULT_MAX_BUFFERED = 10_000;
const DEFAULT_COMMIT_INTERVAL_MS = 500;
const DEFAULT_FETCH_MAX_WAIT_MS = 500;
const DEFAULT_GROUP_SETTLE_MS = 30_000;
const DEFAULT_HEARTBEAT_INTERVAL_MS = 500;
const SETTLE_POLL_MS = 200;
/** A fetch waiting for room in the buffer heartbeats this often (kafkajs sends at most one per heartbeatInterval). */
const ROOM_WAIT_MS = 1_000;
/**
 * A partition's high watermark comes with each fetch response; one not refreshed for this long (the
 * fetch waits for room in the buffer, or nothing new arrived) is read with one ListOffsets request
 * for the whole topic, so that the lag gauges still move while the topology is stalled.
 */
const LAG_REFRESH_MS = 5_000;
/** After a crash kafkajs does not recover from, the consumer is rebuilt after this pause. */
const RESTART_DELAY_MS = 5_000;
/** Commit failures expected while the group rebalances: the next generation commits again. */
const REBALANCE_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR_FOR_GROUP']);

/** One fetched message, from fetch to completion. It is also the msgId the engine hands back. */
interface FetchedMessage {
  readonly partition: number;
  readonly offset: number;
  /** The partition's assignment when fetched: completions from an earlier assignment are dropped. */
  readonly epoch: number;
  readonly line: string;
  /** The conversation hash of the value (conversation-share.ts), or the offset when unreadable. */
  readonly share: number;
  failures: number;
  /** Set once the message has failed maxRetries times; it is then replayed on the ignored stream. */
  ignoredReason: string | null;
}

/**
 * The commit rule of one assigned partition. Each offset is pending from fetch until complete; the
 * commit point is the lowest pending offset, or one past the last seen when none is. Committing it
 * says "every message of this partition before it is fully processed". Offsets need not be
 * contiguous (compaction, transaction markers): an offset never tracked counts as done.
 *
 * One byte per offset from the oldest pending one to the newest: a flow parked for minutes in the
 * match bolt holds the commit back while many messages after it complete, so per-offset objects
 * would grow with the rate times the parking time.
 */
export class PartitionOffsets {
  /** 1: pending; 0: complete or no message. flags[i] is offset base + i. */
  private flags = new Uint8Array(1024);
  private base = 0;
  /** Every flag before it is 0; while anything is pending, flags[first] is 1. */
  private first = 0;
  private pendingCount = 0;
  /** One past the last offset seen; -1 before the first. */
  nextOffset = -1;
  /** The last commit point the broker confirmed; -1 when unknown. */
  committed = -1;
  /** The record sent with it. */
  committedRecord: string | null = null;
  /**
   * A new owner's view of the previous owner's last commit: the messages it lists as complete are
   * skipped. `recordLoad` is pending until the record is read; no message is taken before.
   */
  recorded: RecordedCompletions | null = null;
  recordLoad: Promise<void> | null = null;
  /** Where the group's position stood when the partition was assigned (stopAtEndOffsets); -1 until known. */
  startOffset = -1;
  /**
   * The group's committed offset when the partition was assigned (-1: none, or not yet read): the
   * consumer's position until it fetches a message, and the committed point until it commits.
   */
  assignedAt = -1;
  /** The partition's high watermark (one past its last committed message) as last seen, and when (ms); -1 before. */
  highWatermark = -1;
  highWatermarkAtMs = 0;

  constructor(readonly epoch: number) {}

  get pending(): number {
    return this.pendingCount;
  }

  /** Offsets arrive in increasing order. */
  track(offset: number): void {
    if (this.pendingCount === 0) {
      // Every flag is 0: the window restarts here.
      this.base = offset;
      this.first = 0;
    }
    let i = offset - this.base;
    if (i >= this.flags.length) {
      this.makeRoom(i);
      i = offset - this.base;
    }
    this.flags[i] = 1;
    this.pendingCount++;
    this.nextOffset = offset + 1;
  }

  /** Offsets without a message for us (a transaction marker ends the batch) need no completion. */
  skipTo(offset: number): void {
    if (offset > this.nextOffset) this.nextOffset = offset;
  }

  complete(offset: number): void {
    const i = offset - this.base;
    if (i < this.first || i >= this.flags.length || this.flags[i] !== 1) return;
    this.flags[i] = 0;
    this.pendingCount--;
    if (this.pendingCount === 0 || i !== this.first) return;
    while (this.flags[this.first] === 0) this.first++;
  }

  /** The offset to commit; -1 when nothing was seen. */
  commitPoint(): number {
    return this.pendingCount > 0 ? this.base + this.first : this.nextOffset;
  }

  /**
   * The commit point and its record (kafka/commit-record.ts): the incomplete offsets from the point
   * up to the last complete one. The fetched messages after it that are all still incomplete (the
   * buffer) need no listing: the record's span ends before them.
   */
  commitState(): { offset: number; record: string | null } {
    const point = this.commitPoint();
    if (this.pendingCount === 0) return { offset: point, record: null };
    // Offsets past the window were never tracked (skipped): complete.
    let last = this.nextOffset - this.base - 1;
    while (last >= this.first && last < this.flags.length && this.flags[last] === 1) last--;
    if (last < this.first) return { offset: point, record: null };
    const incomplete: number[] = [];
    const scanEnd = Math.min(last, this.flags.length - 1);
    for (let i = this.first; i <= scanEnd; i++) if (this.flags[i] === 1) incomplete.push(this.base + i);
    return { offset: point, record: encodeCommitRecord(point, this.base + last + 1, incomplete) };
  }

  noteHighWatermark(highWatermark: number, atMs: number): void {
    // A fetch response and a ListOffsets answer may arrive out of order: the watermark only grows.
    if (highWatermark >= this.highWatermark) this.highWatermark = highWatermark;
    this.highWatermarkAtMs = atMs;
  }

  /** Messages not yet fetched: the high watermark less the next offset to fetch; null while either is unknown. */
  consumerLag(): number | null {
    const position = this.nextOffset >= 0 ? this.nextOffset : this.assignedAt;
    return this.highWatermark < 0 || position < 0 ? null : Math.max(0, this.highWatermark - position);
  }

  /** Messages not yet finished (fetched and waiting, in flight, held): the high watermark less the committed offset. */
  committedLag(): number | null {
    const committed = this.committed >= 0 ? this.committed : this.assignedAt;
    return this.highWatermark < 0 || committed < 0 ? null : Math.max(0, this.highWatermark - committed);
  }

  /** Every message before `end` is complete. */
  isCompleteTo(end: number): boolean {
    return this.pendingCount === 0 && this.hasSeenTo(end);
  }

  /** Every message before `end` has been fetched (it may still be in flight). */
  hasSeenTo(end: number): boolean {
    return Math.max(this.nextOffset, this.startOffset) >= end;
  }

  /** Drops the done prefix of the window, and grows it when index `i` still does not fit. */
  private makeRoom(i: number): void {
    const used = this.nextOffset - this.base;
    this.flags.copyWithin(0, this.first, used);
    this.flags.fill(0, used - this.first, used);
    this.base += this.first;
    i -= this.first;
    this.first = 0;
    if (i < this.flags.length) return;
    const grown = new Uint8Array(Math.max(this.flags.length * 2, i + 1));
    grown.set(this.flags);
    this.flags = grown;
  }
}

/** A FIFO of fetched messages, taken from the front by nextTuple. */
class MessageQueue {
  private items: FetchedMessage[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }
  push(message: FetchedMessage): void {
    this.items.push(message);
  }
  shift(): FetchedMessage | undefined {
    if (this.head === this.items.length) return undefined;
    const message = this.items[this.head++];
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      // Fetches keep appending while nextTuple takes: drop the taken prefix now and then.
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return message;
  }
  removeWhere(isRemoved: (message: FetchedMessage) => boolean): void {
    this.items = this.items.slice(this.head).filter((message) => !isRemoved(message));
    this.head = 0;
  }
}

/**
 * Reads a topic in a consumer group and emits each message once per nextTuple call as
 * `[line, origin]` (origin `<topic>/<partition>@<offset>`), the message itself as msgId.
 *
 * Offsets are committed by hand: a partition's offset N+1 only once every message up to N is
 * complete, so a crash or rebalance replays from the oldest incomplete message (at-least-once).
 * A failed message is replayed; after maxRetries failures it goes once to the ignored stream as
 * `[reason, line, origin]`, and its completion then lets the commit pass it (a failure of that
 * emit replays it there again).
 *
 * Fetching stops while the buffer is full: the batch being handed over waits (heartbeating) for
 * nextTuple to drain the buffer before it takes more, so memory stays bounded by the buffer and
 * one fetch response.
 */
export class KafkaSpout implements Spout {
  private readonly topic: string;
  private readonly maxRetries: number;
  private readonly maxBuffered: number;
  private readonly resumeAt: number;
  private collector!: SpoutOutputCollector;
  private context!: TopologyContext;
  private kafka: Kafka | null = null;
  private consumer: Consumer | null = null;
  private admin: Admin | null = null;
  private readonly buffer = new MessageQueue();
  private readonly replays: FetchedMessage[] = [];
  private readonly partitions = new Map<number, PartitionOffsets>();
  private nextEpoch = 1;
  private wakeFetch: (() => void) | null = null;
  private commitTimer: NodeJS.Timeout | null = null;
  private lagTimer: NodeJS.Timeout | null = null;
  private isRefreshingLag = false;
  private isLagRefreshFailing = false;
  private commits: Promise<void> = Promise.resolve();
  private isCommitQueued = false;
  private isClosing = false;
  /** stopAtEndOffsets only: the topic's end and start offsets when the spout opened. */
  private endOffsets: Map<number, number> | null = null;
  private lowOffsets = new Map<number, number>();
  private hasJoined = false;
  /** Between kafkajs' REBALANCING and the next GROUP_JOIN: the assignment is about to change. */
  private isRebalancing = false;
  private isLoadingStarts = false;
  private exhaustion: 'reading' | 'signalled' = 'reading';
  /** Every spout task of the topology is in the group (or the wait for them timed out): emitting may start. */
  private isSettled = false;
  private isStarted = false;
  private isCheckingSettled = false;
  private settleTimer: NodeJS.Timeout | null = null;
  private settlePoll: NodeJS.Timeout | null = null;
  /** This member's id and assignment as of its latest join. */
  private memberId = '';
  private assignment: readonly number[] = [];
  /**
   * Messages emitted for the first time, and messages finished (acked: scored, discarded, or
   * written to `ignored-flows`), as the file spout counts lines. The difference is what a stop
   * signal's drain left unfinished; the commits never pass those, so the next run reads them again.
   */
  private linesRead!: MetricCounter;
  private linesFinished!: MetricCounter;

  constructor(private readonly args: KafkaSpoutArgs) {
    this.topic = args.topic;
    this.maxRetries = args.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.maxBuffered = args.maxBufferedMessages ?? DEFAULT_MAX_BUFFERED;
    this.resumeAt = Math.floor(this.maxBuffered / 2);
  }

  declareOutputFields(): OutputFields {
    return { default: ['line', 'origin', 'share'], [IGNORED_STREAM]: ['reason', 'line', 'origin'] };
  }

  async open(context: TopologyContext, collector: SpoutOutputCollector): Promise<void> {
    this.context = context;
    this.collector = collector;
    this.linesRead = context.counter('lines_read');
    this.linesFinished = context.counter('lines_finished');
    context.gauge(CONSUMER_LAG_GAUGE, () => this.lagSamples((state) => state.consumerLag()));
    context.gauge(COMMITTED_LAG_GAUGE, () => this.lagSamples((state) => state.committedLag()));
    const { brokers, clientId, ssl, sasl } = this.args;
    // Fetch responses are decoded by our decoder (kafka/fetch-decoder.ts), not kafkajs' own.
    installFastFetchDecoder();
    this.kafka = new Kafka({
      clientId: clientId ?? `themis-spout-${this.args.groupId}`,
      brokers: [...brokers],
      logLevel: logLevel.ERROR,
      logCreator: () => (entry) => this.logKafka(entry),
      ...(ssl === undefined ? {} : { ssl }),
      ...(sasl === undefined ? {} : { sasl: { ...sasl } as SASLOptions }),
    });
    await this.connectAdmin();
    if (this.args.stopAtEndOffsets) await this.readEndOffsets();
    if (context.componentTasks <= 1) this.isSettled = true;
    try {
      await this.startConsumer();
    } catch (error) {
      await this.admin?.disconnect();
      throw error;
    }
    this.commitTimer = setInterval(() => this.commitSoon(), this.args.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS);
    this.commitTimer.unref();
    this.lagTimer = setInterval(() => void this.refreshHighWatermarks(), LAG_REFRESH_MS);
    this.lagTimer.unref();
  }

  nextTuple(): void {
    if (!this.isSettled || this.isRebalancing) return;
    const isReplay = this.replays.length > 0;
    const message = isReplay ? this.replays.shift() : this.buffer.shift();
    if (message === undefined) {
      if (this.endOffsets !== null) this.checkExhausted();
      return;
    }
    if (!isReplay) this.linesRead.inc();
    if (this.wakeFetch !== null && this.buffer.size <= this.resumeAt) this.wakeFetch();
    const origin = `${this.topic}/${message.partition}@${message.offset}`;
    if (message.ignoredReason === null) this.collector.emit([message.line, origin, message.share], message);
    else this.collector.emit([message.ignoredReason, message.line, origin], message, IGNORED_STREAM);
  }

  ack(msgId: unknown): void {
    // Finished even when its partition has moved since: its records are written.
    this.linesFinished.inc();
    const message = msgId as FetchedMessage;
    const state = this.partitions.get(message.partition);
    // Revoked since it was fetched: the partition's new owner replays it from the committed offset.
    if (state === undefined || state.epoch !== message.epoch) return;
    state.complete(message.offset);
  }

  fail(msgId: unknown, reason: FailReason, cause?: FailCause): void {
    const message = msgId as FetchedMessage;
    const state = this.partitions.get(message.partition);
    if (state === undefined || state.epoch !== message.epoch) return;
    if (message.ignoredReason === null) {
      message.failures++;
      if (message.failures >= this.maxRetries) message.ignoredReason = `failed ${message.failures} times (last: ${describeFailure(reason, cause)})`;
    }
    this.replays.push(message);
  }

  /**
   * The consumer joins the group on the first activation, not at open: every spout task of the
   * topology is activated at once, after every thread has prepared, so they join together.
   */
  activate(): void {
    if (this.isStarted) return;
    this.isStarted = true;
    if (!this.isSettled) {
      const wait = this.args.groupSettleMs ?? DEFAULT_GROUP_SETTLE_MS;
      this.settleTimer = setTimeout(() => this.settle(`not every spout task joined group "${this.args.groupId}" within ${wait} ms; emitting anyway`), wait);
      this.settleTimer.unref();
    }
    if (this.consumer !== null) this.runConsumer(this.consumer);
  }

  deactivate(): void {
    this.commitSoon();
  }

  async close(): Promise<void> {
    this.isClosing = true;
    if (this.commitTimer !== null) clearInterval(this.commitTimer);
    if (this.lagTimer !== null) clearInterval(this.lagTimer);
    if (this.settleTimer !== null) clearTimeout(this.settleTimer);
    if (this.settlePoll !== null) clearTimeout(this.settlePoll);
    this.wakeFetch?.();
    // Commit while the consumer is still a group member: kafkajs drops commits once it stops.
    await this.commit();
    try {
      await this.consumer?.disconnect();
      await this.admin?.disconnect();
    } catch (cause) {
      this.context.log.warn('disconnecting the Kafka consumer failed', { topic: this.topic, groupId: this.args.groupId, error: describeKafkaError(cause) });
    }
  }

  // ---- the consumer ----

  private async startConsumer(): Promise<void> {
    const { groupId, fetchMaxBytes, fetchMaxBytesPerPartition, fetchMaxWaitMs, sessionTimeoutMs, heartbeatIntervalMs } = this.args;
    const consumer = this.kafka!.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: fetchMaxWaitMs ?? DEFAULT_FETCH_MAX_WAIT_MS,
      ...(fetchMaxBytes === undefined ? {} : { maxBytes: fetchMaxBytes }),
      ...(fetchMaxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: fetchMaxBytesPerPartition }),
      ...(sessionTimeoutMs === undefined ? {} : { sessionTimeout: sessionTimeoutMs }),
      heartbeatInterval: heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
      // Sticky first; round robin lets a group that still has members of an older version form.
      partitionAssigners: [stickyAssigner(() => ({ [this.topic]: this.assignment })), PartitionAssigners.roundRobin],
    });
    this.consumer = consumer;
    // GROUP_JOIN is emitted inside the join, before the first fetch of the new assignment.
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.memberId = payload.memberId;
      this.onAssigned(payload.memberAssignment[this.topic] ?? []);
    });
    // kafkajs' eager protocol: this member gives up every partition until the join gives its
    // assignment back, so nothing is emitted from here to GROUP_JOIN. Commit what is complete
    // before any partition moves (the old generation may still commit).
    consumer.on(consumer.events.REBALANCING, () => {
      this.isRebalancing = true;
      this.commitSoon();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => this.onCrash(consumer, payload.error, payload.restart));
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [this.topic], fromBeginning: this.args.fromBeginning ?? false });
    } catch (cause) {
      await consumer.disconnect().catch((error: unknown) => this.context.log.warn('disconnecting a failed consumer failed', { error: describeKafkaError(error) }));
      throw this.error('THEMIS_KAFKA_CONNECT', `cannot subscribe to Kafka topic "${this.topic}" as group "${this.args.groupId}"`, cause, true);
    }
    if (this.isStarted) this.runConsumer(consumer);
  }

  private runConsumer(consumer: Consumer): void {
    // run() resolves once the first join is done; later failures arrive as CRASH events.
    void consumer
      .run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch: (payload) => this.onBatch(payload) })
      .catch((cause: unknown) => this.onCrash(consumer, cause, false));
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale, pause }: EachBatchPayload): Promise<void> {
    const partition = batch.partition;
    const state = this.partitions.get(partition);
    if (state === undefined) return;
    state.noteHighWatermark(Number(batch.highWatermark), Date.now());
    if (state.recordLoad !== null) {
      await state.recordLoad;
      // Nothing resolved: kafkajs fetches this batch again, for the partition's owner if it moved.
      if (this.isClosing || !isRunning() || isStale() || this.partitions.get(partition) !== state) return;
    }
    const end = this.endOffsets?.get(partition);
    // kafkajs parses the offset into a Long on every resolveOffset: resolve once, at the last
    // message taken, before each return (offsets are only resolved forward, so this is the same).
    let taken: string | null = null;
    const resolveTaken = () => {
      if (taken !== null) resolveOffset(taken);
    };
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      // Already tracked: kafkajs starts a kept partition from the committed offset after a join.
      if (offset < state.nextOffset) {
        taken = message.offset;
        continue;
      }
      if (end !== undefined && offset >= end) {
        resolveTaken();
        pause();
        return;
      }
      if (state.recorded !== null) {
        // Complete by the previous owner's last commit: not emitted again.
        if (state.recorded.isComplete(offset)) {
          state.skipTo(offset + 1);
          taken = message.offset;
          continue;
        }
        if (state.recorded.isPassed(offset)) state.recorded = null;
      }
      while (this.buffer.size >= this.maxBuffered) {
        resolveTaken();
        await this.roomInBuffer();
        if (this.isClosing || !isRunning() || isStale() || this.partitions.get(partition) !== state) return;
        // Throws when the group rebalances; kafkajs then rejoins, and GROUP_JOIN sorts out what stays.
        await heartbeat();
      }
      state.track(offset);
      const value = message.value;
      // Keyed by conversation, the lines stay on this task's thread and need no share.
      const share = (value && this.args.keyedByConversation !== true ? conversationHashOf(value, 0, value.length) : null) ?? offset;
      this.buffer.push({ partition, offset, epoch: state.epoch, line: value?.toString('utf8') ?? '', share, failures: 0, ignoredReason: null });
      taken = message.offset;
    }
    resolveTaken();
    this.collector.wake();
    const afterBatch = Number(batch.lastOffset()) + 1;
    state.skipTo(end === undefined ? afterBatch : Math.min(afterBatch, end));
  }

  private roomInBuffer(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => wake(), ROOM_WAIT_MS);
      const wake = () => {
        clearTimeout(timer);
        this.wakeFetch = null;
        resolve();
      };
      this.wakeFetch = wake;
    });
  }

  /** The assignment after a (re)join: revoked partitions are forgotten, kept ones resume where they were. */
  private onAssigned(assigned: readonly number[]): void {
    const kept = new Set(assigned);
    const revoked = [...this.partitions.keys()].filter((partition) => !kept.has(partition));
    if (revoked.length > 0) this.revoke(revoked);
    const added: PartitionOffsets[] = [];
    for (const partition of assigned) {
      const state = this.partitions.get(partition);
      if (state === undefined) {
        const fresh = new PartitionOffsets(this.nextEpoch++);
        this.partitions.set(partition, fresh);
        added.push(fresh);
        continue;
      }
      // The new generation has not confirmed our commits: send the current point again.
      state.assignedAt = Math.max(state.assignedAt, state.committed);
      state.committed = -1;
      if (state.nextOffset >= 0) this.consumer?.seek({ topic: this.topic, partition, offset: String(state.nextOffset) });
    }
    if (added.length > 0) this.loadCommitRecords(added);
    this.hasJoined = true;
    this.isRebalancing = false;
    this.assignment = [...assigned];
    this.context.log.info('Kafka partitions assigned', { topic: this.topic, groupId: this.args.groupId, partitions: [...assigned], revoked });
    if (this.endOffsets !== null) void this.loadStartOffsets();
    if (!this.isSettled) void this.checkSettled();
  }

  /**
   * Settled once the group is stable with every spout task of the topology in it and this member
   * holds the assignment the group gave it: from then on no rebalance of the start moves a
   * partition that this task has emitted from.
   */
  private async checkSettled(): Promise<void> {
    const consumer = this.consumer;
    if (consumer === null || this.isSettled || this.isCheckingSettled) return;
    this.isCheckingSettled = true;
    try {
      const group = await consumer.describeGroup();
      if (group.state === 'Stable' && group.members.length >= this.context.componentTasks) {
        const me = group.members.find((m) => m.memberId === this.memberId);
        const given = me === undefined ? null : me.memberAssignment.length === 0 ? [] : (AssignerProtocol.MemberAssignment.decode(me.memberAssignment)?.assignment[this.topic] ?? []);
        const held = new Set(this.assignment);
        if (given !== null && !this.isRebalancing && given.length === held.size && given.every((p) => held.has(p))) this.settle(null);
      }
    } catch (cause) {
      this.context.log.warn('describing the consumer group failed', { topic: this.topic, groupId: this.args.groupId, error: describeKafkaError(cause) });
    } finally {
      this.isCheckingSettled = false;
    }
    // The group may not be stable yet, or still wait for a member: ask again shortly (the settle
    // timeout bounds the wait).
    if (!this.isSettled && !this.isClosing && this.settlePoll === null) {
      this.settlePoll = setTimeout(() => {
        this.settlePoll = null;
        void this.checkSettled();
      }, SETTLE_POLL_MS);
      this.settlePoll.unref();
    }
  }

  private settle(warning: string | null): void {
    if (this.isSettled) return;
    this.isSettled = true;
    if (this.settleTimer !== null) clearTimeout(this.settleTimer);
    this.settleTimer = null;
    if (warning !== null) this.context.log.warn(warning, { topic: this.topic, groupId: this.args.groupId });
    else this.context.log.info('every spout task is in the group; emitting', { topic: this.topic, groupId: this.args.groupId, partitions: [...this.assignment] });
  }

  /**
   * Drops the buffered messages and the offsets of partitions this task no longer owns. Their
   * emitted messages still complete, but are not counted: the new owner reads from the committed
   * offset, so they may be processed twice (at-least-once).
   */
  private revoke(partitions: readonly number[]): void {
    const gone = new Set(partitions);
    for (const partition of partitions) this.partitions.delete(partition);
    this.buffer.removeWhere((message) => gone.has(message.partition));
    let kept = 0;
    for (const message of this.replays) if (!gone.has(message.partition)) this.replays[kept++] = message;
    this.replays.length = kept;
    this.wakeFetch?.();
  }

  private onCrash(consumer: Consumer, cause: unknown, willRestart: boolean): void {
    if (this.isClosing || consumer !== this.consumer) return;
    const next = willRestart ? 'kafkajs restarts it' : `restarting it in ${RESTART_DELAY_MS} ms`;
    this.collector.reportError(this.error('THEMIS_KAFKA_CONSUME', `the consumer of Kafka topic "${this.topic}" as group "${this.args.groupId}" crashed; ${next}`, cause, willRestart));
    if (willRestart) return;
    // A new consumer is a new group member: everything is read again from the committed offsets.
    this.revoke([...this.partitions.keys()]);
    this.hasJoined = false;
    this.consumer = null;
    setTimeout(() => this.restart(), RESTART_DELAY_MS).unref();
  }

  private restart(): void {
    if (this.isClosing) return;
    this.startConsumer().catch((cause: unknown) => {
      this.collector.reportError(cause);
      setTimeout(() => this.restart(), RESTART_DELAY_MS).unref();
    });
  }

  // ---- commits ----

  /** Queues a commit unless one is already waiting (the timer must not pile them up). */
  private commitSoon(): void {
    if (!this.isCommitQueued) void this.commit();
  }

  /** Commits every partition whose commit point moved; commits run one after another. */
  private commit(): Promise<void> {
    this.isCommitQueued = true;
    this.commits = this.commits.then(() => {
      this.isCommitQueued = false;
      return this.commitOnce();
    });
    return this.commits;
  }

  private async commitOnce(): Promise<void> {
    const consumer = this.consumer;
    if (consumer === null) return;
    const offsets: Array<{ topic: string; partition: number; offset: string }> = [];
    const moved: Array<[PartitionOffsets, number, string | null]> = [];
    for (const [partition, state] of this.partitions) {
      const { offset: point, record } = state.commitState();
      if (point < 0 || point < state.committed || (point === state.committed && record === state.committedRecord)) continue;
      offsets.push({ topic: this.topic, partition, offset: String(point), ...(record === null ? {} : { metadata: record }) });
      moved.push([state, point, record]);
    }
    if (offsets.length === 0) return;
    try {
      await consumer.commitOffsets(offsets);
      for (const [state, point, record] of moved) {
        if (point < state.committed) continue;
        state.committed = point;
        state.committedRecord = record;
      }
    } catch (cause) {
      const type = kafkaErrorType(innermostKafkaError(cause));
      if (type !== undefined && REBALANCE_ERRORS.has(type)) {
        this.context.log.warn('offset commit refused during a rebalance; the next assignment commits again', { topic: this.topic, groupId: this.args.groupId, error: type });
        return;
      }
      const partitions = offsets.map((o) => `${o.partition}@${o.offset}`).join(', ');
      this.collector.reportError(this.error('THEMIS_KAFKA_COMMIT', `committing offsets ${partitions} of Kafka topic "${this.topic}" for group "${this.args.groupId}"`, cause, true));
    }
  }

  /**
   * Reads the previous owner's last commit record of each new partition (kafka/commit-record.ts).
   * kafkajs fetches from the same committed offset, and onBatch waits for the record before it
   * takes anything. A failed read only means reading again what the record would have skipped.
   */
  private loadCommitRecords(added: readonly PartitionOffsets[]): void {
    const admin = this.admin;
    if (admin === null) return;
    const partitionOf = new Map<PartitionOffsets, number>();
    for (const [partition, state] of this.partitions) partitionOf.set(state, partition);
    const load = (async () => {
      try {
        const [topicOffsets] = await admin.fetchOffsets({ groupId: this.args.groupId, topics: [this.topic] });
        const byPartition = new Map((topicOffsets?.partitions ?? []).map((p) => [p.partition, p]));
        for (const state of added) {
          const committed = byPartition.get(partitionOf.get(state) ?? -1);
          if (committed !== undefined) state.assignedAt = Math.max(state.assignedAt, Number(committed.offset));
          const record = committed === undefined ? null : decodeCommitRecord(Number(committed.offset), committed.metadata);
          if (record !== null && record.span > 0) state.recorded = new RecordedCompletions(record);
        }
      } catch (cause) {
        this.context.log.warn('reading the commit records of new partitions failed; they are read again from their committed offsets', {
          topic: this.topic,
          groupId: this.args.groupId,
          error: describeKafkaError(cause),
        });
      } finally {
        for (const state of added) state.recordLoad = null;
      }
    })();
    for (const state of added) state.recordLoad = load;
  }

  // ---- lag ----

  /** One sample per assigned partition whose lag is known: a revoked partition's series is gone at the next report. */
  private lagSamples(lagOf: (state: PartitionOffsets) => number | null): GaugeSample[] {
    const samples: GaugeSample[] = [];
    for (const [partition, state] of this.partitions) {
      const lag = lagOf(state);
      if (lag !== null) samples.push({ labels: { topic: this.topic, partition: String(partition) }, value: lag });
    }
    return samples;
  }

  /** Reads the high watermarks of the whole topic at once when some assigned partition's is stale. */
  private async refreshHighWatermarks(): Promise<void> {
    const admin = this.admin;
    const staleBefore = Date.now() - LAG_REFRESH_MS;
    if (admin === null || this.isRefreshingLag || this.isClosing || ![...this.partitions.values()].some((p) => p.highWatermarkAtMs <= staleBefore)) return;
    this.isRefreshingLag = true;
    try {
      const offsets = await admin.fetchTopicOffsets(this.topic);
      const atMs = Date.now();
      for (const o of offsets) this.partitions.get(o.partition)?.noteHighWatermark(Number(o.high), atMs);
      if (this.isLagRefreshFailing) this.context.log.info('reading the high watermarks works again', { topic: this.topic });
      this.isLagRefreshFailing = false;
    } catch (cause) {
      // Logged once per run of failures (the consumer reports the broker's absence itself), and not
      // at all when close() disconnected the admin client under the request.
      if (this.isClosing) return;
      if (!this.isLagRefreshFailing) this.context.log.warn('reading the high watermarks for the lag gauges failed; they keep their last values', { topic: this.topic, error: describeKafkaError(cause) });
      this.isLagRefreshFailing = true;
    } finally {
      this.isRefreshingLag = false;
    }
  }

  // ---- finite input (stopAtEndOffsets) ----

  /** The admin client reads the commit records of new partitions, and the end offsets of a finite input. */
  private async connectAdmin(): Promise<void> {
    const admin = this.kafka!.admin();
    try {
      await admin.connect();
    } catch (cause) {
      throw this.error('THEMIS_KAFKA_CONNECT', `cannot connect to Kafka for topic "${this.topic}"`, cause, true);
    }
    this.admin = admin;
  }

  private async readEndOffsets(): Promise<void> {
    const admin = this.admin!;
    try {
      const offsets = await admin.fetchTopicOffsets(this.topic);
      this.endOffsets = new Map(offsets.map((o) => [o.partition, Number(o.high)]));
      this.lowOffsets = new Map(offsets.map((o) => [o.partition, Number(o.low)]));
    } catch (cause) {
      await admin.disconnect();
      this.admin = null;
      throw this.error('THEMIS_KAFKA_CONNECT', `cannot read the end offsets of Kafka topic "${this.topic}"`, cause, true);
    }
  }

  /**
   * A partition whose group offset already stands at its end yields no message at all, so the
   * position it was assigned at is read from the group's committed offsets.
   */
  private async loadStartOffsets(): Promise<void> {
    if (this.isLoadingStarts || this.admin === null) return;
    this.isLoadingStarts = true;
    try {
      const [topicOffsets] = await this.admin.fetchOffsets({ groupId: this.args.groupId, topics: [this.topic] });
      for (const { partition, offset } of topicOffsets?.partitions ?? []) {
        const state = this.partitions.get(partition);
        if (state === undefined || state.startOffset >= 0) continue;
        const committed = Number(offset);
        const reset = this.args.fromBeginning ? this.lowOffsets : this.endOffsets!;
        state.startOffset = committed >= 0 ? committed : (reset.get(partition) ?? 0);
      }
    } catch (cause) {
      this.collector.reportError(this.error('THEMIS_KAFKA_CONSUME', `cannot read the committed offsets of group "${this.args.groupId}"`, cause, true));
    } finally {
      this.isLoadingStarts = false;
    }
  }

  /**
   * Exhausted means nothing is left to emit: every message up to the end offsets was fetched and
   * handed out. Completion is the engine's business — flows parked by match-flows complete only
   * after the engine, seeing every spout exhausted, tells the bolts the input has ended — and the
   * final commit happens on close.
   */
  private checkExhausted(): void {
    if (this.exhaustion !== 'reading' || !this.isAtEnd()) return;
    this.exhaustion = 'signalled';
    this.collector.signalExhausted();
  }

  private isAtEnd(): boolean {
    // Not while the group rebalances: what this task holds is about to change, and exhaustion,
    // once signalled, is not taken back.
    if (!this.hasJoined || this.isRebalancing || this.replays.length > 0 || this.buffer.size > 0) return false;
    let isAtEnd = true;
    for (const [partition, state] of this.partitions) {
      if (state.hasSeenTo(this.endOffsets!.get(partition) ?? 0)) continue;
      isAtEnd = false;
      if (state.startOffset < 0 && state.pending === 0) void this.loadStartOffsets();
    }
    return isAtEnd;
  }

  // ---- errors and logs ----

  private error(code: KafkaSpoutErrorCode, what: string, cause: unknown, retriable: boolean): KafkaSpoutError {
    const { brokers, groupId } = this.args;
    return new KafkaSpoutError(`${what} on ${brokers.join(',')}: ${describeKafkaError(cause)}`, { code, topic: this.topic, groupId, brokers, retriable, cause });
  }

  /**
   * kafkajs' own error logs, as warnings of this task: they include the protocol noise of every
   * rebalance, which must not use up the task's rate-limited error log; our errors are reported
   * separately with their codes.
   */
  private logKafka(entry: LogEntry): void {
    const { message, ...fields } = entry.log;
    this.context.log.warn(`kafkajs: ${message}`, { namespace: entry.namespace, topic: this.topic, groupId: this.args.groupId, ...fields });
  }
}
