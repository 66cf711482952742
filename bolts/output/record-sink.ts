import type { DependencyFault } from '../resilience/dependency-fault.js';
import type { KafkaRecord } from './format.js';

/**
 * Where the output bolts put their records: JSON-lines files in the embedded default, Kafka
 * topics in production. `write` resolves only once every record is durable (file written,
 * broker acknowledged), so the bolt can ack its inputs then; a rejected write is retried by the
 * bolt while `fault` calls it `unavailable`, and narrowed down to the records at fault otherwise.
 */
export interface TopicBatch {
  /** Logical output name; also the Kafka topic or the file's base name. */
  readonly topic: string;
  readonly records: readonly KafkaRecord[];
}

export interface RecordSink {
  /** What the bolt's circuit breaker names when the sink is down: "kafka", "output files". */
  readonly dependency: string;
  /** Whether a rejected write failed for the sink's state or for the records in it. */
  fault(err: unknown): DependencyFault;
  write(batches: readonly TopicBatch[]): Promise<void>;
  close(): Promise<void>;
}
