import type { Flow, Tag } from '../flow.js';
import { tagName, totals } from '../rules/tags.js';

/**
 * The Kafka wire formats of reference §9, built as strings field by field: key order is fixed (the
 * order in which §9 lists the keys), nothing is reflected over, and only scalar strings go through
 * JSON.stringify, for their escaping. Every record is keyed by the decimal flow id, as the original.
 *
 * Our additions come after the original keys, so consumers of the original shape are unaffected.
 */

export interface KafkaRecord {
  /** Decimal flow id; null only for an ignored input line whose id is unknown. */
  readonly key: string | null;
  readonly value: string;
}

export const DEFAULT_SCAN_MAX_PACKETS = 2;

const TCP = 6;

// The one-entry cache of eventTimeStr: consecutive flows mostly share their start second.
let lastSecs = NaN;
let lastText: string | null = null;

/**
 * `start_timestamp_unix_secs` as Java's `yyyy-MM-dd'T'HH:mm:ss.S'Z'` in UTC (§9.2): the `S` is the
 * millisecond count unpadded, hence the single `0` for whole seconds: `2017-02-11T17:38:27.0Z`.
 * null when the time is not representable (the parser should have refused such a flow).
 */
export function eventTimeStr(startSecs: number): string | null {
  if (startSecs === lastSecs) return lastText;
  const date = new Date(startSecs * 1000);
  let text: string | null = null;
  if (!Number.isNaN(date.getTime())) {
    text =
      `${String(date.getUTCFullYear()).padStart(4, '0')}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}` +
      `T${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}.${date.getUTCMilliseconds()}Z`;
  }
  lastSecs = startSecs;
  lastText = text;
  return text;
}

/**
 * `ELKScoredFlow` (§9.2), then our additions: `pair_flow_id` (null when unmatched), `flags_recv`
 * (the reverse direction's flags, null when unmatched), `initiator` (`src`/`dst`), `tags`
 * (`CATEGORY-CODE` strings) and the geolocation the original computed but never output (§15 item
 * 44). goodness/badness are computed from the tag set.
 */
export function scoredFlowRecord(flow: Flow, runs: HeadRuns = headRuns(flow)): KafkaRecord {
  const { goodness, badness } = totals(flow.tags);
  let tags = '';
  for (let i = 0; i < flow.tags.length; i++) tags += (i === 0 ? '' : ',') + JSON.stringify(tagName(flow.tags[i]!));
  const value =
    `${commonHead(flow, '"scored_flow"', true, runs)},"goodness":${goodness},"badness":${badness}` +
    `,"pair_flow_id":${numOrNull(flow.pairId)},"flags_recv":${strOrNull(flow.flagsRecv)}` +
    `,"initiator":${JSON.stringify(flow.initiator)},"tags":[${tags}]` +
    `,"src_country_code":${strOrNull(flow.srcCountryCode)},"dst_country_code":${strOrNull(flow.dstCountryCode)}` +
    `,"src_country":${strOrNull(flow.srcCountry)},"dst_country":${strOrNull(flow.dstCountry)}` +
    `,"src_city":${strOrNull(flow.srcCity)},"dst_city":${strOrNull(flow.dstCity)}` +
    `,"src_latitude":${numOrNull(flow.srcLatitude)},"src_longitude":${numOrNull(flow.srcLongitude)}` +
    `,"dst_latitude":${numOrNull(flow.dstLatitude)},"dst_longitude":${numOrNull(flow.dstLongitude)}}`;
  return { key: String(flow.id), value };
}

/**
 * `ELKScoredFlowDetail` (§9.2): one record per tag, bad tags first, then good ones, each in tag
 * order. The summary's keys without `end_timestamp_unix_secs` and totals, then the tag's score in
 * the slot of its polarity (the other slot 0 / null), in the order the §9.2 table lists them.
 * A caller that also writes the flow's summary passes the same `runs` to both.
 */
