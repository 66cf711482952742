/**
 * An IP address parsed once, at the edge of the topology, and carried with the flow so that
 * every later look-up (ASN, geo, block lists, active hosts) walks a MaxMind tree without
 * re-parsing text.
 *
 * IPv4 is kept as an unsigned 32-bit number; IPv6 as 16 bytes in network order. An IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d) is normalised to its IPv4 form, so one host has one key.
 */
export type IpAddress =
  | { readonly version: 4; readonly v4: number; readonly text: string }
  | { readonly version: 6; readonly bytes: Uint8Array; readonly text: string };

/** Dotted quad, character by character (no split, no regex): the per-flow path parses two per line. */
function parseV4(text: string): number | null {
  const n = text.length;
  if (n < 7 || n > 15) return null;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return null;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      if (++dots > 3) return null;
    } else if (c >= 48 && c <= 57) {
      // No leading zeros: "01" is ambiguous (octal in some parsers), so it is refused.
      if (digits === 1 && part === 0) return null;
      part = part * 10 + (c - 48);
      if (part > 255) return null;
      digits++;
    } else {
      return null;
    }
  }
  if (dots !== 3 || digits === 0) return null;
  return value * 256 + part;
}

/**
 * `parseV4` on the bytes `[from, to)` of a buffer (the raw line, before any string is made), under
 * the same rules; -1 for anything that is not a dotted quad. Kept beside `parseV4` so the two
 * cannot drift apart (a test holds them equal).
 */
export function parseV4Bytes(bytes: Uint8Array, from: number, to: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let k = from; k < to; k++) {
    const c = bytes[k]!;
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && part === 0) return -1;
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else return -1;
  }
  return dots === 3 && digits > 0 ? value * 256 + part : -1;
}

/** The value of a hex digit's char code, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** The groups of the address being parsed or formatted (never shared across a call). */
const groups = new Int32Array(8);

/**
 * RFC 4291 text (groups of 1-4 hex digits, at most one `::` standing for one or more zero groups,
 * an optional dotted-quad tail for the last two groups), character by character: no split, no
 * regex, one allocation (the result).
 */
function parseV6(text: string): Uint8Array | null {
  const n = text.length;
  if (n < 2 || n > 45) return null;
  let count = 0;
  /** Index of the group before which `::` stands, or -1. */
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return null;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    const start = i;
    let value = 0;
    let digits = 0;
    for (; i < n && digits <= 4; i++) {
      const h = hexDigit(text.charCodeAt(i));
      if (h < 0) break;
      value = value * 16 + h;
      digits++;
    }
    if (i < n && text.charCodeAt(i) === 46) {
      // An embedded IPv4 tail (::ffff:192.0.2.1) stands for the last two 16-bit groups.
      if (count > 6) return null;
      const tail = parseV4(text.slice(start));
      if (tail === null) return null;
      groups[count++] = tail >>> 16;
      groups[count++] = tail & 0xffff;
      break;
    }
    if (digits === 0 || digits > 4 || count === 8) return null;
    groups[count++] = value;
    if (i === n) break;
    if (text.charCodeAt(i) !== 58) return null;
    i++;
    if (i < n && text.charCodeAt(i) === 58) {
      if (gap !== -1) return null;
      gap = count;
      i++;
    } else if (i === n) {
      return null; // a single trailing colon
    }
  }
  // Without `::` there must be eight groups; with it, at least one group is left for it to stand for.
  if (gap === -1 ? count !== 8 : count > 7) return null;
  const bytes = new Uint8Array(16);
  const shift = gap === -1 ? 0 : 8 - count;
  for (let g = 0; g < count; g++) {
    const at = gap === -1 || g < gap ? g : g + shift;
    bytes[at * 2] = groups[g]! >> 8;
    bytes[at * 2 + 1] = groups[g]! & 0xff;
  }
  return bytes;
}

function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Parses dotted-quad IPv4 or RFC 4291 IPv6 text; returns null for anything else (hostnames included). */
export function parseIp(text: string): IpAddress | null {
  if (typeof text !== 'string') return null;
  if (text.indexOf(':') === -1) {
    const v4 = parseV4(text);
    return v4 === null ? null : { version: 4, v4, text };
  }
  const bytes = parseV6(text);
  if (bytes === null) return null;
  if (isV4Mapped(bytes)) {
    const v4 = ((bytes[12]! << 24) >>> 0) + (bytes[13]! << 16) + (bytes[14]! << 8) + bytes[15]!;
    return { version: 4, v4, text: formatV4(v4) };
  }
  // One spelling per address (RFC 5952), so text-keyed stores (IntelMQ) and outputs agree.
  return { version: 6, bytes, text: formatV6(bytes) };
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (>= 2) of zero groups as `::`. */
export function formatV6(bytes: Uint8Array): string {
  for (let g = 0; g < 8; g++) groups[g] = (bytes[g * 2]! << 8) | bytes[g * 2 + 1]!;
  // The first longest run of two or more zero groups.
  let bestStart = -1;
  let bestLen = 1;
  for (let g = 0; g < 8; ) {
    if (groups[g] !== 0) {
      g++;
      continue;
    }
    let end = g;
    while (end < 8 && groups[end] === 0) end++;
    if (end - g > bestLen) {
      bestStart = g;
      bestLen = end - g;
    }
    g = end;
  }
  let text = '';
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      text += '::';
      g += bestLen - 1;
      continue;
    }
    if (text.length > 0 && !text.endsWith(':')) text += ':';
    text += groups[g]!.toString(16);
  }
  return text;
}

export function formatV4(v4: number): string {
  return `${v4 >>> 24}.${(v4 >>> 16) & 0xff}.${(v4 >>> 8) & 0xff}.${v4 & 0xff}`;
}

/** Bit `i` (0 = most significant) of the address, as a MaxMind tree walk reads it. */
export function ipBit(ip: IpAddress, i: number): number {
  if (ip.version === 4) return (ip.v4 >>> (31 - i)) & 1;
  return (ip.bytes[i >> 3]! >> (7 - (i & 7))) & 1;
}

/** Total order used for the canonical conversation key: IPv4 before IPv6, then numerically. */
export function compareIp(a: IpAddress, b: IpAddress): number {
  if (a.version !== b.version) return a.version - b.version;
  if (a.version === 4 && b.version === 4) return a.v4 - b.v4;
  const ab = (a as { bytes: Uint8Array }).bytes;
  const bb = (b as { bytes: Uint8Array }).bytes;
  for (let i = 0; i < 16; i++) if (ab[i] !== bb[i]) return ab[i]! - bb[i]!;
  return 0;
}
