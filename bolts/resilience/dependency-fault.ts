import { DatabaseError } from 'pg';
import { IntelError } from '../intel/errors.js';
import { OutputError } from '../output/errors.js';
import { PostgresError } from '../postgres/errors.js';
import { innermostKafkaError, kafkaErrorType } from '../../spouts/kafka/kafka-client.js';

/**
 * Whose fault a failed call to a dependency is, which decides its fate (STYLE.md, "Errors"):
 *
 * - `unavailable`: the dependency cannot do the work now (down, unreachable, restarting, full,
 *   misconfigured). Not the data's fault: the bolt keeps its inputs, opens its breaker and retries
 *   with backoff; no flow spends its retry budget.
 * - `bad-data`: the dependency refused these values (a check constraint, a value out of range, a
 *   record too large). The same values would fail again: the bolt finds the inputs at fault and
 *   sends only those to ignored-flows.
 *
 * When in doubt a failure is `unavailable`: holding input until an operator looks costs a stall
 * that the breaker's log line and metric announce, while calling it bad data would throw valid
 * flows away (issue 13).
 */
export type DependencyFault = 'unavailable' | 'bad-data';

/**
 * SQLSTATE classes about the values sent: 22 data exception (out of range, invalid text), 23
 * integrity constraint violation, 54 program limit exceeded (a row or index entry too large).
 * Everything else (08 connection exception, 57P01-57P03 shutdown/starting, 53300 too many
 * connections, 55000 "database is not currently accepting connections", 40001/40P01, and also a
 * missing table or permission) is the database's state, not the flow's.
 */
const DATA_SQLSTATE_CLASSES = new Set(['22', '23', '54']);

export function postgresFault(err: unknown): DependencyFault {
  const cause = err instanceof PostgresError ? (err.cause ?? err) : err;
  if (cause instanceof DatabaseError) return DATA_SQLSTATE_CLASSES.has((cause.code ?? '').slice(0, 2)) ? 'bad-data' : 'unavailable';
  // pg serialises parameters on our side and throws TypeError/RangeError for a value it cannot
  // encode; socket errors, pool timeouts and "Connection terminated" are plain Errors.
  return cause instanceof TypeError || cause instanceof RangeError ? 'bad-data' : 'unavailable';
}

/**
 * Redis (ioredis): connection refused or reset, "Connection is closed", "Command timed out" (a
 * paused or busy server), MaxRetriesPerRequestError, LOADING/BUSY/MASTERDOWN replies: all
 * unavailable. Only WRONGTYPE (a key holding another type) is about the data.
 */
export function redisFault(err: unknown): DependencyFault {
  const cause = err instanceof IntelError ? (err.cause ?? err) : err;
  return cause instanceof Error && cause.message.startsWith('WRONGTYPE') ? 'bad-data' : 'unavailable';
}

/**
 * Broker error types about the records themselves; kafkajs' "not retriable" flag alone is not
 * enough, since it also marks exhausted retries (KafkaJSNumberOfRetriesExceeded) and topics that
 * do not exist or are not authorised, which are the deployment's fault.
 */
const KAFKA_DATA_ERRORS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'INVALID_TIMESTAMP']);

export function kafkaFault(err: unknown): DependencyFault {
  const cause = err instanceof OutputError ? err.cause : err;
  const type = kafkaErrorType(innermostKafkaError(cause));
  return type !== undefined && KAFKA_DATA_ERRORS.has(type) ? 'bad-data' : 'unavailable';
}
