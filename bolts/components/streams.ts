/** Component ids and stream names of the Themis topology (reference §3.1-3.2). */

export const STREAM_INTERESTING = 'INTERESTING STREAM';
export const STREAM_DISCARD = 'DISCARD STREAM';
export const STREAM_ALL = 'INTERESTING STREAM - ALL';
export const STREAM_TCP = 'INTERESTING STREAM - TCP ONLY';
export const STREAM_UDP = 'INTERESTING STREAM - UDP ONLY';
export const STREAM_BATCH = 'BATCH PROCESSING STREAM';
/** Lines that are not a valid flow (ours: the original crashed or made an id-0 flow, §15 item 21). */
export const STREAM_INVALID = 'INVALID STREAM';
/** Spout stream of inputs that failed too many times (ours). */
export const STREAM_IGNORED = 'ignored';
export const STREAM_DEFAULT = 'default';

/** The evidence stage's alert records (ours, issue 14). */
export const STREAM_ALERTS = 'alerts';
