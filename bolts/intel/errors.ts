/**
 * Errors of the threat-intel layer (IntelMQ entries in Redis or in a file).
 *
 * THEMIS_REDIS: a Redis command or connection failed. Always retriable: the scoring bolt keeps the
 *   batch's tuples and asks again with backoff until Redis answers (its circuit breaker open).
 * THEMIS_INTEL_FILE: the intel file could not be read (missing, unreadable); start-up stops.
 * THEMIS_INTEL_CONFIG: a setting handed to this layer is unusable (Redis URL, db, cache size).
 */
export type IntelErrorCode = 'THEMIS_REDIS' | 'THEMIS_INTEL_FILE' | 'THEMIS_INTEL_CONFIG';

export interface IntelErrorContext {
  readonly code: IntelErrorCode;
  /** What was being done: "look up 812 IPs", "read intel file". */
  readonly operation: string;
  /** host:port/db of the Redis server (never the password). */
  readonly target?: string;
  readonly file?: string;
  readonly retriable: boolean;
  readonly cause?: unknown;
}

export class IntelError extends Error {
  readonly code: IntelErrorCode;
  readonly operation: string;
  readonly target: string | undefined;
  readonly file: string | undefined;
  readonly retriable: boolean;

  constructor(message: string, context: IntelErrorContext) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = 'IntelError';
    this.code = context.code;
    this.operation = context.operation;
    this.target = context.target;
    this.file = context.file;
    this.retriable = context.retriable;
  }
}

/** The cause in one line; a refused dual-stack connect is an AggregateError with an empty message. */
export function describeCause(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.message !== '') return err.message;
  return (err as NodeJS.ErrnoException).code ?? err.name;
}

export function redisError(operation: string, target: string, cause: unknown): IntelError {
  return new IntelError(`${operation} failed on Redis ${target}: ${describeCause(cause)}`, {
    code: 'THEMIS_REDIS',
    operation,
    target,
    retriable: true,
    cause,
  });
}
