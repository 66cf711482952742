/**
 * Address bytes as text, the way nfdump prints them (glibc inet_ntop), so collector flows compare
 * field by field with nfcapd + `nfdump -o json`: IPv4 dotted decimal; IPv6 lowercase hex groups
 * without leading zeros, the longest run of two or more zero groups (the first, on a tie) written
 * `::`, and an IPv4-mapped (::ffff:a.b.c.d) or IPv4-compatible (::a.b.c.d) tail in dotted form.
 *
 * Cost: one short string concatenation per address, nothing cached.
 */

const DECIMAL: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));

export function ipv4Text(b: Uint8Array, p: number): string {
  return `${DECIMAL[b[p]!]}.${DECIMAL[b[p + 1]!]}.${DECIMAL[b[p + 2]!]}.${DECIMAL[b[p + 3]!]}`;
}

export function ipv6Text(b: Uint8Array, p: number): string {
  // The longest run of zero groups, as inet_ntop chooses it: first wins on a tie, length >= 2.
  let bestAt = -1;
  let bestLength = 0;
  let runAt = -1;
  for (let g = 0; g < 8; g++) {
    const isZero = b[p + 2 * g] === 0 && b[p + 2 * g + 1] === 0;
    if (isZero) {
      if (runAt === -1) runAt = g;
      if (g - runAt + 1 > bestLength) {
        bestAt = runAt;
        bestLength = g - runAt + 1;
      }
    } else {
      runAt = -1;
    }
  }
  if (bestLength < 2) bestAt = -1;
  const isV4Tail = bestAt === 0 && (bestLength === 6 || (bestLength === 5 && b[p + 10] === 0xff && b[p + 11] === 0xff));
  let text = '';
  for (let g = 0; g < 8; g++) {
    if (g === bestAt) {
      text += g === 0 ? '::' : ':';
      g += bestLength - 1;
      continue;
    }
    if (isV4Tail && g === 6) return `${text}${ipv4Text(b, p + 12)}`;
    text += ((b[p + 2 * g]! << 8) | b[p + 2 * g + 1]!).toString(16);
    if (g < 7) text += ':';
  }
  return text;
}
