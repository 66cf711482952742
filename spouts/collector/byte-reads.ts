import { VARIABLE_LENGTH } from './field-map.js';

/** Big-endian reads from a datagram's bytes; callers check bounds first. */

export const TWO_32 = 4_294_967_296;

export function u16(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

export function u32(b: Uint8Array, p: number): number {
  return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

/** An unsigned integer of 1 to 8 octets (beyond 2^53 it loses precision, as any JS number does). */
export function readUint(b: Uint8Array, p: number, length: number): number {
  switch (length) {
    case 1:
      return b[p]!;
    case 2:
      return u16(b, p);
    case 4:
      return u32(b, p);
    case 8:
      return u32(b, p) * TWO_32 + u32(b, p + 4);
    default: {
      let value = 0;
      for (let i = 0; i < length; i++) value = value * 256 + b[p + i]!;
      return value;
    }
  }
}

/**
 * The octets of the field at p that a template gives `planLength` (VARIABLE_LENGTH: read from the
 * record, RFC 7011 §7: one octet below 255, or 255 then two octets), times 4, plus the octets of
 * that length prefix (0, 1 or 3): one number, no allocation. -1 when the field runs past `end`.
 */
export function fieldSize(b: Uint8Array, p: number, end: number, planLength: number): number {
  if (planLength !== VARIABLE_LENGTH) return end - p < planLength ? -1 : planLength << 2;
  if (p >= end) return -1;
  const short = b[p]!;
  if (short < 255) return end - p - 1 < short ? -1 : (short << 2) | 1;
  if (end - p < 3) return -1;
  const length = u16(b, p + 1);
  return end - p - 3 < length ? -1 : (length << 2) | 3;
}
