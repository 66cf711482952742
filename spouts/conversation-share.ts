import { parseIp, parseV4Bytes } from '../bolts/lookup/ip-address.js';

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
const LOWER_P = 112;
const LOWER_S = 115;
const LOWER_D = 100;

function keyAt(line: Buffer, at: number, end: number, key: Buffer): boolean {
  if (at + key.length > end) return false;
  for (let k = 1; k < key.length; k++) if (line[at + k] !== key[k]) return false;
  return true;
}

/** Index just after the colon (and blanks) that follows a key ending before `i`, or -1. */
function valueStart(line: Buffer, i: number, end: number): number {
  if (i < 0) return -1;
  while (i < end && (line[i] === 32 || line[i] === 9)) i++;
  if (line[i] !== COLON) return -1;
  i++;
  while (i < end && (line[i] === 32 || line[i] === 9)) i++;
  return i;
}

function uintValue(line: Buffer, afterKey: number, end: number): number {
  let i = valueStart(line, afterKey, end);
  if (i === -1) return -1;
  let n = 0;
  const first = i;
  while (i < end && line[i]! >= 48 && line[i]! <= 57 && i - first < 10) n = n * 10 + (line[i++]! - 48);
  return i === first ? -1 : n;
}

/** The endpoint hash of the address after a key (a dotted quad needs no string), or null. */
function ipHash(line: Buffer, afterKey: number, end: number, port: number): number | null {
  const i = valueStart(line, afterKey, end);
  if (i === -1 || line[i] !== QUOTE) return null;
  // The closing quote, by hand: Buffer#indexOf is a call into C++ that costs more than this loop.
  const limit = Math.min(end, i + 65);
  let close = i + 1;
  while (close < limit && line[close] !== QUOTE) {
    if (line[close] === BACKSLASH) return null;
    close++;
  }
  if (close >= limit) return null;
  const v4 = parseV4Bytes(line, i + 1, close);
  if (v4 >= 0) return endpointHash(v4, null, port);
  const ip = parseIp(line.toString('latin1', i + 1, close));
  if (ip === null) return null;
  return ip.version === 4 ? endpointHash(ip.v4, null, port) : endpointHash(0, ip.bytes, port);
}

/** murmur3's 32-bit finaliser. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function endpointHash(v4: number, v6: Uint8Array | null, port: number): number {
  let h: number;
  if (v6 === null) h = mix(v4);
  else {
    h = 0x9e3779b9;
    for (let k = 0; k < 16; k += 4) h = mix(h ^ ((v6[k]! << 24) | (v6[k + 1]! << 16) | (v6[k + 2]! << 8) | v6[k + 3]!));
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
export function conversationHashOf(line: Buffer, start: number, end: number): number | null {
  // One pass finds where each key first occurs (as indexOf would), just after its closing quote.
  let protocolAt = -1;
  let srcIpAt = -1;
  let dstIpAt = -1;
  let srcPortAt = -1;
  let dstPortAt = -1;
  let found = 0;
  let i = start;
  while (found < 5) {
    // The next quote, in a tight loop of its own.
    while (i < end && line[i] !== QUOTE) i++;
    if (i >= end) break;
    const c = line[i + 1];
    if (c === LOWER_P) {
      if (protocolAt < 0 && keyAt(line, i, end, KEY_PROTOCOL)) {
        protocolAt = i + KEY_PROTOCOL.length;
        found++;
        i = protocolAt;
        continue;
      }
    } else if (c === LOWER_S) {
      if (srcIpAt < 0 && keyAt(line, i, end, KEY_SRC_IP)) {
        srcIpAt = i + KEY_SRC_IP.length;
        found++;
        i = srcIpAt;
        continue;
      }
      if (srcPortAt < 0 && keyAt(line, i, end, KEY_SRC_PORT)) {
        srcPortAt = i + KEY_SRC_PORT.length;
        found++;
        i = srcPortAt;
        continue;
      }
    } else if (c === LOWER_D) {
      if (dstIpAt < 0 && keyAt(line, i, end, KEY_DST_IP)) {
        dstIpAt = i + KEY_DST_IP.length;
        found++;
        i = dstIpAt;
        continue;
      }
      if (dstPortAt < 0 && keyAt(line, i, end, KEY_DST_PORT)) {
        dstPortAt = i + KEY_DST_PORT.length;
        found++;
        i = dstPortAt;
        continue;
      }
    }
    i++;
  }
  const protocol = uintValue(line, protocolAt, end);
  const srcPort = uintValue(line, srcPortAt, end);
  const dstPort = uintValue(line, dstPortAt, end);
  if (protocol < 0 || srcPort < 0 || dstPort < 0) return null;
  const a = ipHash(line, srcIpAt, end, srcPort);
  const b = a === null ? null : ipHash(line, dstIpAt, end, dstPort);
  if (a === null || b === null) return null;
  // Symmetric in the two endpoints: the reverse flow has the same share.
  const lo = a < b ? a : b;
  const hi = a < b ? b : a;
  return mix(lo ^ mix(hi ^ protocol));
}
