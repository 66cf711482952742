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
 */
import { Kafka, logLevel, type Message, type Producer } from '../kafka/kafkajs.js';
import { parseFlowLine } from '../../bolts/parse/parse-flow.js';
import { conversationKey } from '../../bolts/match/conversation-key.js';
import { describeKafkaError } from '../kafka/kafka-client.js';
import { themisProducer } from '../kafka/producer.js';
import { IngestError } from './errors.js';
import type { SourceItem } from './sources.js';

export const DEFAULT_INGEST_TOPIC = 'netflow-json';
export const DEFAULT_BATCH_SIZE = 1_000;
export const DEFAULT_MAX_BATCHES_IN_FLIGHT = 4;

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
  topic: string;
  /** Invalid records sent anyway (`sendInvalid`), unkeyed. */
  invalidSent: number;
  /** The first `maxInvalidExamples` invalid records, in input order. */
  invalidExamples: InvalidRecord[];
  sourceErrors: string[];
  /** True when `signal` stopped the run before the input ended. */
  isInterrupted: boolean;
}

export interface IngestOptions {
  brokers: readonly string[];
  topic: string;
  batchSize: number;
  /** Batches sent but not yet acknowledged; reading pauses when this many are out. */
  maxBatchesInFlight: number;
  /** Send lines that fail parseFlowLine as they are, unkeyed, so the topology's ignored-flows records them. */
  sendInvalid: boolean;
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

/**
 * Produces every flow the source yields. Elapsed time runs from the first read (after the broker
 * and topic checks) to the last acknowledgement. Throws IngestError when the broker is down, the
 * topic is missing, or a batch fails after kafkajs' retries; the summary is then lost, but every
 * batch acknowledged before the failure stays in the topic.
 */
export async function ingest(source: AsyncIterable<SourceItem>, options: IngestOptions): Promise<IngestSummary> {
  const now = options.now ?? (() => performance.now());
  const maxExamples = options.maxInvalidExamples ?? 100;
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

  const summary: IngestSummary = {
    topic: options.topic,
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

  const sender = new BatchSender(producer, options.topic, options.maxBatchesInFlight, (count) => {
    summary.sent += count;
    reportProgress();
  });
  const rejectRecord = (record: InvalidRecord): void => {
    summary.invalid++;
    if (summary.invalidExamples.length < maxExamples) summary.invalidExamples.push(record);
    options.onInvalid?.(record);
  };
  let batch: Message[] = [];
  try {
    for await (const item of source) {
      if (sender.failure !== undefined) break;
      if (options.signal?.aborted) {
        summary.isInterrupted = true;
        break;
      }
      if (item.kind === 'flush') {
        if (batch.length > 0) await sender.send(batch);
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
        rejectRecord({ location: item.location, reason: item.reason });
      } else {
        const parsed = parseFlowLine(item.text, 0);
        if (parsed.ok) {
          batch.push({ key: Buffer.from(conversationKey(parsed.flow).key, 'utf16le'), value: item.text });
        } else {
          rejectRecord({ location: item.location, reason: parsed.reason });
          if (options.sendInvalid) {
            batch.push({ key: null, value: item.text });
            summary.invalidSent++;
          }
        }
      }
      if (batch.length >= options.batchSize) {
        await sender.send(batch);
        batch = [];
      }
      if ((summary.read & 1023) === 0) reportProgress();
    }
    if (batch.length > 0 && sender.failure === undefined) await sender.send(batch);
  } finally {
    // Also when the source throws: batches already handed to kafkajs finish before disconnecting.
    await sender.drain();
    await producer.disconnect();
  }
  if (sender.failure !== undefined) {
    throw kafkaError(
      `sending a batch to topic "${options.topic}" failed after ${summary.sent} messages were acknowledged`,
      options.topic,
      sender.failure,
    );
  }
  summary.elapsedMs = now() - startMs;
  summary.flowsPerSec = summary.elapsedMs > 0 ? (summary.sent * 1000) / summary.elapsedMs : 0;
  return summary;
}

/**
 * Keeps at most `maxInFlight` sendBatch calls outstanding. The first failure is kept and later
 * sends are refused, so the caller stops reading and reports it once.
 */
class BatchSender {
  failure: unknown = undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly maxInFlight: number,
    private readonly onAcked: (count: number) => void,
  ) {}

  async send(messages: Message[]): Promise<void> {
    if (this.failure !== undefined) return;
    const pending: Promise<void> = this.producer
      .sendBatch({ topicMessages: [{ topic: this.topic, messages }], acks: -1 })
      .then(
        () => this.onAcked(messages.length),
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
