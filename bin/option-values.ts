/**
 * Option values several commands share (themis-ingest, themis-collect, themis-topology): each
 * check adds one line per problem, naming the option, the value and what it must be.
 */

/** Digits only (blanks around them allowed); undefined otherwise. */
export function parseWholeNumber(text: string): number | undefined {
  return /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
}

/**
 * `--first-id`: nfdump records and exported NetFlow carry no flow id, so ids are assigned in order
 * from this one (0 is no flow id: parse-flow refuses it). The default is the start time in epoch
 * milliseconds × 1000 (about 1.8e15, safe up to the year 2255): a run uses 1000 ids per millisecond
 * it has been running, so runs one after another never collide as long as they stay under a
 * million flows per second.
 */
export function parseFirstId(text: string | undefined, nowMs: number, problems: string[]): number | undefined {
  const firstId = text === undefined ? Math.floor(nowMs) * 1000 : parseWholeNumber(text);
  if (firstId === undefined || !Number.isSafeInteger(firstId) || firstId < 1) {
    problems.push(`--first-id (${text}) must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`);
    return undefined;
  }
  return firstId;
}
