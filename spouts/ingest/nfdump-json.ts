/**
 * Turns nfdump's JSON output into our input schema (reference §4.2). Pure: no I/O, no clock.
 *
 * What nfdump 1.7.1 (Debian 12 `nfdump` 1.7.1-2+deb12u1) prints for `nfdump -r <file> -o json`:
 * one JSON array, pretty-printed with tabs, one object per flow record, e.g.
 *
 *   {
 *     "type" : "FLOW", "first" : "2017-01-10T07:39:16.986", "last" : "2017-01-10T07:39:16.991",
 *     "in_packets" : 4, "in_bytes" : 260, "proto" : 6, "tcp_flags" : "...AP.SF",
 *     "src_port" : 40000, "dst_port" : 443, "src_tos" : 40,
 *     "src4_addr" : "192.0.2.10", "dst4_addr" : "198.51.100.7", ... (router, masks, snmp)
 *   }
 *
 * and, when a file holds no flows, the bare words `No matching flows` inside the brackets (not
 * JSON). IPv6 records carry `src6_addr`/`dst6_addr`; ICMP and ICMPv6 records carry `icmp_type`
 * and `icmp_code` instead of `tcp_flags`/`src_port`/`dst_port`; bidirectional records (NSEL,
 * IPFIX biflows) add `out_packets`/`out_bytes`. Later nfdump versions print one object per line
 * instead; JsonObjectSplitter accepts both shapes.
 *
 * Times: `first`/`last` are printed in the local time zone of the nfdump process, to the
 * millisecond, with no zone suffix. runNfdump starts nfdump with TZ=UTC; for an export made
 * elsewhere the caller gives the zone's offset. Seconds are truncated (a flow from 16.986 to
 * 17.004 spans seconds 16 to 17), as the original's import did.
 */

/** One flow in the input schema, ready for JSON.stringify. */
export interface InputFlowRecord {
  id: number;
  start_timestamp_unix_secs: number;
  end_timestamp_unix_secs: number;
  protocol: number;
  src_ip: string;
  dst_ip: string;
  src_port: number;
  dst_port: number;
  packets: number;
  bytes: number;
  /** TCP flags in the 6-character `UAPRSF` form, `.` for unset; `......` when nfdump has none (ICMP). */
  flags: string;
  tos: number;
}

export type NfdumpConversion =
  | { ok: true; flows: InputFlowRecord[] }
  | { ok: false; reason: string };

export interface NfdumpConversionOptions {
  /** Offset of the zone nfdump printed its times in, east of UTC: 0 for TZ=UTC, 60 for CET. */
  utcOffsetMinutes: number;
}

const PROTO_ICMP = 1;
const PROTO_ICMPV6 = 58;
const NO_FLAGS = '......';
const MAX_SHOWN_CHARS = 40;
/** `2017-01-10T07:39:16.986`; the fraction is optional so whole seconds also convert. */
const NFDUMP_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?$/;
/** nfdump 1.7 prints 8 columns, `CEUAPRSF` (CWR, ECE, then the six below); 1.6 printed 6. */
const FLAGS_8 = /^[C.][E.][U.][A.][P.][R.][S.][F.]$/;
const FLAGS_6 = /^[U.][A.][P.][R.][S.][F.]$/;

/**
 * Converts one parsed nfdump record. A unidirectional record gives one flow with id `firstId`; a
 * bidirectional record with reverse traffic gives two, the reverse half (addresses and ports
 * swapped, `out_*` counters) with id `firstId + 1`. nfdump keeps one flag set for both halves
 * of a biflow, so both carry it. The caller advances its id counter by `flows.length`.
 *
 * ICMP type and code go to the ports the way NetFlow exporters send them: source port 0,
 * destination port type * 256 + code (echo request 2048, echo reply 0).
 *
 * ECE and CWR (the two extra columns of nfdump 1.7) are dropped: our `flags` is `UAPRSF`, so an
 * ECN-setup SYN stays a SYN-only flow, as parseFlowLine does with hex flags.
 */
export function convertNfdumpRecord(
  record: unknown,
  firstId: number,
  options: NfdumpConversionOptions,
): NfdumpConversion {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  try {
    return { ok: true, flows: buildFlows(record as Record<string, unknown>, firstId, options) };
  } catch (error) {
    if (error instanceof RecordError) return { ok: false, reason: error.reason };
    throw error;
  }
}

/** Thrown only inside this module and caught by convertNfdumpRecord: keeps the field checks flat. */
class RecordError {
  constructor(readonly reason: string) {}
}

