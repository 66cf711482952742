import { CompressionTypes, Kafka, logLevel, Partitioners, type LogEntry, type Message, type Producer, type SASLOptions, type TopicMessages } from 'kafkajs';
import type { Logger } from '../../runtime/index.js';
import { describeKafkaError, isRetriableKafkaError, type KafkaSasl, type KafkaTls } from '../../spouts/kafka/kafka-client.js';
import { OutputError } from './errors.js';
import type { RecordSink, TopicBatch } from './record-sink.js';

/** Structured-cloneable, so every worker thread can build its own sink. */
export interface KafkaSinkArgs {
  readonly brokers: readonly string[];
  readonly clientId?: string;
  /** Off by default: flow records are small and the broker is near. */
  readonly compression?: 'none' | 'gzip';
  /** kafkajs retries of one connection or write before it is rejected (kafkajs default: 5). */
  readonly retries?: number;
  readonly requestTimeoutMs?: number;
  readonly ssl?: boolean | KafkaTls;
  readonly sasl?: KafkaSasl;
}

/**
 * Writes record batches to Kafka topics through one producer. A `write` is one `sendBatch` over
 * every topic of the call with acks=-1, so it resolves only once the broker has confirmed every
 * record (all in-sync replicas); the output bolt acks its inputs after that and fails them when
 * it rejects. Records keep their keys (the flow id), so one flow's records share a partition.
 */
export class KafkaSink implements RecordSink {
  private readonly producer: Producer;
  private readonly brokers: readonly string[];
  private readonly compression: CompressionTypes;
  private connecting: Promise<void> | null = null;
  private isClosed = false;

  /**
   * `log` receives kafkajs' own error logs as warnings (they repeat what the rejected write says);
   * without it kafkajs prints them to the console.
   */
  constructor(args: KafkaSinkArgs, log?: Logger) {
    this.brokers = [...args.brokers];
    this.compression = args.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    const kafka = new Kafka({
      clientId: args.clientId ?? 'themis-sink',
      brokers: [...args.brokers],
      logLevel: logLevel.ERROR,
      ...(log === undefined ? {} : { logCreator: () => (entry: LogEntry) => logKafka(log, entry) }),
      ...(args.retries === undefined ? {} : { retry: { retries: args.retries } }),
      ...(args.requestTimeoutMs === undefined ? {} : { requestTimeout: args.requestTimeoutMs }),
      ...(args.ssl === undefined ? {} : { ssl: args.ssl }),
      ...(args.sasl === undefined ? {} : { sasl: { ...args.sasl } as SASLOptions }),
    });
    this.producer = kafka.producer({
      // Topics are created on purpose (create-topics); a mistyped one must fail, not appear.
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      ...(args.retries === undefined ? {} : { retry: { retries: args.retries } }),
    });
  }

  /** Connects the producer; `write` calls it too. A failed attempt is retried by the next call. */
  connect(): Promise<void> {
    this.connecting ??= this.producer.connect().catch((cause: unknown) => {
      this.connecting = null;
      throw this.produceError(`cannot connect a Kafka producer to ${this.brokers.join(',')}`, [], 0, cause);
    });
    return this.connecting;
  }

  async write(batches: readonly TopicBatch[]): Promise<void> {
    const topicMessages: TopicMessages[] = [];
    let records = 0;
    for (const batch of batches) {
      if (batch.records.length === 0) continue;
      // KafkaRecord is already { key, value }; kafkajs only reads the array.
      topicMessages.push({ topic: batch.topic, messages: batch.records as Message[] });
      records += batch.records.length;
    }
    if (records === 0) return;
    const topics = topicMessages.map((t) => t.topic);
    await this.connect();
    try {
      await this.producer.sendBatch({ topicMessages, acks: -1, compression: this.compression });
    } catch (cause) {
      throw this.produceError(`writing ${records} records to Kafka topics ${topics.join(', ')}`, topics, records, cause);
    }
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    const connecting = this.connecting;
    if (connecting === null) return;
    // A connection that never came up has nothing to close.
    if (await connecting.then(() => true, () => false)) await this.producer.disconnect();
  }

  private produceError(what: string, topics: readonly string[], records: number, cause: unknown): OutputError {
    return new OutputError(`${what} on ${this.brokers.join(',')} failed: ${describeKafkaError(cause)}`, {
      code: 'THEMIS_KAFKA_PRODUCE',
      topics,
      brokers: this.brokers,
      records,
      retriable: isRetriableKafkaError(cause),
      cause,
    });
  }
}

function logKafka(log: Logger, entry: LogEntry): void {
  const { message, ...fields } = entry.log;
  log.warn(`kafkajs: ${message}`, { namespace: entry.namespace, ...fields });
}
