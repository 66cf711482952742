/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of a Kafka record batch
 * (magic 2). Slicing by 8: eight 256-entry tables, kept in one array (V8 loads from one typed array
 * faster than from eight), so the loop consumes eight bytes per step: about 1 ms a MB here, a
 * third of the byte-at-a-time loop's time.
 */
const POLY = 0x82f63b78;
/** Table s (0..7) at s * 256: the CRC of a byte followed by s zero bytes. */
const T = makeTable();

function makeTable(): Int32Array {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let s = 1; s < 8; s++) {
    for (let n = 0; n < 256; n++) {
      const p = t[(s - 1) * 256 + n]!;
      t[s * 256 + n] = (p >>> 8) ^ t[p & 0xff]!;
    }
  }
  return t;
}

/** The CRC-32C of `buf[start, end)`, as an unsigned 32-bit number. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = -1;
  let i = start;
  for (const last8 = end - 8; i <= last8; i += 8) {
    const a = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    crc =
      T[1792 + (a & 0xff)]! ^
      T[1536 + ((a >>> 8) & 0xff)]! ^
      T[1280 + ((a >>> 16) & 0xff)]! ^
      T[1024 + (a >>> 24)]! ^
      T[768 + buf[i + 4]!]! ^
      T[512 + buf[i + 5]!]! ^
      T[256 + buf[i + 6]!]! ^
      T[buf[i + 7]!]!;
  }
  for (; i < end; i++) crc = (crc >>> 8) ^ T[(crc ^ buf[i]!) & 0xff]!;
  return (crc ^ -1) >>> 0;
}
