/**
 * themis-ingest's producer: takes flows from a source (sources.ts), checks each one with the
 * topology's own parser, and produces them to the input topic keyed by conversation.
 *
 * Replaces the original's two-step import (reference §12.2-12.3): no MySQL staging table, times
 * in UTC rather than local time, start and end kept apart, every failure reported (§15 items
 * 52-53), and messages acknowledged by all in-sync replicas instead of fire-and-forget.
 *
 * Kafka message: value = one flow in the input schema (§4.2; for JSON-lines input the line exactly
 * as read), key = conversationKey(flow).key as UTF-16LE bytes. The key is a string of 16-bit code
 * units that may be lone surrogates, which UTF-8 would replace with U+FFFD; UTF-16LE keeps every
 * unit, so distinct conversations keep distinct keys. Both directions of a conversation share a
 * key, so the default (murmur2) partitioner puts them in one partition.
 *
 * Delivery is at least once: a batch that fails after the broker stored part of it is retried by
 * kafkajs, and with several batches in flight a retried batch can land after a later one, so order
 * within a partition is not guaranteed across batches.
 *
 * ingestToLines writes the same message values, one per line and in input order, to a stream
 * instead (`themis-ingest --output`, and the spool of `themis-topology --input-format nfcapd`).
 */
import { Kafka, logLevel, type Message, type Producer } from '../kafka/kafkajs.js';
import { parseFlowLine } from '../../bolts/parse/parse-flow.js';
import { conversationKey } from '../../bolts/match/conversation-key.js';
import { describeKafkaError } from '../kafka/kafka-client.js';
import { themisProducer } from '../kafka/producer.js';
import { IngestError } from './errors.js';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { SourceItem } from './sources.js';

export const DEFAULT_INGEST_TOPIC = 'netflow-json';
export const DEFAULT_BATCH_SIZE = 1_000;
export const DEFAULT_MAX_BATCHES_IN_FLIGHT = 4;
/** Buffer of a file stream given to ingestToLines, bytes: about 16 batches of 1,000 flows. */
export const LINES_HIGH_WATER_MARK = 4 << 20;

export interface InvalidRecord {
  /** `file:line` for JSON lines, `file record N` for nfdump records. */
  location: string;
  reason: string;
}

export interface IngestProgress {
  /** Records read: flows and invalid records. */
  read: number;
  /** Messages the broker acknowledged. */
  sent: number;
  invalid: number;
  elapsedMs: number;
  /** sent per second of elapsed time. */
  flowsPerSec: number;
}

export interface IngestSummary extends IngestProgress {
  /** Invalid records sent anyway (`sendInvalid`), unkeyed. */
  invalidSent: number;
  /** The first `maxInvalidExamples` invalid records, in input order. */
  invalidExamples: InvalidRecord[];
  sourceErrors: string[];
  /** True when `signal` stopped the run before the input ended. */
  isInterrupted: boolean;
}

/** What both destinations take: how records are read, checked, batched and reported. */
export interface PumpOptions {
  batchSize: number;
  /** Send lines that fail parseFlowLine as they are, unkeyed, so the topology's ignored-flows records them. */
  sendInvalid: boolean;
  /**
   * Send every invalid record (one the source rejected, or a line that fails parseFlowLine) as the
   * line this returns, instead of leaving it out; it is counted in `invalidSent`.
   */
  wrapInvalid?: (record: InvalidRecord & { text: string }) => string;
  maxInvalidExamples?: number;
  /** Milliseconds, monotonic; injected by tests. */
  now?: () => number;
  progressIntervalMs?: number;
  onProgress?: (progress: IngestProgress) => void;
  onInvalid?: (record: InvalidRecord) => void;
  onSourceError?: (message: string) => void;
  /** Aborting stops reading; batches already read are still sent and the summary returned. */
  signal?: AbortSignal;
}

export interface IngestOptions extends PumpOptions {
  brokers: readonly string[];
  topic: string;
  /** Batches sent but not yet acknowledged; reading pauses when this many are out. */
  maxBatchesInFlight: number;
}

/** Where the checked records go: the topic (BatchSender) or a stream of lines (LineWriter). */
interface FlowSink {
  /** Whether messages need their conversation key; lines have none. */
  readonly isKeyed: boolean;
  /** The first failure; once set, nothing more is sent. */
  readonly failure: unknown;
  /** Hands a batch over; `onDone` gets its size once it is acknowledged (topic) or written (lines). */
  send(messages: Message[], onDone: (count: number) => void): Promise<void>;
  drain(): Promise<void>;
}

