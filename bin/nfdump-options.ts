/**
 * The options that turn nfdump records into flows, shared by `themis-ingest nfdump` and
 * `themis-topology submit --input-format nfcapd|nfdump-json`: each check adds one line per problem.
 */

export function parseWholeNumber(text: string): number | undefined {
  return /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
}

/**
 * `--first-id`: nfdump records carry no flow id, so ids are assigned in order from this one. The
 * default is the start time in epoch milliseconds × 1000 (about 1.8e15, safe up to the year 2255):
 * a run uses 1000 ids per millisecond it has been running, so runs one after another never collide
 * as long as they stay under a million flows per second.
 */
export function parseFirstId(text: string | undefined, nowMs: number, problems: string[]): number | undefined {
  const firstId = text === undefined ? Math.floor(nowMs) * 1000 : parseWholeNumber(text);
  if (firstId === undefined || !Number.isSafeInteger(firstId) || firstId < 1) {
    problems.push(`--first-id (${text}) must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`);
    return undefined;
  }
  return firstId;
}

/** `--nfdump-utc-offset`: `+hh:mm` / `-hh:mm` (also `Z`) as minutes east of UTC; default 0. */
export function parseUtcOffset(text: string | undefined, problems: string[]): number | undefined {
  if (text === undefined || text === 'Z') return 0;
  const match = /^([+-])(\d{2}):(\d{2})$/.exec(text);
  if (match === null || Number(match[2]) > 14 || Number(match[3]) > 59) {
    problems.push(`--nfdump-utc-offset (${text}) must be +hh:mm or -hh:mm, e.g. +01:00`);
    return undefined;
  }
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}