export function scoredFlowDetailRecords(flow: Flow, runs: HeadRuns = headRuns(flow)): KafkaRecord[] {
  if (flow.tags.length === 0) return [];
  const key = String(flow.id);
  const head = commonHead(flow, '"scored_flow_detail"', false, runs);
  const out: KafkaRecord[] = [];
  for (const tag of flow.tags) if (tag.isBad) out.push({ key, value: detailValue(head, tag) });
  for (const tag of flow.tags) if (!tag.isBad) out.push({ key, value: detailValue(head, tag) });
  return out;
}

function detailValue(head: string, tag: Tag): string {
  const name = JSON.stringify(tagName(tag));
  return tag.isBad
    ? `${head},"bad_score":${num(tag.score)},"bad_score_tag":${name},"good_score":0,"good_score_tag":null}`
    : `${head},"bad_score":0,"bad_score_tag":null,"good_score":${num(tag.score)},"good_score_tag":${name}}`;
}

/**
 * `ScanSuspect` records (§4.6, §5.19, §9.3): VERTICAL, HORIZONTAL, DISTRIBUTED, or none.
 *
 * Fixes of §15 items 3-4: the scanner is the remote side (dst when src is local, else src, as the
 * original), the target port is the LOCAL side's port whichever way round the record is, and
 * packets/bytes are oriented so that "sent" is the scanner's; the `<= maxPackets` test reads the
 * scanner's packets.
 *
 * Decision: a flow is a candidate only when the remote side initiated it. The original also
 * flagged an unanswered outbound flow (local source) whose remote side sent nothing at all; with
 * the scanner's packets counted that would be a "scan" of zero packets by a host that only
 * answered or stayed silent.
 */
export function scanCandidateRecords(flow: Flow, maxPackets: number = DEFAULT_SCAN_MAX_PACKETS): KafkaRecord[] {
  if (flow.protocol !== TCP) return [];
  const scannerIsDst = flow.srcIsLocal;
  if (flow.initiator !== (scannerIsDst ? 'dst' : 'src')) return [];
  const scannerPackets = scannerIsDst ? flow.packetsRecv : flow.packetsSent;
  if (scannerPackets > maxPackets) return [];

  const scanner = scannerIsDst ? flow.dstIp.text : flow.srcIp.text;
  const target = scannerIsDst ? flow.srcIp.text : flow.dstIp.text;
  const port = scannerIsDst ? flow.srcPort : flow.dstPort;
  const tail =
    `,"event_time_str":${strOrNull(eventTimeStr(flow.startSecs))},"start_timestamp_unix_secs":${num(flow.startSecs)}` +
    `,"src_ip":${JSON.stringify(scanner)},"dst_ip":${JSON.stringify(target)},"dst_port":${num(port)}` +
    `,"packets_sent":${num(scannerPackets)},"bytes_sent":${num(scannerIsDst ? flow.bytesRecv : flow.bytesSent)}` +
    `,"packets_recv":${num(scannerIsDst ? flow.packetsSent : flow.packetsRecv)}` +
    `,"bytes_recv":${num(scannerIsDst ? flow.bytesSent : flow.bytesRecv)}}`;
  const id = String(flow.id);
  // IPv6 addresses are bracketed in keys, so the `:` before the port stays unambiguous.
  const k = (ipText: string) => (ipText.includes(':') ? `[${ipText}]` : ipText);
  const record = (suspectKey: string, type: string): KafkaRecord => ({
    key: id,
    value: `{"id":${id},"key":${JSON.stringify(suspectKey)},"type":"${type}"${tail}`,
  });
  return [
    record(`scan-candidate-vertical-${k(scanner)}:${k(target)}`, 'VERTICAL'),
    record(`scan-candidate-horizontal-${k(scanner)}:${port}`, 'HORIZONTAL'),
    record(`scan-candidate-botnet-${port}`, 'DISTRIBUTED'),
  ];
}

/** An input the topology did not score: a line that did not parse, or a flow the discard stage dropped. */
export type IgnoredFlow =
  | { readonly reason: string; readonly line: string; readonly id?: number | null; readonly origin?: string; readonly stage?: 'parse' | 'retries' }
  | { readonly reason: string; readonly flow: Flow; readonly stage?: 'discard' | 'persist' | 'output' };