/**
 * Produces every flow the source yields. Elapsed time runs from the first read (after the broker
 * and topic checks) to the last acknowledgement. Throws IngestError when the broker is down, the
 * topic is missing, or a batch fails after kafkajs' retries; the summary is then lost, but every
 * batch acknowledged before the failure stays in the topic.
 */
export async function ingest(source: AsyncIterable<SourceItem>, options: IngestOptions): Promise<IngestSummary> {
  const clientConfig = {
    clientId: 'themis-ingest',
    brokers: [...options.brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
  };
  // Few retries for the check: a broker that is down is reported in about a second, not after
  // kafkajs' default back-off (8 s). The producer keeps the default retries for its sends.
  await requireTopic(new Kafka({ ...clientConfig, retry: { retries: 2, initialRetryTime: 250 } }), options);
  const kafka = new Kafka(clientConfig);
  const producer = themisProducer(kafka);
  try {
    await producer.connect();
  } catch (cause) {
    throw kafkaError(`cannot connect a producer to Kafka brokers ${options.brokers.join(',')}`, options.topic, cause);
  }
  const sender = new BatchSender(producer, options.topic, options.maxBatchesInFlight);
  let summary: IngestSummary;
  try {
    summary = await pump(source, sender, options);
  } finally {
    await producer.disconnect();
  }
  if (sender.failure !== undefined) {
    throw kafkaError(
      `sending a batch to topic "${options.topic}" failed after ${summary.sent} messages were acknowledged`,
      options.topic,
      sender.failure,
    );
  }
  return summary;
}

/**
 * Writes every flow the source yields as one line of `output`, in input order: the message values
 * `ingest` would send. Resolves once the last line is written to the stream (the caller ends it);
 * rejects with the stream's error when a write fails.
 */
export async function ingestToLines(source: AsyncIterable<SourceItem>, output: Writable, options: PumpOptions): Promise<IngestSummary> {
  const writer = new LineWriter(output);
  const summary = await pump(source, writer, options);
  if (writer.failure !== undefined) throw writer.failure;
  return summary;
}

/**
 * ingestToLines into a file stream of the caller's (opened with LINES_HIGH_WATER_MARK), which this
 * ends and waits for, whether the lines went out or not: themis-ingest's and themis-collect's
 * --output file.
 */
export async function ingestToFile(source: AsyncIterable<SourceItem>, output: Writable, options: PumpOptions): Promise<IngestSummary> {
  try {
    return await ingestToLines(source, output, options);
  } finally {
    output.end();
    await finished(output);
  }
}

/**
 * Reads the source to its end (or to the signal, or the sink's first failure), checks each line
 * with parseFlowLine, and hands the records to the sink in batches of `batchSize`. Elapsed time
 * runs from the first read to the last batch done.
 */
async function pump(source: AsyncIterable<SourceItem>, sink: FlowSink, options: PumpOptions): Promise<IngestSummary> {
  const now = options.now ?? (() => performance.now());
  const maxExamples = options.maxInvalidExamples ?? 100;
  const summary: IngestSummary = {
    read: 0,
    sent: 0,
    invalid: 0,
    elapsedMs: 0,
    flowsPerSec: 0,
    invalidSent: 0,
    invalidExamples: [],
    sourceErrors: [],
    isInterrupted: false,
  };
  const startMs = now();
  let lastProgressMs = startMs;
  const reportProgress = (): void => {
    const at = now();
    if (at - lastProgressMs < (options.progressIntervalMs ?? 250)) return;
    lastProgressMs = at;
    summary.elapsedMs = at - startMs;
    summary.flowsPerSec = summary.elapsedMs > 0 ? (summary.sent * 1000) / summary.elapsedMs : 0;
    options.onProgress?.({
      read: summary.read,
      sent: summary.sent,
      invalid: summary.invalid,
      elapsedMs: summary.elapsedMs,
      flowsPerSec: summary.flowsPerSec,
    });
  };
  const onDone = (count: number): void => {
    summary.sent += count;
    reportProgress();
  };
  let batch: Message[] = [];
  const rejectRecord = (record: InvalidRecord, text: string | undefined): void => {
    summary.invalid++;
    if (summary.invalidExamples.length < maxExamples) summary.invalidExamples.push(record);
    options.onInvalid?.(record);
    if (options.wrapInvalid !== undefined) {
      batch.push({ key: null, value: options.wrapInvalid({ ...record, text: text ?? '' }) });
      summary.invalidSent++;
    } else if (options.sendInvalid && text !== undefined) {
      batch.push({ key: null, value: text });
      summary.invalidSent++;
    }
  };
  try {
    for await (const item of source) {
      if (sink.failure !== undefined) break;
      if (options.signal?.aborted) {
        summary.isInterrupted = true;
        break;
      }
      if (item.kind === 'flush') {
        if (batch.length > 0) await sink.send(batch, onDone);
        batch = [];
        continue;
      }
      if (item.kind === 'source-error') {
        const message = `${item.source}: ${item.message}`;
        summary.sourceErrors.push(message);
        options.onSourceError?.(message);
        continue;
      }
      summary.read++;
      if (item.kind === 'invalid') {
        // A record the source could not read as a flow is never sent as it is, only wrapped.
        rejectRecord({ location: item.location, reason: item.reason }, options.wrapInvalid === undefined ? undefined : item.text);
      } else {
        const parsed = parseFlowLine(item.text, 0);
        if (!parsed.ok) rejectRecord({ location: item.location, reason: parsed.reason }, item.text);
        else batch.push({ key: sink.isKeyed ? Buffer.from(conversationKey(parsed.flow).key, 'utf16le') : null, value: item.text });
      }
      if (batch.length >= options.batchSize) {
        await sink.send(batch, onDone);
        batch = [];
      }
      if ((summary.read & 1023) === 0) reportProgress();
    }
    if (batch.length > 0 && sink.failure === undefined) await sink.send(batch, onDone);
  } finally {
    // Also when the source throws: batches already handed over finish first.
    await sink.drain();
  }
  summary.elapsedMs = now() - startMs;
  summary.flowsPerSec = summary.elapsedMs > 0 ? (summary.sent * 1000) / summary.elapsedMs : 0;
  return summary;
}

/**
 * Keeps at most `maxInFlight` sendBatch calls outstanding. The first failure is kept and later
 * sends are refused, so the caller stops reading and reports it once.
 */
class BatchSender implements FlowSink {
  readonly isKeyed = true;
  failure: unknown = undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly maxInFlight: number,
  ) {}

  async send(messages: Message[], onAcked: (count: number) => void): Promise<void> {
    if (this.failure !== undefined) return;
    const pending: Promise<void> = this.producer
      .sendBatch({ topicMessages: [{ topic: this.topic, messages }], acks: -1 })
      .then(
        () => onAcked(messages.length),
        (error: unknown) => {
          this.failure ??= error;
        },
      )
      .finally(() => this.inFlight.delete(pending));
    this.inFlight.add(pending);
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
  }

  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
  }
}

