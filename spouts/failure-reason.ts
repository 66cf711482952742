import type { FailCause, FailReason } from '../runtime/index.js';

/**
 * How a spout words the last failure of a flow in its ignored-flows record: the bolt (the stage)
 * and the error that failed it, or the timeout.
 *   error in score-ssh: Cannot read properties of undefined (reading 'x')
 *   error in join-streams          (failed without an error)
 *   timeout
 */
export function describeFailure(reason: FailReason, cause?: FailCause): string {
  if (reason === 'timeout' || cause === undefined) return reason;
  return cause.error.length > 0 ? `${reason} in ${cause.component}: ${cause.error}` : `${reason} in ${cause.component}`;
}