/**
 * The `ignored-flows` record (the topic of §9.1, which the original never wired, §5.23), so that
 * nothing is dropped unseen:
 * - stage `parse`: `{"type":"ignored_flow","stage":"parse","reason","flow_id","line","origin"}`, with
 *   the raw line, so an input we wrongly refused can be replayed; `flow_id` null when unknown;
 *   `origin` (where the line came from: `file:line` or `topic/partition@offset`) when known;
 * - stage `retries`: the same fields, for an input that failed every retry (`--max-retries`);
 * - stage `discard`: the §9.2 summary keys of the flow (through `flow_direction`, type
 *   `ignored_flow`), then `stage` and `reason`;
 * - stage `persist` or `output`: the same keys, for a scored flow that PostgreSQL (persist) or the
 *   output topic (output) refused as bad data; `reason` is the error.
 */
export function ignoredFlowRecord(ignored: IgnoredFlow): KafkaRecord {
  if ('flow' in ignored) {
    const flow = ignored.flow;
    return {
      key: String(flow.id),
      value: `${commonHead(flow, '"ignored_flow"', true, headRuns(flow))},"stage":"${ignored.stage ?? 'discard'}","reason":${JSON.stringify(ignored.reason)}}`,
    };
  }
  const id = ignored.id ?? null;
  return {
    key: id === null ? null : String(id),
    value:
      `{"type":"ignored_flow","stage":"${ignored.stage ?? 'parse'}","reason":${JSON.stringify(ignored.reason)}` +
      `,"flow_id":${numOrNull(id)},"line":${JSON.stringify(ignored.line)}` +
      (ignored.origin === undefined ? '}' : `,"origin":${JSON.stringify(ignored.origin)}}`),
  };
}

/**
 * The §9.2 key runs that a flow's summary, detail and ignored records share: everything from
 * `event_time_str` to `flow_direction` but `end_timestamp_unix_secs`, which only some of them have.
 */
export interface HeadRuns {
  readonly before: string;
  readonly after: string;
}

export function headRuns(flow: Flow): HeadRuns {
  return {
    before:
      `,"event_time_str":${strOrNull(eventTimeStr(flow.startSecs))}` +
      `,"flow_id":${num(flow.id)},"matched":${flow.matched},"start_timestamp_unix_secs":${num(flow.startSecs)}`,
    after:
      `,"protocol":${num(flow.protocol)},"src_ip":${JSON.stringify(flow.srcIp.text)},"dst_ip":${JSON.stringify(flow.dstIp.text)}` +
      `,"src_port":${num(flow.srcPort)},"dst_port":${num(flow.dstPort)}` +
      `,"packets_sent":${num(flow.packetsSent)},"bytes_sent":${num(flow.bytesSent)}` +
      `,"packets_recv":${num(flow.packetsRecv)},"bytes_recv":${num(flow.bytesRecv)}` +
      `,"flags":${strOrNull(flow.flags)},"src_as":${num(flow.srcAs)},"dst_as":${num(flow.dstAs)}` +
      `,"flow_direction":${strOrNull(flow.direction)}`,
  };
}

/** `{` and the §9.2 keys shared by summary and detail, `timestamp` through `flow_direction`. */
function commonHead(flow: Flow, typeJson: string, withEnd: boolean, runs: HeadRuns): string {
  return (
    `{"timestamp":${num(flow.startSecs)},"type":${typeJson}${runs.before}` +
    (withEnd ? `,"end_timestamp_unix_secs":${num(flow.endSecs)}` : '') +
    runs.after
  );
}

/** JSON has no NaN or Infinity; such a value is written as null rather than as invalid JSON. */
function num(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

function numOrNull(n: number | null): string {
  return n === null ? 'null' : num(n);
}

function strOrNull(s: string | null): string {
  return s === null ? 'null' : JSON.stringify(s);
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
