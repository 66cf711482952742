import type { Flow } from '../flow.js';
import { parseIp, type IpAddress } from '../lookup/ip-address.js';

/**
 * Input wire format (reference §4.2): one JSON object per Kafka message or file line, e.g.
 *
 *   {"id":20,"protocol":6,"src_ip":"192.0.2.198","dst_ip":"187.121.128.84","src_port":23,
 *    "dst_port":37906,"bytes":340,"packets":6,"flags":".A.RS.","tos":0,
 *    "start_timestamp_unix_secs":1484033957,"end_timestamp_unix_secs":1484033957}
 *
 * Required: id, start/end_timestamp_unix_secs, protocol, src_ip, dst_ip, src_port, dst_port,
 * packets, bytes. Optional: flags, tos, src_ip_int, dst_ip_int. Accepted and ignored:
 * duration_unix_secs, flows, bps, pps, and any other key (exporters add fields over time).
 *
 * Unlike the original (§5.1, §15 item 21), a bad record never crashes and never becomes an
 * id-0 flow: it is rejected with one short reason that names the field, so the bolt can count it
 * and send it to `ignored-flows`. `src_ip_int`/`dst_ip_int` are no longer required; when present
 * they must agree with the address text.
 *
 * Numbers must be JSON numbers: "80" (a string) is rejected, as the original's hard cast did,
 * but with a reason instead of a crash. Integers beyond 2^53 lose precision in JSON.parse and are
 * rejected as not safe rather than silently rounded.
 *
 * The id (issue 13) is a positive integer written in digits: 0 is refused (the original's id of a
 * record it could not read), so are negative and fractional values, values above 2^53 - 1, and an
 * integer written as a float (`1.5e3`, `1500.0`). Counters (packets, bytes) are 64-bit in NetFlow
 * v9 and IPFIX: any integer up to 2^53 - 1 is accepted, 2^32 and above included (every store
 * keeps them whole: JSON numbers, PostgreSQL bigint).
 *
 * TCP flags: nfdump prints the 6-character `UAPRSF` form with `.` for unset bits, and switches to
 * hex (`0xc2`) when a bit above FIN..URG (ECE 0x40, CWR 0x80) is set. We keep `Flow.flags` in
 * the `UAPRSF` form so every rule compares one representation: a hex value 0x00-0xff is
 * normalised to `UAPRSF` from its low six bits, dropping ECE/CWR (an ECN-setup SYN, 0xc2, is
 * still a SYN-only flow). Letters must be upper case in their own column; the empty string is
 * rejected (absent or null means "no flags").
 */

export type ParseFlowResult =
  | { ok: true; flow: Flow }
  | { ok: false; reason: string; id?: number };

type JsonObject = Record<string, unknown>;

const FLAG_LETTERS = 'UAPRSF';

/** FLAG_STRINGS[bits] is the nfdump form of the low six TCP flag bits (URG 0x20 ... FIN 0x01). */
const FLAG_STRINGS: readonly string[] = Array.from({ length: 64 }, (_, bits) => {
  let s = '';
  for (let i = 0; i < 6; i++) s += bits & (0x20 >> i) ? FLAG_LETTERS[i] : '.';
  return s;
});
const VALID_FLAG_STRINGS: ReadonlySet<string> = new Set(FLAG_STRINGS);
const HEX_FLAGS = /^0[xX][0-9a-fA-F]{1,2}$/;

const MAX_SHOWN_CHARS = 40;

