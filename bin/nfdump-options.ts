/**
 * The option that turns nfdump records into flows, shared by `themis-ingest nfdump` and
 * `themis-topology submit --input-format nfcapd|nfdump-json`: each check adds one line per problem.
 * Their ids come from --first-id (option-values.ts), as the collector's do.
 */

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
