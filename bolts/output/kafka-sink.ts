import { CompressionTypes, Kafka, logLevel, type LogEntry, type Message, type Producer, type SASLOptions, type TopicMessages } from '../../spouts/kafka/kafkajs.js';
import type { Logger } from '../../runtime/index.js';
import { describeKafkaError, isRetriableKafkaError, type KafkaSasl, type KafkaTls } from '../../spouts/kafka/kafka-client.js';
import { OutputError } from './errors.js';
import { themisProducer } from '../../spouts/kafka/producer.js';
import type { RecordSink, TopicBatch } from './record-sink.js';
import { kafkaFault, type DependencyFault } from '../resilience/dependency-fault.js';

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
  /** A request goes out at once when this many records wait (default 4,000)... */
  readonly maxRequestRecords?: number;
  /** ...else this many milliseconds after its first write (default 5; 0: at the end of the turn). */
  readonly lingerMs?: number;
}

const DEFAULT_MAX_REQUEST_RECORDS = 4_000;
const DEFAULT_LINGER_MS = 5;

/** The records of the next request, by topic, and the writes waiting on it. */
interface PendingRequest {
  readonly byTopic: Map<string, Message[]>;
  records: number;
  readonly waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
}

/**
 * Writes record batches to Kafka topics through one producer. Writes are gathered into requests
 * (`sendBatch` over every topic, acks=-1), so a write resolves only once the broker has confirmed
 * every record (all in-sync replicas); the output bolt acks its inputs after that, and retries a
 * rejected write (see `fault`). Records keep their keys (the flow id), so one flow's records share a partition.
 */
export class KafkaSink implements RecordSink {
  readonly dependency = 'kafka';
  private readonly producer: Producer;
  private readonly brokers: readonly string[];
  private readonly compression: CompressionTypes;
  private connecting: Promise<void> | null = null;
  private isClosed = false;
  /** The records of the next request, and the writes waiting on it. */
  private next: PendingRequest | null = null;
  private sendScheduled = false;
  private readonly maxRequestRecords: number;
  private readonly lingerMs: number;

  /**
   * `log` receives kafkajs' own error logs as warnings (they repeat what the rejected write says);
   * without it kafkajs prints them to the console.
   */
  constructor(args: KafkaSinkArgs, log?: Logger) {
    this.brokers = [...args.brokers];
    this.maxRequestRecords = args.maxRequestRecords ?? DEFAULT_MAX_REQUEST_RECORDS;
    this.lingerMs = args.lingerMs ?? DEFAULT_LINGER_MS;
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
    // Topics are created on purpose (create-topics): a mistyped one fails rather than appears.
    this.producer = themisProducer(kafka, args.retries === undefined ? {} : { retry: { retries: args.retries } });
  }

  /** Connects the producer; `write` calls it too. A failed attempt is retried by the next call. */
  connect(): Promise<void> {
    this.connecting ??= this.producer.connect().catch((cause: unknown) => {
      this.connecting = null;
      throw this.produceError(`cannot connect a Kafka producer to ${this.brokers.join(',')}`, [], 0, cause);
    });
    return this.connecting;
  }

  /**
   * Queues the records for the next request and resolves once the broker has confirmed them. The
   * writes of `lingerMs` (every output bolt of the thread shares this sink) go out as one request,
   * or sooner once `maxRequestRecords` are waiting, as Kafka's own producer does with linger.ms:
   * a record costs less CPU in a big request (`npm run bench:kafka-produce`: 7.6 µs at 1,000
   * records a request against 10.5 µs at 100, one request in flight). A failed request fails
   * every write it carried.
   */
  write(batches: readonly TopicBatch[]): Promise<void> {
    let records = 0;
    for (const batch of batches) records += batch.records.length;
    if (records === 0) return Promise.resolve();
    const next = (this.next ??= { byTopic: new Map<string, Message[]>(), records: 0, waiters: [] } satisfies PendingRequest);
    for (const batch of batches) {
      if (batch.records.length === 0) continue;
      const messages = next.byTopic.get(batch.topic);
      // KafkaRecord is already { key, value }; kafkajs only reads the array.
      if (messages === undefined) next.byTopic.set(batch.topic, batch.records.slice() as Message[]);
      else for (const r of batch.records) messages.push(r as Message);
    }
    next.records += records;
    const done = new Promise<void>((resolve, reject) => next.waiters.push({ resolve, reject }));
    if (next.records >= this.maxRequestRecords) this.sendNext();
    else if (!this.sendScheduled) {
      this.sendScheduled = true;
      const send = () => {
        this.sendScheduled = false;
        this.sendNext();
      };
      if (this.lingerMs > 0) setTimeout(send, this.lingerMs);
      else setImmediate(send);
    }
    return done;
  }

  private sendNext(): void {
    const request = this.next;
    if (request === null) return;
    this.next = null;
    const topicMessages: TopicMessages[] = [...request.byTopic].map(([topic, messages]) => ({ topic, messages }));
    const topics = [...request.byTopic.keys()];
    this.connect()
      .then(() => this.producer.sendBatch({ topicMessages, acks: -1, compression: this.compression }))
      .then(
        () => {
          for (const w of request.waiters) w.resolve();
        },
        (cause: unknown) => {
          const err = cause instanceof OutputError ? cause : this.produceError(`writing ${request.records} records to Kafka topics ${topics.join(', ')}`, topics, request.records, cause);
          for (const w of request.waiters) w.reject(err);
        },
      );
  }

  fault(err: unknown): DependencyFault {
    return kafkaFault(err);
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
