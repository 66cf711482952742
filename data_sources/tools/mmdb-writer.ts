/**
 * Writes MaxMind DB (MMDB) v2 files: the geo, ASN and IP-list databases of the Themis data set.
 *
 * File layout (MaxMind DB format spec 2.0):
 *   search tree   node_count nodes, each two records (bit 0, bit 1) of record_size bits, big-endian.
 *                 A record < node_count is a node number, == node_count means "no data", and
 *                 > node_count is a data-section offset plus node_count + 16.
 *   16 zero bytes separating tree and data.
 *   data section  values encoded as control byte (type, size) + payload; pointers are offsets from
 *                 the start of the data section.
 *   "\xAB\xCD\xEFMaxMind.com" followed by the metadata map.
 *
 * The original generated its list files with a Perl script (§12.1) that was IPv4-only and skipped
 * bad lines silently (§15.9 item 54); this writer takes IPv4 and IPv6 and rejects bad networks.
 *
 * Deliberately self-contained (no imports from the rest of the project) so data tools can run alone.
 */

/** Forces an MMDB type on a number that plain inference would encode differently. */
export interface MmdbTypedNumber {
  readonly mmdbType: 'double' | 'uint16' | 'uint32' | 'uint64' | 'int32';
  readonly value: number | bigint;
}

/**
 * A value the writer can encode. Plain numbers are inferred: a non-negative integer becomes the
 * smallest of uint16/uint32/uint64, a negative integer int32, anything else double. A bigint is
 * uint64. Wrap a number with `mmdbDouble` (etc.) to force its type, e.g. a latitude of 0.
 */
export type MmdbValue =
  | string
  | number
  | bigint
  | boolean
  | Uint8Array
  | MmdbTypedNumber
  | readonly MmdbValue[]
  | { readonly [key: string]: MmdbValue };

export const mmdbDouble = (value: number): MmdbTypedNumber => ({ mmdbType: 'double', value });
export const mmdbUint16 = (value: number): MmdbTypedNumber => ({ mmdbType: 'uint16', value });
export const mmdbUint32 = (value: number): MmdbTypedNumber => ({ mmdbType: 'uint32', value });
export const mmdbUint64 = (value: number | bigint): MmdbTypedNumber => ({ mmdbType: 'uint64', value });
export const mmdbInt32 = (value: number): MmdbTypedNumber => ({ mmdbType: 'int32', value });

/** A parsed network: 4 or 16 address bytes (host bits zero) and a prefix length. */
export interface MmdbNetwork {
  readonly version: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefixLength: number;
}

export interface MmdbEntry {
  /** `a.b.c.d/len`, an IPv6 CIDR, or a bare address (a /32 or /128). */
  readonly network: string;
  readonly record: MmdbValue;
}

export interface MmdbWriteOptions {
  readonly databaseType: string;
  /** English description; stored as `description: {en}`. */
  readonly description: string;
  /** Stored as `build_epoch`; an input (not the clock) so the same input gives the same bytes. */
  readonly buildEpochSecs: number;
  readonly languages?: readonly string[];
  /** Defaults to 4 when every network is IPv4, else 6 (IPv4 then lives under ::/96). */
  readonly ipVersion?: 4 | 6;
  /** Defaults to the smallest of 24, 28, 32 that can address the tree and data section. */
  readonly recordSize?: 24 | 28 | 32;
}

export interface MmdbWriteResult {
  readonly bytes: Buffer;
  readonly networkCount: number;
  readonly nodeCount: number;
  readonly recordSize: 24 | 28 | 32;
  readonly ipVersion: 4 | 6;
  readonly dataSectionBytes: number;
}

export class MmdbWriteError extends Error {
  readonly code = 'THEMIS_MMDB_WRITE';
  readonly retriable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MmdbWriteError';
  }
}

// ---------------------------------------------------------------------------------------------
// Network parsing