/** The value as it appeared in the input, short enough for a reason string. */
function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // Cycles or BigInts (objects built in-process), or nesting too deep for JSON.stringify's
    // stack, which String() would overflow too (a fuzzed line: "protocol":[[[...6]]]).
    text = typeof value === 'object' && value !== null ? `${Array.isArray(value) ? 'an array' : 'an object'} too deep to show` : String(value);
  }
  return text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS)}...` : text;
}

function isUint(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
}

/** Thrown only inside this module and caught by parseFlowObject: keeps the field checks flat. */
class FieldError {
  constructor(readonly reason: string) {}
}

function requireField(obj: JsonObject, key: string): unknown {
  const value = obj[key];
  if (value === undefined) throw new FieldError(`missing field ${key}`);
  return value;
}

function requireUint(obj: JsonObject, key: string, max: number, rule: string): number {
  const value = requireField(obj, key);
  if (isUint(value, max)) return value;
  // Past 2^53 JSON.parse has already rounded the value, so it is refused rather than kept wrong.
  if (isUint(value, Infinity) && max === Number.MAX_SAFE_INTEGER) throw new FieldError(`${key} must be at most 2^53 - 1, got ${show(value)}`);
  throw new FieldError(`${key} ${rule}, got ${show(value)}`);
}

const COUNTER_RULE = 'must be a non-negative integer';
const ID_RULE = 'must be a positive integer up to 2^53 - 1';
const PORT_RULE = 'must be an integer 0-65535';
const BYTE_RULE = 'must be an integer 0-255';

function requireIp(obj: JsonObject, key: string): IpAddress {
  const value = requireField(obj, key);
  const ip = typeof value === 'string' ? parseIp(value) : null;
  if (ip === null) throw new FieldError(`${key} must be an IPv4 or IPv6 address, got ${show(value)}`);
  return ip;
}

/** `src_ip_int`/`dst_ip_int` are optional; when given they must be the IPv4 address's value. */
function checkIpInt(obj: JsonObject, key: string, ipKey: string, ip: IpAddress): void {
  const value = obj[key];
  if (value === undefined || value === null) return;
  if (!isUint(value, 0xffffffff)) {
    throw new FieldError(`${key} must be an integer 0-4294967295, got ${show(value)}`);
  }
  if (ip.version !== 4) throw new FieldError(`${key} (${value}) given for IPv6 ${ipKey} ${ip.text}`);
  if (value !== ip.v4) {
    throw new FieldError(`${key} (${value}) does not match ${ipKey} ${ip.text} (${ip.v4})`);
  }
}

function parseFlags(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') {
    if (VALID_FLAG_STRINGS.has(value)) return value;
    if (HEX_FLAGS.test(value)) return FLAG_STRINGS[parseInt(value.slice(2), 16) & 0x3f]!;
  }
  throw new FieldError(`flags must be a UAPRSF string like "....S." or hex like "0x12", got ${show(value)}`);
}

function parseOptionalTos(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (!isUint(value, 255)) throw new FieldError(`tos ${BYTE_RULE}, got ${show(value)}`);
  return value;
}

/** For input that is already an object (the Kafka spout may decode messages itself). */
export function parseFlowObject(input: unknown, nowMs: number): ParseFlowResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  const obj = input as JsonObject;
  const id = obj.id;
  if (id === undefined) return { ok: false, reason: 'missing field id' };
  if (!(Number.isSafeInteger(id) && (id as number) >= 1)) {
    return { ok: false, reason: `id ${ID_RULE}, got ${show(id)}` };
  }
  try {
    return { ok: true, flow: buildFlow(obj, id as number, nowMs) };
  } catch (err) {
    if (err instanceof FieldError) return { ok: false, reason: err.reason, id: id as number };
    throw err;
  }
}

function buildFlow(obj: JsonObject, id: number, nowMs: number): Flow {
  const MAX = Number.MAX_SAFE_INTEGER;
  const startSecs = requireUint(obj, 'start_timestamp_unix_secs', MAX, COUNTER_RULE);
  const endSecs = requireUint(obj, 'end_timestamp_unix_secs', MAX, COUNTER_RULE);
  if (endSecs < startSecs) {
    throw new FieldError(
      `end_timestamp_unix_secs (${endSecs}) must be >= start_timestamp_unix_secs (${startSecs})`,
    );
  }
  const protocol = requireUint(obj, 'protocol', 255, BYTE_RULE);
  const srcIp = requireIp(obj, 'src_ip');
  const dstIp = requireIp(obj, 'dst_ip');
  const srcPort = requireUint(obj, 'src_port', 65535, PORT_RULE);
  const dstPort = requireUint(obj, 'dst_port', 65535, PORT_RULE);
  const packets = requireUint(obj, 'packets', MAX, COUNTER_RULE);
  const bytes = requireUint(obj, 'bytes', MAX, COUNTER_RULE);
  const flags = parseFlags(obj.flags);
  const tos = parseOptionalTos(obj.tos);
  checkIpInt(obj, 'src_ip_int', 'src_ip', srcIp);
  checkIpInt(obj, 'dst_ip_int', 'dst_ip', dstIp);
  return {
    id,
    pairId: null,
    startSecs,
    endSecs,
    protocol,
    srcIp,
    dstIp,
    srcPort,
    dstPort,
    packetsSent: packets,
    bytesSent: bytes,
    packetsRecv: 0,
    bytesRecv: 0,
    flags,
    flagsRecv: null,
    tos,
    srcAs: 0,
    dstAs: 0,
    srcIsLocal: false,
    dstIsLocal: false,
    direction: null,
    matched: false,
    initiator: 'src',
    srcCity: null,
    srcCountry: null,
    srcCountryCode: null,
    srcLatitude: null,
    srcLongitude: null,
    dstCity: null,
    dstCountry: null,
    dstCountryCode: null,
    dstLatitude: null,
    dstLongitude: null,
    tags: [],
    receivedAtMs: nowMs,
    // Present from the start, so that setting it does not give a held flow a hidden class of its own.
    heldForEvidenceMs: undefined,
  };
}

/** One line (or Kafka message value) of input JSON; `nowMs` becomes `receivedAtMs`. */
export function parseFlowLine(line: string, nowMs: number): ParseFlowResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${(err as Error).message}` };
  }
  const result = parseFlowObject(parsed, nowMs);
  if (result.ok) {
    const written = idAsWritten(line, result.flow.id);
    if (written !== null) return { ok: false, reason: `id ${ID_RULE} written in digits, got ${written}`, id: result.flow.id };
  }
  return result;
}

/** `"id":` and the number after it. A `"` inside a JSON string is escaped, so this finds keys only. */
const ID_TOKEN = /"id"\s*:\s*(-?[0-9][0-9.eE+-]*)/g;

/**
 * The id's text when it is not plain digits (`1.5e3`, `1500.0`, `01500` cannot reach here: JSON
 * has no leading zeros), else null. JSON.parse gives 1500 for each, so an exporter that writes
 * its ids as floats would pass unnoticed, and two of its flows could round to one id.
 */
function idAsWritten(line: string, id: number): string | null {
  const digits = String(id);
  ID_TOKEN.lastIndex = 0;
  for (let m = ID_TOKEN.exec(line); m !== null; m = ID_TOKEN.exec(line)) {
    if (m[1] !== digits && Number(m[1]) === id) return m[1]!;
  }
  return null;
}
