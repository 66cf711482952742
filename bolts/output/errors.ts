/**
 * Errors of the output sinks.
 *
 * THEMIS_KAFKA_PRODUCE: the broker did not confirm a write (unreachable, a topic missing, a
 *   record refused). The output bolt keeps the batch and retries it with backoff while the broker
 *   is unavailable (its breaker open); records the broker refuses as bad data (too large) go to
 *   ignored-flows with stage `output` (bolts/resilience/dependency-fault.ts decides which is which).
 */
export type OutputErrorCode = 'THEMIS_KAFKA_PRODUCE';

export interface OutputErrorContext {
  readonly code: OutputErrorCode;
  /** The topics of the failed write. */
  readonly topics: readonly string[];
  /** Where the records were going: the broker list. */
  readonly brokers: readonly string[];
  /** Records in the failed write. */
  readonly records: number;
  /** Whether writing the same records again could succeed. */
  readonly retriable: boolean;
  readonly cause: unknown;
}

export class OutputError extends Error {
  readonly code: OutputErrorCode;
  readonly topics: readonly string[];
  readonly brokers: readonly string[];
  readonly records: number;
  readonly retriable: boolean;

  constructor(message: string, context: OutputErrorContext) {
    super(message, { cause: context.cause });
    this.name = 'OutputError';
    this.code = context.code;
    this.topics = context.topics;
    this.brokers = context.brokers;
    this.records = context.records;
    this.retriable = context.retriable;
  }
}
