/**
 * A record that could not be converted into a flow (an nfdump record that does not convert, or a
 * converted flow that parseFlowLine refuses), carried as one line of JSON lines so that it goes
 * through the topology like any other line: `json-to-tuple` sends it to the ignored output with
 * the reason and the origin the converter gave (`<file> record <n>`), and the conversion's spool
 * file stays one plain JSON-lines file that the file spout replays by line.
 *
 *   {"themis_unconverted":{"reason":"missing field first","origin":"nfcapd.201701100735 record 7","record":"{...}"}}
 *
 * parseFlowLine refuses such a line (it has no id), so the check costs nothing on the path of a
 * valid flow. The key is ours: an exporter's flow never has it.
 */

export interface UnconvertedRecord {
  readonly reason: string;
  readonly origin: string;
  /** The record as read (compact JSON when it parsed), for the ignored record's `line`. */
  readonly record: string;
}

const KEY = 'themis_unconverted';
const PREFIX = `{"${KEY}":`;

export function unconvertedLine(record: UnconvertedRecord): string {
  return JSON.stringify({ [KEY]: { reason: record.reason, origin: record.origin, record: record.record } });
}

/** The record a line written by unconvertedLine carries; null for any other line. */
export function readUnconvertedLine(line: string): UnconvertedRecord | null {
  if (!line.startsWith(PREFIX)) return null;
  let value: unknown;
  try {
    value = (JSON.parse(line) as Record<string, unknown>)[KEY];
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { reason, origin, record } = value as Record<string, unknown>;
  if (typeof reason !== 'string' || typeof origin !== 'string' || typeof record !== 'string') return null;
  return { reason, origin, record };
}
