/**
 * What a Kafka spout commit says beyond its offset. The committed offset of a partition is its
 * oldest incomplete message, and a flow parked by match-flows stays incomplete for the whole match
 * window (120 s by default): with the offset alone, a crash or a partition moving to another member
 * would replay every message after the oldest parked one, although nearly all of them are done.
 * So each commit also records, in the offset's metadata string, which messages after the committed
 * offset are still incomplete; the next owner of the partition skips the others.
 *
 * Wire format (ASCII, in the OffsetCommit metadata):
 *   `t1 <span> <d0>,<d1>,...` — numbers in base 36. The record describes offsets [C, C + span),
 *   C being the committed offset; the incomplete ones are C + d0, then each next one d_i after the
 *   previous; every other offset in the span is complete. Offsets from C + span on are not
 *   described (read again). A record that does not parse describes nothing: the partition is read
 *   again from C, as without records (at-least-once either way).
 *
 * The broker refuses metadata over `offset.metadata.max.bytes` (4,096 by default), so a record
 * lists at most what fits in METADATA_MAX_CHARS: when more messages are incomplete, the span ends
 * at the first one not listed, and what follows it is read again after a crash.
 */

export const METADATA_MAX_CHARS = 4_000;
const PREFIX = 't1';

/** Offsets [from, from + span) described; `incomplete` ascending, each in that range. */
export interface CommitRecord {
  readonly from: number;
  readonly span: number;
  readonly incomplete: readonly number[];
}

/**
 * Encodes the incomplete offsets (ascending, the first being `from`) of the span [from, end) into
 * at most `maxChars`; the span is cut short at the first offset that no longer fits.
 */
export function encodeCommitRecord(from: number, end: number, incomplete: readonly number[], maxChars = METADATA_MAX_CHARS): string {
  const deltas: string[] = [];
  // Room for the prefix and the span, written last: the span is at most end - from.
  let length = PREFIX.length + 2 + (end - from).toString(36).length;
  let previous = from;
  let spanEnd = end;
  for (const offset of incomplete) {
    const delta = (offset - previous).toString(36);
    if (length + delta.length + 1 > maxChars) {
      spanEnd = offset;
      break;
    }
    deltas.push(delta);
    length += delta.length + 1;
    previous = offset;
  }
  return `${PREFIX} ${(spanEnd - from).toString(36)} ${deltas.join(',')}`;
}

/** The record of a commit at `from`, or null when the metadata is none of ours or malformed. */
export function decodeCommitRecord(from: number, metadata: string | null | undefined): CommitRecord | null {
  if (metadata === null || metadata === undefined || from < 0) return null;
  const parts = metadata.split(' ');
  if (parts.length !== 3 || parts[0] !== PREFIX) return null;
  const span = parseBase36(parts[1]!);
  if (span === null) return null;
  const incomplete: number[] = [];
  let previous = from;
  if (parts[2] !== '') {
    for (const text of parts[2]!.split(',')) {
      const delta = parseBase36(text);
      if (delta === null) return null;
      previous += delta;
      if (previous >= from + span || (incomplete.length > 0 && delta === 0)) return null;
      incomplete.push(previous);
    }
  }
  return { from, span, incomplete };
}

function parseBase36(text: string): number | null {
  if (!/^[0-9a-z]{1,11}$/.test(text)) return null;
  const n = parseInt(text, 36);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Answers, for offsets read in increasing order from the committed one, whether a message is
 * complete by the record (so it is skipped, not emitted again).
 */
export class RecordedCompletions {
  private next = 0;
  private readonly end: number;

  constructor(private readonly record: CommitRecord) {
    this.end = record.from + record.span;
  }

  /** Offsets must be asked in increasing order. */
  isComplete(offset: number): boolean {
    if (offset < this.record.from || offset >= this.end) return false;
    const { incomplete } = this.record;
    while (this.next < incomplete.length && incomplete[this.next]! < offset) this.next++;
    return incomplete[this.next] !== offset;
  }

  /** Every offset the record describes has been passed. */
  isPassed(offset: number): boolean {
    return offset >= this.end;
  }
}
