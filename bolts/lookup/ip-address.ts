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

function parseV6(text: string): Uint8Array | null {
  if (text.length < 2 || text.length > 45) return null;
  let body = text;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    // An embedded IPv4 tail (::ffff:192.0.2.1) stands for the last two 16-bit groups.
    const tail = parseV4(text.slice(lastColon + 1));
    if (tail === null) return null;
    body = `${text.slice(0, lastColon + 1)}${(tail >>> 16).toString(16)}:${(tail & 0xffff).toString(16)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const parseGroups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (halves.length === 2) {
    const left = parseGroups(halves[0]!);
    const right = parseGroups(halves[1]!);
    if (!left || !right) return null;
    const missing = 8 - left.length - right.length;
    if (missing < 1) return null;
    groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  } else {
    const parsed = parseGroups(body);
    if (!parsed || parsed.length !== 8) return null;
    groups = parsed;
  }
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[i * 2] = groups[i]! >> 8;
    bytes[i * 2 + 1] = groups[i]! & 0xff;
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
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]) => g.map((x) => x.toString(16)).join(':');
  if (bestStart === -1) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
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
