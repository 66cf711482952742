/**
 * A MaxMind DB (MMDB v2) reader for the per-flow path: ASN, geo and IP-list look-ups.
 *
 * Why not the `maxmind` npm package here: its `get(text)` parses the address text on every call,
 * and a flow is looked up in five or more databases per side. A flow's addresses are parsed once
 * at the edge (`parseIp`), so this reader walks the search tree straight from the parsed bits:
 * `lookupOffset` allocates nothing, and `lookup` decodes a record once per data offset and then
 * serves the cached (frozen) object. Decoded values match what `maxmind` returns (maps as plain
 * objects, uint64/uint128 as bigint, bytes as Buffer).
 *
 * The whole file is read into memory at open, and every tree record is checked to point at a node,
 * "no data" or inside the data section, so a corrupt or truncated file fails at start-up, naming
 * the file, rather than on some later flow.
 */
import { readFileSync } from 'node:fs';
import type { IpAddress } from './ip-address.js';

export interface MmdbMetadata {
  readonly binaryFormatMajorVersion: number;
  readonly binaryFormatMinorVersion: number;
  readonly buildEpochSecs: number;
  readonly databaseType: string;
  readonly description: Readonly<Record<string, string>>;
  readonly languages: readonly string[];
  readonly ipVersion: 4 | 6;
  readonly nodeCount: number;
  readonly recordSize: 24 | 28 | 32;
}

