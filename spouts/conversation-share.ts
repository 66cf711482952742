import { parseIp, type IpAddress } from '../bolts/lookup/ip-address.js';

/**
 * Which of `shares` file readers takes a line, chosen by the line's conversation: both directions
 * of a conversation (A→B and B→A, same protocol) give the same share. With one reader per worker
 * thread, both directions are then read, parsed and matched on one thread, and match-flows can be
 * grouped among the local tasks instead of sending flows across threads.
 *
 * Every reader sees every line and computes the same pure function of its bytes, so each line is
 * taken by exactly one reader whatever this function returns: a line it cannot read gets null and
 * the caller falls back to the line number. That can only cost a pairing (a malformed line is
 * refused by the parser anyway), never a line.
 *
 * The endpoints are read straight from the bytes (no JSON.parse: each reader sees every line, and
 * most are not its own): `"protocol"`, `"src_ip"`, `"src_port"`, `"dst_ip"`, `"dst_port"`, each
 * the first occurrence of the quoted key in the line, followed by `:` and a number or a string
 * without escapes. Addresses are parsed, so two spellings of one address share.
 */

const KEY_PROTOCOL = Buffer.from('"protocol"');
const KEY_SRC_IP = Buffer.from('"src_ip"');
const KEY_DST_IP = Buffer.from('"dst_ip"');
const KEY_SRC_PORT = Buffer.from('"src_port"');
const KEY_DST_PORT = Buffer.from('"dst_port"');

const QUOTE = 34;
const COLON = 58;
const BACKSLASH = 92;

/** Index just after `"key"` and its colon (and blanks), or -1. */
function valueStart(line: Buffer, key: Buffer): number {
  const at = line.indexOf(key);
  if (at === -1) return -1;
  let i = at + key.length;
  while (i < line.length && (line[i] === 32 || line[i] === 9)) i++;
  if (line[i] !== COLON) return -1;
  i++;
  while (i < line.length && (line[i] === 32 || line[i] === 9)) i++;
  return i;
}

function uintValue(line: Buffer, key: Buffer): number {
  let i = valueStart(line, key);
  if (i === -1) return -1;
  let n = 0;
  const first = i;
  while (i < line.length && line[i]! >= 48 && line[i]! <= 57 && i - first < 10) n = n * 10 + (line[i++]! - 48);
  return i === first ? -1 : n;
}

function ipValue(line: Buffer, key: Buffer): IpAddress | null {
  const i = valueStart(line, key);
  if (i === -1 || line[i] !== QUOTE) return null;
  const close = line.indexOf(QUOTE, i + 1);
  if (close === -1 || close - i > 64) return null;
  for (let k = i + 1; k < close; k++) if (line[k] === BACKSLASH) return null;
  return parseIp(line.toString('latin1', i + 1, close));
}

/** murmur3's 32-bit finaliser. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function endpointHash(ip: IpAddress, port: number): number {
  let h: number;
  if (ip.version === 4) h = mix(ip.v4);
  else {
    h = 0x9e3779b9;
    const b = ip.bytes;
    for (let k = 0; k < 16; k += 4) h = mix(h ^ ((b[k]! << 24) | (b[k + 1]! << 16) | (b[k + 2]! << 8) | b[k + 3]!));
    h = mix(h ^ 6);
  }
  return mix(h ^ Math.imul(port + 1, 0x27d4eb2d));
}

/** The share (0..shares-1) of the line `bytes[start, end)`, or null when its endpoints cannot be read. */
export function conversationShareOf(bytes: Buffer, start: number, end: number, shares: number): number | null {
  const h = conversationHashOf(bytes, start, end);
  return h === null ? null : h % shares;
}

/**
 * A 32-bit hash of the line's conversation, equal for both directions, or null when its endpoints
 * cannot be read. The spouts emit it as the `share` field, by which the parser can be
 * fields-grouped when lines must be spread from one reader (Kafka, standard input).
 */
export function conversationHashOf(bytes: Buffer, start: number, end: number): number | null {
  const line = bytes.subarray(start, end);
  const protocol = uintValue(line, KEY_PROTOCOL);
  const srcPort = uintValue(line, KEY_SRC_PORT);
  const dstPort = uintValue(line, KEY_DST_PORT);
  if (protocol < 0 || srcPort < 0 || dstPort < 0) return null;
  const src = ipValue(line, KEY_SRC_IP);
  const dst = ipValue(line, KEY_DST_IP);
  if (src === null || dst === null) return null;
  const a = endpointHash(src, srcPort);
  const b = endpointHash(dst, dstPort);
  // Symmetric in the two endpoints: the reverse flow has the same share.
  const lo = a < b ? a : b;
  const hi = a < b ? b : a;
  return mix(lo ^ mix(hi ^ protocol));
}