/**
 * Writes each batch as one string of lines and waits for the stream to drain when it asks to:
 * memory stays bounded by the stream's highWaterMark and one batch, however slow the disk or the
 * reader of a pipe. Give a file stream a highWaterMark of a few batches (LINES_HIGH_WATER_MARK):
 * with the default 16 KiB every batch waits for its write, and reading stops meanwhile (115,000
 * nfdump records: 3.2 s against 2.0 s).
 */
class LineWriter implements FlowSink {
  readonly isKeyed = false;
  failure: unknown = undefined;

  constructor(private readonly output: Writable) {
    output.once('error', (error) => {
      this.failure ??= error;
    });
  }

  async send(messages: Message[], onWritten: (count: number) => void): Promise<void> {
    if (this.failure !== undefined) return;
    let text = '';
    for (const message of messages) text += `${message.value as string}\n`;
    const isReady = this.output.write(text);
    if (!isReady) await this.waitForDrain();
    if (this.failure === undefined) onWritten(messages.length);
  }

  async drain(): Promise<void> {}

  private waitForDrain(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.output.off('drain', done);
        this.output.off('error', done);
        this.output.off('close', done);
        resolve();
      };
      this.output.on('drain', done);
      this.output.on('error', done);
      this.output.on('close', done);
    });
  }
}

async function requireTopic(kafka: Kafka, options: IngestOptions): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (cause) {
    throw kafkaError(`cannot reach Kafka brokers ${options.brokers.join(',')}`, options.topic, cause);
  }
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(options.topic)) {
      throw new IngestError(
        `topic "${options.topic}" does not exist on Kafka brokers ${options.brokers.join(',')} ` +
          `(automatic topic creation is off); create it with: themis-kafka create-topics --topics ${options.topic}`,
        { code: 'THEMIS_INGEST_NO_TOPIC', topic: options.topic, retriable: false },
      );
    }
  } catch (error) {
    if (error instanceof IngestError) throw error;
    throw kafkaError(`listing the topics on Kafka brokers ${options.brokers.join(',')} failed`, options.topic, error);
  } finally {
    await admin.disconnect();
  }
}

function kafkaError(context: string, topic: string, cause: unknown): IngestError {
  return new IngestError(`${context}: ${describeKafkaError(cause)}`, {
    code: 'THEMIS_INGEST_KAFKA',
    topic,
    retriable: true,
    cause,
  });
}
