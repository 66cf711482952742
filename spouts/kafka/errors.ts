/**
 * THEMIS_KAFKA_CONNECT: no broker in the list answered.
 * THEMIS_KAFKA_CREATE_TOPIC: a broker answered but refused or failed to create one topic.
 */
export type KafkaAdminErrorCode = 'THEMIS_KAFKA_CONNECT' | 'THEMIS_KAFKA_CREATE_TOPIC';

export interface KafkaAdminErrorContext {
  code: KafkaAdminErrorCode;
  brokers: readonly string[];
  /** The topic being created when the failure happened; absent when no topic was reached yet. */
  topic?: string;
  /** Whether running the same command again could succeed (the broker was down, a leader moved). */
  retriable: boolean;
  cause: unknown;
}

export class KafkaAdminError extends Error {
  readonly code: KafkaAdminErrorCode;
  readonly brokers: readonly string[];
  readonly topic: string | undefined;
  readonly retriable: boolean;

  constructor(message: string, context: KafkaAdminErrorContext) {
    super(message, { cause: context.cause });
    this.name = 'KafkaAdminError';
    this.code = context.code;
    this.brokers = context.brokers;
    this.topic = context.topic;
    this.retriable = context.retriable;
  }
}