function buildFlows(record: Record<string, unknown>, firstId: number, options: NfdumpConversionOptions): InputFlowRecord[] {
  if (record.type !== undefined && record.type !== 'FLOW') {
    throw new RecordError(`not a flow record (type ${show(record.type)})`);
  }
  const startSecs = epochSecs(record, 'first', options.utcOffsetMinutes);
  const endSecs = epochSecs(record, 'last', options.utcOffsetMinutes);
  if (endSecs < startSecs) throw new RecordError(`last (${show(record.last)}) is before first (${show(record.first)})`);
  const protocol = uint(record, 'proto', 255);
  const { src, dst } = addresses(record);
  const isIcmp = protocol === PROTO_ICMP || protocol === PROTO_ICMPV6;
  const srcPort = isIcmp ? 0 : uint(record, 'src_port', 65_535);
  const dstPort = isIcmp ? uint(record, 'icmp_type', 255) * 256 + uint(record, 'icmp_code', 255) : uint(record, 'dst_port', 65_535);
  const flags = isIcmp ? NO_FLAGS : tcpFlags(record.tcp_flags);
  const tos = record.src_tos === undefined ? 0 : uint(record, 'src_tos', 255);
  const forward: InputFlowRecord = {
    id: firstId,
    start_timestamp_unix_secs: startSecs,
    end_timestamp_unix_secs: endSecs,
    protocol,
    src_ip: src,
    dst_ip: dst,
    src_port: srcPort,
    dst_port: dstPort,
    packets: uint(record, 'in_packets', Number.MAX_SAFE_INTEGER),
    bytes: uint(record, 'in_bytes', Number.MAX_SAFE_INTEGER),
    flags,
    tos,
  };
  const outPackets = record.out_packets === undefined ? 0 : uint(record, 'out_packets', Number.MAX_SAFE_INTEGER);
  const outBytes = record.out_bytes === undefined ? 0 : uint(record, 'out_bytes', Number.MAX_SAFE_INTEGER);
  if (outPackets === 0 && outBytes === 0) return [forward];
  const reverse: InputFlowRecord = {
    ...forward,
    id: firstId + 1,
    src_ip: dst,
    dst_ip: src,
    // A reversed ICMP record has no meaningful type/code for the answer: leave both ports 0.
    src_port: isIcmp ? 0 : dstPort,
    dst_port: isIcmp ? 0 : srcPort,
    packets: outPackets,
    bytes: outBytes,
  };
  return [forward, reverse];
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS)}...` : text;
}

function uint(record: Record<string, unknown>, key: string, max: number): number {
  const value = record[key];
  if (value === undefined) throw new RecordError(`missing field ${key}`);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new RecordError(`${key} must be an integer 0-${max}, got ${show(value)}`);
  }
  return value;
}

/**
 * Per key, the last whole second read (`2017-01-10T07:39:16`, the first 19 characters, already
 * checked) and its epoch milliseconds. Records come roughly in time order, so a stamp often
 * repeats the second of the record before and skips the regular expression and the date checks:
 * convertNfdumpRecord took 2.2-2.5 µs a record without this and 0.6-0.9 µs with it, on 114,928
 * records whose stamps all share one second (best of 7 runs, CPU time, 2 loaded cores).
 */
const lastSecond: Record<'first' | 'last', { text: string; ms: number }> = { first: { text: '', ms: 0 }, last: { text: '', ms: 0 } };
const FRACTION = /^\.\d{1,9}$/;

function epochSecs(record: Record<string, unknown>, key: 'first' | 'last', utcOffsetMinutes: number): number {
  const value = record[key];
  if (value === undefined) throw new RecordError(`missing field ${key}`);
  const cached = lastSecond[key];
  if (typeof value === 'string' && cached.text.length > 0 && value.startsWith(cached.text) && (value.length === 19 || FRACTION.test(value.slice(19)))) {
    const secs = cached.ms / 1000 - utcOffsetMinutes * 60;
    if (secs < 0) throw new RecordError(`${key} is before 1970, got ${show(value)}`);
    return secs;
  }
  const match = typeof value === 'string' ? NFDUMP_TIME.exec(value) : null;
  if (match === null) throw new RecordError(`${key} must be a time like "2017-01-10T07:39:16.986", got ${show(value)}`);
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 2017-02-30 over to March; a round trip catches impossible dates.
  const check = new Date(ms);
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1 || hour > 23 || minute > 59 || second > 59) {
    throw new RecordError(`${key} is not a valid time, got ${show(value)}`);
  }
  cached.text = (value as string).slice(0, 19);
  cached.ms = ms;
  const secs = ms / 1000 - utcOffsetMinutes * 60;
  if (secs < 0) throw new RecordError(`${key} is before 1970, got ${show(value)}`);
  return secs;
}

function addresses(record: Record<string, unknown>): { src: string; dst: string } {
  const isV4 = record.src4_addr !== undefined || record.dst4_addr !== undefined;
  const isV6 = record.src6_addr !== undefined || record.dst6_addr !== undefined;
  if (isV4 && isV6) throw new RecordError('record has both IPv4 and IPv6 addresses');
  if (!isV4 && !isV6) throw new RecordError('missing field src4_addr or src6_addr');
  const [srcKey, dstKey] = isV4 ? ['src4_addr', 'dst4_addr'] : ['src6_addr', 'dst6_addr'];
  return { src: addressText(record, srcKey), dst: addressText(record, dstKey) };
}

function addressText(record: Record<string, unknown>, key: string): string {
  const value = record[key];
  if (value === undefined) throw new RecordError(`missing field ${key}`);
  // The address itself is checked by parseFlowLine, which the ingest runs on every converted flow.
  if (typeof value !== 'string' || value.length === 0) throw new RecordError(`${key} must be an address string, got ${show(value)}`);
  return value;
}

/** nfdump's flag string (8 or 6 columns) or number as `UAPRSF`; absent means none. */
function tcpFlags(value: unknown): string {
  if (value === undefined) return NO_FLAGS;
  if (typeof value === 'string') {
    if (FLAGS_8.test(value)) return value.slice(2);
    if (FLAGS_6.test(value)) return value;
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 255) {
    let text = '';
    for (let bit = 5; bit >= 0; bit--) text += value & (1 << bit) ? 'UAPRSF'[5 - bit] : '.';
    return text;
  }
  throw new RecordError(`tcp_flags must be like "...AP.SF" (CEUAPRSF) or ".AP.SF" (UAPRSF), got ${show(value)}`);
}

/**
 * Splits a stream of text into the top-level JSON objects in it, whether they sit in one array
 * (nfdump 1.7.1 `-o json`), one per line, or pretty-printed across lines. Brackets, commas and
 * whitespace between objects are skipped; any other text between objects (nfdump prints
 * `No matching flows` inside the array of an empty file) is returned line by line as `stray`,
 * for the caller to report. Objects are returned as text; parsing them is the caller's choice.
 *
 * Cost: one pass over each character, keeping only the unfinished object between chunks.
 */
export class JsonObjectSplitter {
  private depth = 0;
  private isInString = false;
  private isEscaped = false;
  /** Text of the object being read when a chunk ends inside it. */
  private pending = '';
  private stray = '';

  push(chunk: string): { objects: string[]; stray: string[] } {
    const objects: string[] = [];
    const strayLines: string[] = [];
    const n = chunk.length;
    // State in locals for the loop (several times faster than fields), written back at the end.
    let depth = this.depth;
    let isInString = this.isInString;
    let isEscaped = this.isEscaped;
    let objectStart = depth > 0 ? 0 : -1;
    // Index of the next backslash at or after i, found once per backslash rather than per string.
    let nextBackslash = -1;
    for (let i = 0; i < n; i++) {
      if (isInString) {
        // Jump to the end of the string: the next quote not preceded by an escaping backslash.
        if (isEscaped) {
          isEscaped = false;
          continue;
        }
        if (nextBackslash !== n && nextBackslash < i) nextBackslash = indexOrEnd(chunk, 0x5c, i);
        const quote = indexOrEnd(chunk, 0x22, i);
        if (nextBackslash < quote) {
          i = nextBackslash;
          isEscaped = true;
        } else {
          i = quote;
          isInString = quote === n;
        }
        continue;
      }
      const c = chunk.charCodeAt(i);
      if (depth === 0) {
        if (c === 0x7b /* { */) {
          this.flushStray(strayLines);
          depth = 1;
          objectStart = i;
        } else if (c === 0x0a /* \n */) {
          this.flushStray(strayLines);
        } else if (c !== 0x5b && c !== 0x5d && c !== 0x2c) {
          // Anything but [ ] , outside an object; flushStray trims the whitespace.
          this.stray += chunk[i];
        }
      } else if (c === 0x22 /* " */) {
        isInString = true;
      } else if (c === 0x7b || c === 0x5b) {
        depth++;
      } else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) {
          objects.push(this.pending + chunk.slice(objectStart, i + 1));
          this.pending = '';
          objectStart = -1;
        }
      }
    }
    if (depth > 0) this.pending += chunk.slice(objectStart);
    this.depth = depth;
    this.isInString = isInString;
    this.isEscaped = isEscaped;
    return { objects, stray: strayLines };
  }

  /** Call at end of input: returns the stray text of a last line and whether an object was cut off. */
  end(): { stray: string[]; isTruncated: boolean } {
    const strayLines: string[] = [];
    this.flushStray(strayLines);
    return { stray: strayLines, isTruncated: this.depth > 0 };
  }

  private flushStray(into: string[]): void {
    const text = this.stray.trim();
    if (text.length > 0) into.push(text);
    this.stray = '';
  }
}

/** Position of the first `code` at or after `from`, or the string's length when there is none. */
function indexOrEnd(text: string, code: number, from: number): number {
  const at = text.indexOf(String.fromCharCode(code), from);
  return at === -1 ? text.length : at;
}

/** What nfdump prints, between the brackets, for a file or filter with no flows. */
export const NFDUMP_NO_FLOWS = 'No matching flows';
