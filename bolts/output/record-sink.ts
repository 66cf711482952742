import type { KafkaRecord } from './format.js';

/**
 * Where the output bolts put their records: JSON-lines files in the embedded default, Kafka
 * topics in production. `write` resolves only once every record is durable (file written,
 * broker acknowledged), so the bolt can ack its inputs then, and fail them for replay otherwise.
 */
export interface TopicBatch {
  /** Logical output name; also the Kafka topic or the file's base name. */
  readonly topic: string;
  readonly records: readonly KafkaRecord[];
}

export interface RecordSink {
  write(batches: readonly TopicBatch[]): Promise<void>;
  close(): Promise<void>;
}