/** A database file that cannot be used. Not retriable: the same bytes fail the same way. */
export class MmdbFormatError extends Error {
  readonly code = 'THEMIS_MMDB_FORMAT';
  readonly retriable = false;
  constructor(
    readonly file: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${reason}`, options);
    this.name = 'MmdbFormatError';
  }
}

const METADATA_MARKER = Buffer.from([0xab, 0xcd, 0xef, ...Buffer.from('MaxMind.com', 'ascii')]);
/** The spec puts the metadata in the last 128 KiB of the file. */
const METADATA_SEARCH_BYTES = 128 * 1024;
const DATA_SEPARATOR_BYTES = 16;
const DEFAULT_MAX_CACHED_RECORDS = 65_536;

const TYPE_POINTER = 1;
const TYPE_UTF8 = 2;
const TYPE_DOUBLE = 3;
const TYPE_BYTES = 4;
const TYPE_UINT16 = 5;
const TYPE_UINT32 = 6;
const TYPE_MAP = 7;
const TYPE_INT32 = 8;
const TYPE_UINT64 = 9;
const TYPE_UINT128 = 10;
const TYPE_ARRAY = 11;
const TYPE_BOOLEAN = 14;
const TYPE_FLOAT = 15;

/**
 * Decodes MMDB data-section values from `buf`. Pointers are relative to `base` (the data section
 * start, or the metadata start for metadata); every read is bounds-checked against `end`.
 */
class ValueDecoder {
  private pos = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly base: number,
    private readonly end: number,
    private readonly file: string,
  ) {}

  /** Decodes the value at `offset` from `base`. */
  decodeAt(offset: number): unknown {
    this.pos = this.base + offset;
    return this.value(0);
  }

  private fail(reason: string): never {
    throw new MmdbFormatError(this.file, `${reason} at data offset ${this.pos - this.base}`);
  }

  private need(n: number): void {
    if (this.pos + n > this.end) this.fail(`value runs past the end of its section (${n} more bytes needed)`);
  }

  private byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  private value(depth: number): unknown {
    // Pointer chains and nesting are bounded in valid files; a loop means corruption.
    if (depth > 64) this.fail('values nested more than 64 deep (pointer loop?)');
    const ctrl = this.byte();
    let type = ctrl >> 5;
    if (type === TYPE_POINTER) {
      const target = this.pointer(ctrl);
      const resume = this.pos;
      if (target < 0 || this.base + target >= this.end) this.fail(`pointer to ${target} outside the section`);
      this.pos = this.base + target;
      const v = this.value(depth + 1);
      this.pos = resume;
      return v;
    }
    if (type === 0) {
      type = 7 + this.byte();
      if (type < 8 || type > TYPE_FLOAT) this.fail(`unknown extended type ${type}`);
    }
    const size = this.size(ctrl & 0x1f);
    switch (type) {
      case TYPE_UTF8: {
        this.need(size);
        const s = this.buf.toString('utf8', this.pos, this.pos + size);
        this.pos += size;
        return s;
      }
      case TYPE_DOUBLE: {
        if (size !== 8) this.fail(`double of ${size} bytes`);
        this.need(8);
        const d = this.buf.readDoubleBE(this.pos);
        this.pos += 8;
        return d;
      }
      case TYPE_FLOAT: {
        if (size !== 4) this.fail(`float of ${size} bytes`);
        this.need(4);
        const f = this.buf.readFloatBE(this.pos);
        this.pos += 4;
        return f;
      }
      case TYPE_BYTES: {
        this.need(size);
        const b = Buffer.from(this.buf.subarray(this.pos, this.pos + size));
        this.pos += size;
        return b;
      }
      case TYPE_UINT16:
      case TYPE_UINT32:
      case TYPE_INT32: {
        const max = type === TYPE_UINT16 ? 2 : 4;
        if (size > max) this.fail(`integer of ${size} bytes for a ${max}-byte type`);
        this.need(size);
        let v = 0;
        for (let i = 0; i < size; i++) v = v * 256 + this.buf[this.pos + i]!;
        this.pos += size;
        // A 4-byte int32 carries its sign in the top bit; shorter ones are non-negative.
        return type === TYPE_INT32 && size === 4 ? v | 0 : v;
      }
      case TYPE_UINT64:
      case TYPE_UINT128: {
        const max = type === TYPE_UINT64 ? 8 : 16;
        if (size > max) this.fail(`integer of ${size} bytes for a ${max}-byte type`);
        this.need(size);
        let v = 0n;
        for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(this.buf[this.pos + i]!);
        this.pos += size;
        return v;
      }
      case TYPE_BOOLEAN:
        if (size > 1) this.fail(`boolean with value ${size}`);
        return size === 1;
      case TYPE_MAP: {
        const map: Record<string, unknown> = {};
        for (let i = 0; i < size; i++) {
          const key = this.value(depth + 1);
          if (typeof key !== 'string') this.fail('map key is not a string');
          const v = this.value(depth + 1);
          // Guard the one key that would otherwise replace the object's prototype.
          if (key === '__proto__') Object.defineProperty(map, key, { value: v, enumerable: true, writable: true, configurable: true });
          else map[key] = v;
        }
        return map;
      }
      case TYPE_ARRAY: {
        const array = new Array<unknown>(size);
        for (let i = 0; i < size; i++) array[i] = this.value(depth + 1);
        return array;
      }
      default:
        return this.fail(`type ${type} is not allowed in the data section`);
    }
  }

  private size(code: number): number {
    if (code < 29) return code;
    if (code === 29) return 29 + this.byte();
    if (code === 30) {
      this.need(2);
      const v = this.buf.readUInt16BE(this.pos);
      this.pos += 2;
      return 285 + v;
    }
    this.need(3);
    const v = this.buf.readUIntBE(this.pos, 3);
    this.pos += 3;
    return 65_821 + v;
  }

  private pointer(ctrl: number): number {
    const sizeCode = (ctrl >> 3) & 3;
    const high = ctrl & 7;
    this.need(sizeCode + 1);
    const p = this.pos;
    this.pos += sizeCode + 1;
    const b = this.buf;
    switch (sizeCode) {
      case 0:
        return (high << 8) | b[p]!;
      case 1:
        return ((high << 16) | (b[p]! << 8) | b[p + 1]!) + 2048;
      case 2:
        return ((high << 24) | (b[p]! << 16) | (b[p + 1]! << 8) | b[p + 2]!) + 526_336;
      default:
        return b.readUInt32BE(p);
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}

function parseMetadata(buf: Buffer, file: string): { metadata: MmdbMetadata; markerStart: number } {
  const searchFrom = Math.max(0, buf.length - METADATA_SEARCH_BYTES);
  const marker = buf.lastIndexOf(METADATA_MARKER);
  if (marker < searchFrom) {
    throw new MmdbFormatError(file, 'no MaxMind DB metadata marker in the last 128 KiB (truncated, or not an MMDB file)');
  }
  const metadataStart = marker + METADATA_MARKER.length;
  const raw = new ValueDecoder(buf, metadataStart, buf.length, file).decodeAt(0);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new MmdbFormatError(file, 'metadata is not a map');
  const m = raw as Record<string, unknown>;
  const problems: string[] = [];
  const num = (key: string): number => {
    const v = m[key];
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    problems.push(`metadata ${key} is missing or not a number`);
    return NaN;
  };
  const major = num('binary_format_major_version');
  const minor = num('binary_format_minor_version');
  const nodeCount = num('node_count');
  const recordSize = num('record_size');
  const ipVersion = num('ip_version');
  const buildEpochSecs = num('build_epoch');
  if (!Number.isNaN(major) && major !== 2) problems.push(`binary_format_major_version ${major} is not supported (only 2)`);
  if (!Number.isNaN(recordSize) && recordSize !== 24 && recordSize !== 28 && recordSize !== 32) {
    problems.push(`record_size ${recordSize} is not 24, 28 or 32`);
  }
  if (!Number.isNaN(ipVersion) && ipVersion !== 4 && ipVersion !== 6) problems.push(`ip_version ${ipVersion} is not 4 or 6`);
  if (!Number.isNaN(nodeCount) && !(Number.isInteger(nodeCount) && nodeCount > 0)) problems.push(`node_count ${nodeCount} is not a positive integer`);
  if (problems.length > 0) throw new MmdbFormatError(file, problems.join('; '));
  const description = m['description'];
  const languages = m['languages'];
  return {
    markerStart: marker,
    metadata: deepFreeze({
      binaryFormatMajorVersion: major,
      binaryFormatMinorVersion: minor,
      buildEpochSecs,
      databaseType: typeof m['database_type'] === 'string' ? (m['database_type'] as string) : '',
      description: typeof description === 'object' && description !== null ? (description as Record<string, string>) : {},
      languages: Array.isArray(languages) ? (languages as string[]) : [],
      ipVersion: ipVersion as 4 | 6,
      nodeCount,
      recordSize: recordSize as 24 | 28 | 32,
    }),
  };
}

export interface MmdbReaderOptions {
  /** Decoded records kept by data offset; the cache is emptied when it reaches this size. */
  readonly maxCachedRecords?: number;
}

export class MmdbReader {
  readonly metadata: MmdbMetadata;
  private readonly tree: Buffer;
  private readonly nodeCount: number;
  private readonly recordSize: number;
  private readonly dataSectionBytes: number;
  /** Where an IPv4 walk starts: the record reached by 96 zero bits in an IPv6 tree, 0 in IPv4. */
  private readonly ipv4Start: number;
  private readonly decoder: ValueDecoder;
  private readonly cache = new Map<number, unknown>();
  private readonly maxCachedRecords: number;

  private constructor(
    buf: Buffer,
    readonly file: string,
    options: MmdbReaderOptions,
  ) {
    const { metadata, markerStart } = parseMetadata(buf, file);
    this.metadata = metadata;
    this.nodeCount = metadata.nodeCount;
    this.recordSize = metadata.recordSize;
    const treeBytes = (this.nodeCount * this.recordSize) / 4;
    const dataStart = treeBytes + DATA_SEPARATOR_BYTES;
    if (dataStart > markerStart) {
      throw new MmdbFormatError(file, `node_count ${this.nodeCount} × ${this.recordSize}-bit records needs ${dataStart} bytes before the metadata, found ${markerStart}`);
    }
    for (let i = treeBytes; i < dataStart; i++) {
      if (buf[i] !== 0) throw new MmdbFormatError(file, `data section separator at byte ${treeBytes} is not 16 zero bytes (wrong node_count or corrupt tree)`);
    }
    this.tree = buf.subarray(0, treeBytes);
    this.dataSectionBytes = markerStart - dataStart;
    this.decoder = new ValueDecoder(buf, dataStart, markerStart, file);
    this.maxCachedRecords = options.maxCachedRecords ?? DEFAULT_MAX_CACHED_RECORDS;
    this.checkTree();
    this.ipv4Start = this.findIpv4Start();
  }

  static open(path: string, options: MmdbReaderOptions = {}): MmdbReader {
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch (cause) {
      throw new MmdbFormatError(path, `cannot read: ${(cause as Error).message}`, { cause });
    }
    return new MmdbReader(buf, path, options);
  }

  static fromBuffer(buf: Buffer, name = '<buffer>', options: MmdbReaderOptions = {}): MmdbReader {
    return new MmdbReader(buf, name, options);
  }

  private record(node: number, bit: number): number {
    const t = this.tree;
    switch (this.recordSize) {
      case 24: {
        const at = node * 6 + bit * 3;
        return (t[at]! << 16) | (t[at + 1]! << 8) | t[at + 2]!;
      }
      case 28: {
        const at = node * 7;
        if (bit === 0) return ((t[at + 3]! & 0xf0) << 20) | (t[at]! << 16) | (t[at + 1]! << 8) | t[at + 2]!;
        return ((t[at + 3]! & 0x0f) << 24) | (t[at + 4]! << 16) | (t[at + 5]! << 8) | t[at + 6]!;
      }
      default: {
        const at = node * 8 + bit * 4;
        return ((t[at]! << 24) | (t[at + 1]! << 16) | (t[at + 2]! << 8) | t[at + 3]!) >>> 0;
      }
    }
  }

  /** Every record must be a node, "no data", or an offset inside the data section. */
  private checkTree(): void {
    const limit = this.nodeCount + DATA_SEPARATOR_BYTES + this.dataSectionBytes;
    for (let node = 0; node < this.nodeCount; node++) {
      for (let bit = 0; bit < 2; bit++) {
        const r = this.record(node, bit);
        if (r > this.nodeCount && (r < this.nodeCount + DATA_SEPARATOR_BYTES || r >= limit)) {
          throw new MmdbFormatError(this.file, `search tree node ${node} record ${bit} (${r}) points outside the data section`);
        }
      }
    }
  }

  /** Node (or terminal record) reached by each 16-bit prefix from the IPv4 start and from the root; built on first use. */
  private v4Prefix: Uint32Array | null = null;
  private v6Prefix: Uint32Array | null = null;

  private buildPrefix(start: number): Uint32Array {
    const table = new Uint32Array(1 << 16);
    for (let p = 0; p < 1 << 16; p++) {
      let node = start;
      for (let i = 0; i < 16 && node < this.nodeCount; i++) node = this.record(node, (p >>> (15 - i)) & 1);
      table[p] = node;
    }
    return table;
  }

  private findIpv4Start(): number {
    if (this.metadata.ipVersion === 4) return 0;
    let node = 0;
    for (let i = 0; i < 96 && node < this.nodeCount; i++) node = this.record(node, 0);
    return node;
  }

  private resolve(node: number, ip: IpAddress, bits: number): number {
    if (node === this.nodeCount) return -1;
    if (node > this.nodeCount) return node - this.nodeCount - DATA_SEPARATOR_BYTES;
    throw new MmdbFormatError(this.file, `search tree is deeper than ${bits} bits at ${ip.text}`);
  }

  /**
   * Data-section offset of the record covering `ip`, or -1 when no network covers it (or `ip` is
   * IPv6 and the database IPv4-only). Allocates nothing; use it for hit/miss checks.
   */
  lookupOffset(ip: IpAddress): number {
    const nodeCount = this.nodeCount;
    if (ip.version === 4) {
      const v4 = ip.v4;
      // The first 16 levels come from the prefix table: one look-up instead of 16 dependent reads.
      const prefix = this.v4Prefix ?? (this.v4Prefix = this.buildPrefix(this.ipv4Start));
      let node = prefix[v4 >>> 16]!;
      for (let i = 16; i < 32 && node < nodeCount; i++) node = this.record(node, (v4 >>> (31 - i)) & 1);
      return this.resolve(node, ip, 32);
    }
    if (this.metadata.ipVersion === 4) return -1;
    const bytes = ip.bytes;
    const prefix = this.v6Prefix ?? (this.v6Prefix = this.buildPrefix(0));
    let node = prefix[(bytes[0]! << 8) | bytes[1]!]!;
    for (let i = 16; i < 128 && node < nodeCount; i++) node = this.record(node, (bytes[i >> 3]! >> (7 - (i & 7))) & 1);
    return this.resolve(node, ip, 128);
  }

  /** The decoded (frozen, shared) record covering `ip`, or null. */
  lookup<T>(ip: IpAddress): T | null {
    const offset = this.lookupOffset(ip);
    return offset === -1 ? null : this.recordAt<T>(offset);
  }

  /** The decoded record at a data-section offset returned by `lookupOffset`. */
  recordAt<T>(offset: number): T {
    const cached = this.cache.get(offset);
    if (cached !== undefined) return cached as T;
    const value = deepFreeze(this.decoder.decodeAt(offset));
    // Clearing (not LRU) keeps the hit path to one Map.get; hot records come back on next use.
    if (this.cache.size >= this.maxCachedRecords) this.cache.clear();
    this.cache.set(offset, value);
    return value as T;
  }
}