const V4_OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function parseV4Bytes(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!V4_OCTET.test(parts[i]!)) return null;
    out[i] = Number(parts[i]);
  }
  return out;
}

function parseV6Bytes(text: string): Uint8Array | null {
  let body = text;
  const lastColon = text.lastIndexOf(':');
  if (lastColon === -1) return null;
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    // An embedded IPv4 tail (::ffff:192.0.2.1) stands for the last two 16-bit groups.
    const v4 = parseV4Bytes(tail);
    if (v4 === null) return null;
    body = `${text.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (s: string): number[] | null => {
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
    const left = groupsOf(halves[0]!);
    const right = groupsOf(halves[1]!);
    if (left === null || right === null) return null;
    const missing = 8 - left.length - right.length;
    if (missing < 1) return null;
    groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  } else {
    const all = groupsOf(body);
    if (all === null || all.length !== 8) return null;
    groups = all;
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/**
 * Parses `address[/prefix]`. A bare address is a /32 or /128. Host bits below the prefix must be
 * zero: `192.0.2.5/24` is almost always a typo, so it is rejected rather than silently widened.
 */
export function parseNetwork(text: string): { network: MmdbNetwork } | { reason: string } {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const isV6 = addressText.includes(':');
  const bytes = isV6 ? parseV6Bytes(addressText) : parseV4Bytes(addressText);
  if (bytes === null) return { reason: `"${addressText}" is not an IPv4 or IPv6 address` };
  const maxPrefix = bytes.length * 8;
  let prefixLength = maxPrefix;
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText)) return { reason: `prefix "/${prefixText}" is not a number` };
    prefixLength = Number(prefixText);
    if (prefixLength > maxPrefix) {
      return { reason: `prefix /${prefixLength} is out of range for IPv${isV6 ? 6 : 4} (0-${maxPrefix})` };
    }
  }
  for (let bit = prefixLength; bit < maxPrefix; bit++) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) {
      const masked = maskedText(bytes, prefixLength, isV6);
      return { reason: `${text} has host bits set below /${prefixLength} (did you mean ${masked}/${prefixLength}?)` };
    }
  }
  return { network: { version: isV6 ? 6 : 4, bytes, prefixLength } };
}

function maskedText(bytes: Uint8Array, prefixLength: number, isV6: boolean): string {
  const masked = Uint8Array.from(bytes);
  for (let bit = prefixLength; bit < masked.length * 8; bit++) masked[bit >> 3]! &= ~(1 << (7 - (bit & 7)));
  if (!isV6) return masked.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((masked[i]! << 8) | masked[i + 1]!).toString(16));
  return groups.join(':');
}

// ---------------------------------------------------------------------------------------------
// Data section encoding

const TYPE_POINTER = 1;
const TYPE_UTF8 = 2;
const TYPE_DOUBLE = 3;
const TYPE_BYTES = 4;
const TYPE_UINT16 = 5;
const TYPE_UINT32 = 6;
const TYPE_MAP = 7;
const TYPE_INT32 = 8;
const TYPE_UINT64 = 9;
const TYPE_ARRAY = 11;
const TYPE_BOOLEAN = 14;

const MAX_UINT64 = (1n << 64n) - 1n;
/** Largest payload size a control byte can express (size code 31: 65,821 + three bytes). */
const MAX_PAYLOAD_SIZE = 65_821 + 0xffffff;

class ByteSink {
  private buf = Buffer.alloc(1024);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b & 0xff;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** Unsigned big-endian integer in exactly `width` bytes. */
  uintBE(value: number, width: number): void {
    for (let i = width - 1; i >= 0; i--) this.byte(Math.floor(value / 2 ** (8 * i)) % 256);
  }

  slice(start: number, end: number): Buffer {
    return this.buf.subarray(start, end);
  }

  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

function isTypedNumber(value: MmdbValue): value is MmdbTypedNumber {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
    && typeof (value as { mmdbType?: unknown }).mmdbType === 'string' && 'value' in value;
}

type Scalar =
  | { type: typeof TYPE_UTF8; value: string }
  | { type: typeof TYPE_DOUBLE | typeof TYPE_UINT16 | typeof TYPE_UINT32 | typeof TYPE_INT32; value: number }
  | { type: typeof TYPE_UINT64; value: bigint }
  | { type: typeof TYPE_BOOLEAN; value: boolean }
  | { type: typeof TYPE_BYTES; value: Uint8Array };

function checkInteger(value: number, min: number, max: number, what: string, path: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new MmdbWriteError(`${path}: ${value} does not fit ${what} (${min}..${max})`);
  }
  return value;
}

function toScalar(value: MmdbValue, path: string): Scalar | null {
  if (typeof value === 'string') return { type: TYPE_UTF8, value };
  if (typeof value === 'boolean') return { type: TYPE_BOOLEAN, value };
  if (value instanceof Uint8Array) return { type: TYPE_BYTES, value };
  if (typeof value === 'bigint') {
    if (value < 0n || value > MAX_UINT64) throw new MmdbWriteError(`${path}: ${value} does not fit uint64`);
    return { type: TYPE_UINT64, value };
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new MmdbWriteError(`${path}: ${value} is not a finite number`);
    if (!Number.isInteger(value)) return { type: TYPE_DOUBLE, value };
    if (value >= 0 && value <= 0xffff) return { type: TYPE_UINT16, value };
    if (value >= 0 && value <= 0xffffffff) return { type: TYPE_UINT32, value };
    if (value > 0) {
      if (!Number.isSafeInteger(value)) throw new MmdbWriteError(`${path}: ${value} is not a safe integer; pass a bigint`);
      return { type: TYPE_UINT64, value: BigInt(value) };
    }
    return { type: TYPE_INT32, value: checkInteger(value, -(2 ** 31), 2 ** 31 - 1, 'int32', path) };
  }
  if (isTypedNumber(value)) {
    const n = value.value;
    switch (value.mmdbType) {
      case 'double':
        return { type: TYPE_DOUBLE, value: Number(n) };
      case 'uint16':
        return { type: TYPE_UINT16, value: checkInteger(Number(n), 0, 0xffff, 'uint16', path) };
      case 'uint32':
        return { type: TYPE_UINT32, value: checkInteger(Number(n), 0, 0xffffffff, 'uint32', path) };
      case 'int32':
        return { type: TYPE_INT32, value: checkInteger(Number(n), -(2 ** 31), 2 ** 31 - 1, 'int32', path) };
      case 'uint64': {
        if (typeof n === 'number' && !Number.isSafeInteger(n)) throw new MmdbWriteError(`${path}: ${n} is not a safe integer; pass a bigint`);
        const big = BigInt(n);
        if (big < 0n || big > MAX_UINT64) throw new MmdbWriteError(`${path}: ${n} does not fit uint64`);
        return { type: TYPE_UINT64, value: big };
      }
    }
  }
  return null;
}

function writeControl(sink: ByteSink, type: number, size: number): void {
  if (size > MAX_PAYLOAD_SIZE) throw new MmdbWriteError(`value of ${size} bytes/entries exceeds the MMDB limit of ${MAX_PAYLOAD_SIZE}`);
  const typeBits = type <= 7 ? type << 5 : 0;
  let sizeCode: number;
  let extra: number[] = [];
  if (size < 29) sizeCode = size;
  else if (size < 285) {
    sizeCode = 29;
    extra = [size - 29];
  } else if (size < 65_821) {
    sizeCode = 30;
    const v = size - 285;
    extra = [v >> 8, v & 0xff];
  } else {
    sizeCode = 31;
    const v = size - 65_821;
    extra = [v >> 16, (v >> 8) & 0xff, v & 0xff];
  }
  sink.byte(typeBits | sizeCode);
  if (type > 7) sink.byte(type - 7);
  for (const b of extra) sink.byte(b);
}

function minimalBytes(value: bigint): number[] {
  const out: number[] = [];
  for (let v = value; v > 0n; v >>= 8n) out.unshift(Number(v & 0xffn));
  return out;
}

function writeScalar(sink: ByteSink, s: Scalar): void {
  switch (s.type) {
    case TYPE_UTF8: {
      const bytes = Buffer.from(s.value, 'utf8');
      writeControl(sink, TYPE_UTF8, bytes.length);
      sink.bytes(bytes);
      return;
    }
    case TYPE_DOUBLE: {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(s.value);
      writeControl(sink, TYPE_DOUBLE, 8);
      sink.bytes(b);
      return;
    }
    case TYPE_BYTES:
      writeControl(sink, TYPE_BYTES, s.value.length);
      sink.bytes(s.value);
      return;
    case TYPE_UINT16:
    case TYPE_UINT32:
    case TYPE_UINT64: {
      const bytes = minimalBytes(BigInt(s.value));
      writeControl(sink, s.type, bytes.length);
      for (const b of bytes) sink.byte(b);
      return;
    }
    case TYPE_INT32: {
      // Readers treat an int32 shorter than 4 bytes as non-negative, so negatives take all 4.
      const bytes = s.value < 0 ? minimalBytes(BigInt(s.value >>> 0)) : minimalBytes(BigInt(s.value));
      writeControl(sink, TYPE_INT32, bytes.length);
      for (const b of bytes) sink.byte(b);
      return;
    }
    case TYPE_BOOLEAN:
      // The size field carries the value; there is no payload.
      writeControl(sink, TYPE_BOOLEAN, s.value ? 1 : 0);
      return;
  }
}

function pointerLength(offset: number): number {
  if (offset < 2048) return 2;
  if (offset < 526_336) return 3;
  if (offset < 134_744_064) return 4;
  return 5;
}

function writePointer(sink: ByteSink, offset: number): void {
  const base = TYPE_POINTER << 5;
  if (offset < 2048) {
    sink.byte(base | (offset >> 8));
    sink.byte(offset & 0xff);
  } else if (offset < 526_336) {
    const v = offset - 2048;
    sink.byte(base | (1 << 3) | (v >> 16));
    sink.byte((v >> 8) & 0xff);
    sink.byte(v & 0xff);
  } else if (offset < 134_744_064) {
    const v = offset - 526_336;
    sink.byte(base | (2 << 3) | (v >>> 24));
    sink.uintBE(v & 0xffffff, 3);
  } else {
    sink.byte(base | (3 << 3));
    sink.uintBE(offset, 4);
  }
}

/**
 * Encodes values into a data section, storing each distinct value once: a repeated record, map
 * key, string or sub-map becomes a pointer to its first copy when the pointer is shorter.
 */
class DataSectionEncoder {
  readonly sink = new ByteSink();
  private readonly written = new Map<string, { offset: number; length: number }>();

  /** Returns the offset of `value` in the data section, writing it if it is not there yet. */
  add(value: MmdbValue): number {
    const key = canonicalKey(value, 'record');
    const seen = this.written.get(key);
    if (seen !== undefined) return seen.offset;
    return this.write(value, key, 'record');
  }

  private write(value: MmdbValue, key: string, path: string): number {
    const offset = this.sink.length;
    const scalar = toScalar(value, path);
    if (scalar !== null) writeScalar(this.sink, scalar);
    else if (Array.isArray(value)) {
      writeControl(this.sink, TYPE_ARRAY, value.length);
      value.forEach((item, i) => this.writeShared(item, `${path}[${i}]`));
    } else if (typeof value === 'object' && value !== null) {
      const entries = Object.entries(value as Record<string, MmdbValue>);
      writeControl(this.sink, TYPE_MAP, entries.length);
      for (const [k, v] of entries) {
        this.writeShared(k, path);
        this.writeShared(v, `${path}.${k}`);
      }
    } else {
      throw new MmdbWriteError(`${path}: cannot encode ${String(value)} (${typeof value})`);
    }
    this.written.set(key, { offset, length: this.sink.length - offset });
    return offset;
  }

  private writeShared(value: MmdbValue, path: string): void {
    const key = canonicalKey(value, path);
    const seen = this.written.get(key);
    if (seen !== undefined && pointerLength(seen.offset) < seen.length) writePointer(this.sink, seen.offset);
    else this.write(value, key, path);
  }
}

/** A string that is equal for two values exactly when their encodings are equal. */
function canonicalKey(value: MmdbValue, path: string): string {
  const scalar = toScalar(value, path);
  if (scalar !== null) {
    if (scalar.type === TYPE_BYTES) return `${scalar.type}:${Buffer.from(scalar.value).toString('hex')}`;
    if (scalar.type === TYPE_DOUBLE) return `${scalar.type}:${Object.is(scalar.value, -0) ? '-0' : String(scalar.value)}`;
    return `${scalar.type}:${JSON.stringify(String(scalar.value))}`;
  }
  if (Array.isArray(value)) return `[${value.map((v, i) => canonicalKey(v, `${path}[${i}]`)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const parts = Object.entries(value as Record<string, MmdbValue>).map(
      ([k, v]) => `${JSON.stringify(k)}=${canonicalKey(v, `${path}.${k}`)}`,
    );
    return `{${parts.join(',')}}`;
  }
  throw new MmdbWriteError(`${path}: cannot encode ${String(value)} (${typeof value})`);
}

// ---------------------------------------------------------------------------------------------
// Search tree

/** Child slots: >= 0 a node index, EMPTY for no data, <= -2 the record index -(slot + 2). */
const EMPTY = -1;
const recordSlot = (recordIndex: number): number => -recordIndex - 2;
const slotRecord = (slot: number): number => -slot - 2;

class SearchTree {
  private readonly left: number[] = [EMPTY];
  private readonly right: number[] = [EMPTY];

  private newNode(child: number): number {
    this.left.push(child);
    this.right.push(child);
    return this.left.length - 1;
  }

  private child(node: number, bit: number): number {
    return bit ? this.right[node]! : this.left[node]!;
  }

  private setChild(node: number, bit: number, value: number): void {
    if (bit) this.right[node] = value;
    else this.left[node] = value;
  }

  /**
   * Sets `record` for every address under the prefix, replacing what is there. Callers insert
   * from least to most specific, so a more specific network always overrides a wider one.
   */
  insert(bits: Uint8Array, prefixLength: number, recordIndex: number): void {
    const slot = recordSlot(recordIndex);
    if (prefixLength === 0) {
      this.left[0] = slot;
      this.right[0] = slot;
      return;
    }
    let node = 0;
    for (let depth = 0; depth < prefixLength - 1; depth++) {
      const bit = (bits[depth >> 3]! >> (7 - (depth & 7))) & 1;
      const next = this.child(node, bit);
      if (next >= 0) {
        node = next;
        continue;
      }
      // Splitting a wider network's leaf: both halves keep its record until overridden below.
      const created = this.newNode(next);
      this.setChild(node, bit, created);
      node = created;
    }
    const last = prefixLength - 1;
    this.setChild(node, (bits[last >> 3]! >> (7 - (last & 7))) & 1, slot);
  }

  /**
   * Numbers the reachable nodes (root = 0, depth-first, left before right) after folding every
   * node whose two halves hold the same leaf into that leaf. Returns both children per node.
   */
  finish(): { left: number[]; right: number[] } {
    const folded = (slot: number): number => {
      if (slot < 0) return slot;
      const l = folded(this.left[slot]!);
      const r = folded(this.right[slot]!);
      this.left[slot] = l;
      this.right[slot] = r;
      return l === r && l < 0 ? l : slot;
    };
    this.left[0] = folded(this.left[0]!);
    this.right[0] = folded(this.right[0]!);

    const number = new Map<number, number>();
    const order: number[] = [];
    const stack = [0];
    while (stack.length > 0) {
      const node = stack.pop()!;
      number.set(node, order.length);
      order.push(node);
      const r = this.right[node]!;
      const l = this.left[node]!;
      if (r >= 0) stack.push(r);
      if (l >= 0) stack.push(l);
    }
    const renumber = (slot: number): number => (slot >= 0 ? number.get(slot)! : slot);
    return {
      left: order.map((n) => renumber(this.left[n]!)),
      right: order.map((n) => renumber(this.right[n]!)),
    };
  }
}

function writeRecordPair(out: Buffer, at: number, recordSize: number, l: number, r: number): void {
  switch (recordSize) {
    case 24:
      out.writeUIntBE(l, at, 3);
      out.writeUIntBE(r, at + 3, 3);
      return;
    case 28:
      // The middle byte holds the top nibble of each record: left in its high half.
      out.writeUIntBE(l & 0xffffff, at, 3);
      out[at + 3] = ((l >>> 24) << 4) | (r >>> 24);
      out.writeUIntBE(r & 0xffffff, at + 4, 3);
      return;
    default:
      out.writeUInt32BE(l, at);
      out.writeUInt32BE(r, at + 4);
  }
}

const METADATA_MARKER = Buffer.from([0xab, 0xcd, 0xef, ...Buffer.from('MaxMind.com', 'ascii')]);
const DATA_SEPARATOR_BYTES = 16;

function encodeMetadata(fields: {
  nodeCount: number;
  recordSize: number;
  ipVersion: number;
  options: MmdbWriteOptions;
}): Buffer {
  const sink = new ByteSink();
  const { options } = fields;
  const languages = options.languages ?? ['en'];
  const entries: [string, Scalar | string[] | Record<string, string>][] = [
    ['binary_format_major_version', { type: TYPE_UINT16, value: 2 }],
    ['binary_format_minor_version', { type: TYPE_UINT16, value: 0 }],
    ['build_epoch', { type: TYPE_UINT64, value: BigInt(checkInteger(options.buildEpochSecs, 0, Number.MAX_SAFE_INTEGER, 'build_epoch', 'metadata')) }],
    ['database_type', { type: TYPE_UTF8, value: options.databaseType }],
    ['description', { en: options.description }],
    ['ip_version', { type: TYPE_UINT16, value: fields.ipVersion }],
    ['languages', [...languages]],
    ['node_count', { type: TYPE_UINT32, value: fields.nodeCount }],
    ['record_size', { type: TYPE_UINT16, value: fields.recordSize }],
  ];
  const str = (s: string): void => writeScalar(sink, { type: TYPE_UTF8, value: s });
  writeControl(sink, TYPE_MAP, entries.length);
  for (const [key, value] of entries) {
    str(key);
    if (Array.isArray(value)) {
      writeControl(sink, TYPE_ARRAY, value.length);
      value.forEach(str);
    } else if ('type' in value) writeScalar(sink, value as Scalar);
    else {
      const pairs = Object.entries(value as Record<string, string>);
      writeControl(sink, TYPE_MAP, pairs.length);
      for (const [k, v] of pairs) {
        str(k);
        str(v);
      }
    }
  }
  return sink.toBuffer();
}

function toTreeBits(network: MmdbNetwork, ipVersion: 4 | 6): { bits: Uint8Array; prefixLength: number } {
  if (network.version === 6 || ipVersion === 4) return { bits: network.bytes, prefixLength: network.prefixLength };
  // IPv4 in an IPv6 tree sits at ::a.b.c.d, as MaxMind's own databases place it.
  const bits = new Uint8Array(16);
  bits.set(network.bytes, 12);
  return { bits, prefixLength: network.prefixLength + 96 };
}

function compareBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * Builds an MMDB file. Overlapping networks: the more specific wins for its addresses; the same
 * network given twice keeps the later record. Identical records are stored once.
 */
export function writeMmdb(entries: readonly MmdbEntry[], options: MmdbWriteOptions): MmdbWriteResult {
  const parsed = entries.map((entry, index) => {
    const result = parseNetwork(entry.network);
    if ('reason' in result) throw new MmdbWriteError(`entry ${index}: ${result.reason}`);
    return { network: result.network, record: entry.record, index };
  });
  const hasV6 = parsed.some((p) => p.network.version === 6);
  const ipVersion: 4 | 6 = options.ipVersion ?? (hasV6 ? 6 : 4);
  if (ipVersion === 4 && hasV6) {
    const first = parsed.find((p) => p.network.version === 6)!;
    throw new MmdbWriteError(`entry ${first.index}: ${entries[first.index]!.network} is IPv6 but ipVersion is 4`);
  }

  const placed = parsed.map((p) => ({ ...toTreeBits(p.network, ipVersion), record: p.record, index: p.index }));
  // Least specific first, so later inserts override; ties by address then input order (stable).
  placed.sort((a, b) => a.prefixLength - b.prefixLength || compareBits(a.bits, b.bits) || a.index - b.index);

  const tree = new SearchTree();
  placed.forEach((p, i) => tree.insert(p.bits, p.prefixLength, i));
  const { left, right } = tree.finish();
  const nodeCount = left.length;

  // Data in tree order, so only records still reachable are written, in a deterministic order.
  const data = new DataSectionEncoder();
  const offsetOf = new Map<number, number>();
  const dataOffset = (slot: number): number => {
    const i = slotRecord(slot);
    let offset = offsetOf.get(i);
    if (offset === undefined) {
      offset = data.add(placed[i]!.record);
      offsetOf.set(i, offset);
    }
    return offset;
  };
  const leftOffsets = left.map((s) => (s <= -2 ? dataOffset(s) : -1));
  const rightOffsets = right.map((s) => (s <= -2 ? dataOffset(s) : -1));
  const dataSectionBytes = data.sink.length;

  const largestRecord = nodeCount + DATA_SEPARATOR_BYTES + dataSectionBytes;
  const fitting = ([24, 28, 32] as const).find((size) => largestRecord < 2 ** size);
  if (fitting === undefined) throw new MmdbWriteError(`database too large: record value ${largestRecord} needs more than 32 bits`);
  const recordSize = options.recordSize ?? fitting;
  if (recordSize < fitting) {
    throw new MmdbWriteError(`recordSize ${recordSize} cannot address ${nodeCount} nodes and ${dataSectionBytes} data bytes; use ${fitting} or more`);
  }

  const toRecord = (slot: number, offset: number): number => {
    if (slot >= 0) return slot;
    if (slot === EMPTY) return nodeCount;
    return nodeCount + DATA_SEPARATOR_BYTES + offset;
  };
  const nodeBytes = (recordSize * 2) / 8;
  const treeBytes = Buffer.alloc(nodeCount * nodeBytes);
  for (let n = 0; n < nodeCount; n++) {
    writeRecordPair(treeBytes, n * nodeBytes, recordSize, toRecord(left[n]!, leftOffsets[n]!), toRecord(right[n]!, rightOffsets[n]!));
  }

  const metadata = encodeMetadata({ nodeCount, recordSize, ipVersion, options });
  const bytes = Buffer.concat([
    treeBytes,
    Buffer.alloc(DATA_SEPARATOR_BYTES),
    data.sink.slice(0, dataSectionBytes),
    METADATA_MARKER,
    metadata,
  ]);
  return { bytes, networkCount: entries.length, nodeCount, recordSize, ipVersion, dataSectionBytes };
}
