/**
 * Which of the three flow file formats a file holds, judged from its first bytes, so that a file
 * given as the wrong format gets one error naming the right option instead of a flood of bad
 * records (issue 15). Pure: the caller reads the head (readFileHead).
 *
 * - nfcapd: nfdump's binary file. Its header (nfdump `nffileV2.h`, `fileHeaderV2_t`) starts with
 *   the 16-bit magic 0xA50C and the 16-bit layout version (1: nfdump 1.6, 2: nfdump 1.7), both in
 *   the writer's byte order, which on x86 and ARM is little-endian: `0c a5 02 00` for nfdump 1.7.1.
 * - nfdump JSON (`nfdump -o json`): nfdump 1.7.1 prints one array, `[` on the first line and each
 *   record pretty-printed over several lines (`{` alone on a line); later versions print one record
 *   per line. Either way the records carry nfdump's keys (`"type" : "FLOW"`, `first`, `in_packets`,
 *   `src4_addr` or `src6_addr`), never Themis' (`src_ip`, `start_timestamp_unix_secs`).
 * - JSON lines: one Themis flow (reference §4.2) per line.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export type InputFormat = 'nfcapd' | 'nfdump-json' | 'jsonl';
export const INPUT_FORMATS: readonly InputFormat[] = ['nfcapd', 'nfdump-json', 'jsonl'];

/** `unknown`: empty, or neither JSON nor an nfcapd header; the reader of the format given decides. */
export type DetectedFormat = InputFormat | 'unknown';

/** Bytes read to judge a file: a whole first line of any flow format fits in it. */
export const FORMAT_HEAD_BYTES = 16_384;

const NFCAPD_MAGIC = 0xa50c;
const NFCAPD_LAYOUTS: ReadonlySet<number> = new Set([1, 2]);
/** Keys only nfdump's records have; Themis flows use src_ip/dst_ip and start_timestamp_unix_secs. */
const NFDUMP_KEY = /"(?:src4_addr|dst4_addr|src6_addr|dst6_addr|first|in_packets|in_bytes)"\s*:/;

export function detectInputFormat(head: Uint8Array): DetectedFormat {
  if (head.length >= 4 && (head[0]! | (head[1]! << 8)) === NFCAPD_MAGIC && NFCAPD_LAYOUTS.has(head[2]! | (head[3]! << 8))) {
    return 'nfcapd';
  }
  const text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('utf8').replace(/^\uFEFF/, '');
  const start = text.search(/\S/);
  if (start === -1) return 'unknown';
  const lineEnd = text.indexOf('\n', start);
  const firstLine = text.slice(start, lineEnd === -1 ? undefined : lineEnd).trim();
  // A Themis flow is an object on one line: a file opening an array, or an object that goes on
  // over more lines, is nfdump's pretty-printed output.
  if (firstLine.startsWith('[') || firstLine === '{') return 'nfdump-json';
  if (!firstLine.startsWith('{')) return 'unknown';
  let record: unknown;
  try {
    record = JSON.parse(firstLine);
  } catch {
    // Cut off by the head's size, or a bad line: judge by its keys, and let a bad JSON line go to
    // the ignored output as any other.
    return NFDUMP_KEY.test(firstLine) ? 'nfdump-json' : 'jsonl';
  }
  return isNfdumpRecord(record) ? 'nfdump-json' : 'jsonl';
}

function isNfdumpRecord(record: unknown): boolean {
  if (typeof record !== 'object' || record === null) return false;
  const r = record as Record<string, unknown>;
  return r.type === 'FLOW' || 'src4_addr' in r || 'src6_addr' in r || ('first' in r && !('start_timestamp_unix_secs' in r));
}

const DESCRIPTIONS: Readonly<Record<InputFormat, string>> = {
  nfcapd: 'an nfcapd file',
  'nfdump-json': 'nfdump JSON (nfdump -o json)',
  jsonl: 'JSON lines of Themis flows',
};

const NAMES: Readonly<Record<InputFormat, string>> = {
  nfcapd: 'an nfcapd file',
  'nfdump-json': 'nfdump JSON',
  jsonl: 'JSON lines',
};

/**
 * `this is nfdump JSON (nfdump -o json), not JSON lines` when the file plainly holds another
 * format than the one it was given as; null when it holds that format or cannot be told.
 */
export function formatMismatch(given: InputFormat, detected: DetectedFormat): string | null {
  if (detected === 'unknown' || detected === given) return null;
  return `this is ${DESCRIPTIONS[detected]}, not ${NAMES[given]}`;
}

/** The first `bytes` bytes of a file (fewer when it is shorter). Throws the fs error. */
export function readFileHead(path: string, bytes = FORMAT_HEAD_BYTES): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const got = readSync(fd, buffer, 0, bytes, 0);
    return buffer.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * What a file given as `given` plainly holds instead, with the words for it; null when it holds
 * that format, cannot be told, or cannot be read (the reader then reports why).
 */
export function checkFileFormat(path: string, given: InputFormat): { detected: InputFormat; mismatch: string } | null {
  let head: Buffer;
  try {
    head = readFileHead(path);
  } catch {
    return null;
  }
  const detected = detectInputFormat(head);
  const mismatch = formatMismatch(given, detected);
  return mismatch === null || detected === 'unknown' ? null : { detected, mismatch };
}
