import { DatabaseError } from 'pg';

/**
 * Errors of the PostgreSQL layer (production mode).
 *
 * THEMIS_PG: a query or connection failed. `retriable` is true when the connection failed or the
 *   server asked us to try again (shutdown, too many connections, serialization failure, deadlock);
 *   false when the same statement would fail again. The output bolt decides by
 *   bolts/resilience/dependency-fault.ts instead: bad data (SQLSTATE 22, 23, 54) goes to
 *   ignored-flows, anything else holds the batch under the circuit breaker until PostgreSQL takes it.
 * THEMIS_PG_MIGRATION: the migration files and the database disagree (an applied file was
 *   edited, a file name is not numbered); an operator has to act, a retry cannot help.
 * THEMIS_PG_CONFIG: a setting handed to this layer is unusable (schema name, refresh interval).
 */
export type PostgresErrorCode = 'THEMIS_PG' | 'THEMIS_PG_MIGRATION' | 'THEMIS_PG_CONFIG';

export interface PostgresErrorContext {
  readonly code: PostgresErrorCode;
  /** What was being done, for the operator: "load known host services", "write 500 scored flows". */
  readonly operation: string;
  /** host:port/database (never the user or password). */
  readonly target?: string;
  readonly retriable: boolean;
  /** The migration file concerned. */
  readonly file?: string;
  readonly cause?: unknown;
}

export class PostgresError extends Error {
  readonly code: PostgresErrorCode;
  readonly operation: string;
  readonly target: string | undefined;
  readonly retriable: boolean;
  readonly file: string | undefined;
  /** The server's SQLSTATE (e.g. 23514 check_violation), when the server answered. */
  readonly sqlState: string | undefined;

  constructor(message: string, context: PostgresErrorContext) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = 'PostgresError';
    this.code = context.code;
    this.operation = context.operation;
    this.target = context.target;
    this.retriable = context.retriable;
    this.file = context.file;
    this.sqlState = context.cause instanceof DatabaseError ? context.cause.code : undefined;
  }
}

/** Node socket errors meaning "the server could not be reached or went away". */
const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/**
 * SQLSTATEs after which the same work may succeed later: connection exceptions (class 08), the
 * server shutting down or starting (57P01-57P03), too many connections (53300), serialization
 * failure (40001), deadlock (40P01), lock not available (55P03).
 */
const RETRIABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01', '55P03']);

/** pg's own messages for a connection that failed or was lost (they carry no code). */
const CONNECTION_MESSAGE = /connection terminated|timeout expired|timeout exceeded|not queryable|connection error/i;

/** Whether a replay could help: the connection failed, or the server said "try again". */
export function isRetriable(err: unknown): boolean {
  if (err instanceof DatabaseError) {
    const state = err.code ?? '';
    return state.startsWith('08') || RETRIABLE_SQLSTATES.has(state);
  }
  if (!(err instanceof Error)) return false;
  const errno = (err as NodeJS.ErrnoException).code;
  if (errno !== undefined && CONNECTION_ERRNOS.has(errno)) return true;
  return CONNECTION_MESSAGE.test(err.message);
}

/**
 * The cause in one line. Node reports a refused dual-stack connect as an AggregateError with an
 * empty message, so the errno stands in for it.
 */
export function describeCause(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const errno = (err as NodeJS.ErrnoException).code;
  if (err.message !== '') return err instanceof DatabaseError && errno !== undefined ? `${err.message} (SQLSTATE ${errno})` : err.message;
  return errno ?? err.name;
}

/** Wraps a failure of `operation` against `target` as THEMIS_PG, classifying retriability. */
export function pgError(operation: string, target: string, cause: unknown): PostgresError {
  return new PostgresError(`${operation} failed on PostgreSQL ${target}: ${describeCause(cause)}`, {
    code: 'THEMIS_PG',
    operation,
    target,
    retriable: isRetriable(cause),
    cause,
  });
}
