/**
 * Failures that end a themis-ingest run; a bad record or an unreadable input is only reported.
 *
 * THEMIS_INGEST_KAFKA: the broker could not be reached, refused the topic, or failed a batch.
 * THEMIS_INGEST_NO_TOPIC: the topic does not exist (auto-creation is off on our brokers).
 * THEMIS_NFDUMP_MISSING: the nfdump command is not installed or not on PATH.
 */
export type IngestErrorCode = 'THEMIS_INGEST_KAFKA' | 'THEMIS_INGEST_NO_TOPIC' | 'THEMIS_NFDUMP_MISSING';

export class IngestError extends Error {
  readonly code: IngestErrorCode;
  readonly topic: string | undefined;
  /** Whether running the same command again could succeed (broker restarted, leader moved). */
  readonly retriable: boolean;

  constructor(message: string, context: { code: IngestErrorCode; topic?: string; retriable: boolean; cause?: unknown }) {
    super(message, { cause: context.cause });
    this.name = 'IngestError';
    this.code = context.code;
    this.topic = context.topic;
    this.retriable = context.retriable;
  }
}
