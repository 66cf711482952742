/**
 * A test-only encoder of NetFlow v5, NetFlow v9 and IPFIX datagrams, written from the RFCs (3954,
 * 7011, 5103) independently of the decoder in spouts/collector/, so that tests can build exactly
 * the datagram a case needs: templates, options templates, withdrawals, data with variable-length
 * and enterprise fields, and raw sets for broken input.
 */

export interface FieldSpec {
  id: number;
  /** Octets; 65535 for a variable-length IPFIX field. */
  length: number;
  /** IPFIX private enterprise number; sets bit 0x8000 of the id on the wire. */
  enterprise?: number;
}

/** A number or bigint (big-endian in the field's length), an address as text, or raw octets. */
export type FieldValue = number | bigint | string | Uint8Array;

export type SetSpec =
  | { kind: 'template'; templates: Array<{ id: number; fields: FieldSpec[] }> }
  | { kind: 'options'; templates: Array<{ id: number; scope: FieldSpec[]; fields: FieldSpec[] }> }
  /** IPFIX template withdrawals (field count 0); id 2 or 3 withdraws all of a kind. */
  | { kind: 'withdraw'; ids: number[]; isOptions?: boolean }
  | { kind: 'data'; templateId: number; fields: FieldSpec[]; records: FieldValue[][]; padding?: number }
  | { kind: 'raw'; setId: number; body: Uint8Array };

export const VARIABLE = 65_535;

/** sourceIPv4Address, destinationIPv4Address, source and destination port, protocolIdentifier. */
export const IPV4_KEY_FIELDS: readonly FieldSpec[] = [
  { id: 8, length: 4 },
  { id: 12, length: 4 },
  { id: 7, length: 2 },
  { id: 11, length: 2 },
  { id: 4, length: 1 },
];

export function ipBytes(text: string): Uint8Array {
  if (!text.includes(':')) return Uint8Array.from(text.split('.').map(Number));
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head === '' ? [] : head!.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups].map((g) => parseInt(g, 16));
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

class Writer {
  private readonly bytes: number[] = [];
  get length(): number {
    return this.bytes.length;
  }
  uint(value: number | bigint, length: number): this {
    let v = BigInt(value);
    const octets: number[] = [];
    for (let i = 0; i < length; i++) {
      octets.unshift(Number(v & 0xffn));
      v >>= 8n;
    }
    this.bytes.push(...octets);
    return this;
  }
  raw(octets: Uint8Array | number[]): this {
    this.bytes.push(...octets);
    return this;
  }
  setUint16(at: number, value: number): void {
    this.bytes[at] = value >> 8;
    this.bytes[at + 1] = value & 0xff;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

export interface V5Record {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  packets: number;
  bytes: number;
  /** sysUptime (ms) at the first and last packet. */
  first: number;
  last: number;
  flags: number;
  protocol: number;
  tos: number;
}

export function encodeV5(
  header: { sysUptimeMs: number; unixSecs: number; unixNsecs?: number; sequence: number; engineType?: number; engineId?: number; sampling?: number },
  records: V5Record[],
): Uint8Array {
  const w = new Writer()
    .uint(5, 2)
    .uint(records.length, 2)
    .uint(header.sysUptimeMs, 4)
    .uint(header.unixSecs, 4)
    .uint(header.unixNsecs ?? 0, 4)
    .uint(header.sequence, 4)
    .uint(header.engineType ?? 0, 1)
    .uint(header.engineId ?? 0, 1)
    .uint(header.sampling ?? 0, 2);
  for (const r of records) {
    w.raw(ipBytes(r.src)).raw(ipBytes(r.dst)).uint(0, 4).uint(1, 2).uint(2, 2);
    w.uint(r.packets, 4).uint(r.bytes, 4).uint(r.first, 4).uint(r.last, 4);
    w.uint(r.srcPort, 2).uint(r.dstPort, 2).uint(0, 1).uint(r.flags, 1).uint(r.protocol, 1).uint(r.tos, 1);
    w.uint(0, 2).uint(0, 2).uint(24, 1).uint(24, 1).uint(0, 2);
  }
  return w.done();
}

function fieldSpecs(w: Writer, fields: FieldSpec[], isIpfix: boolean): void {
  for (const f of fields) {
    if (f.enterprise !== undefined && isIpfix) w.uint(f.id | 0x8000, 2).uint(f.length, 2).uint(f.enterprise, 4);
    else w.uint(f.id, 2).uint(f.length, 2);
  }
}

function fieldValue(w: Writer, f: FieldSpec, value: FieldValue): void {
  const octets = typeof value === 'string' ? ipBytes(value) : value instanceof Uint8Array ? value : undefined;
  if (f.length === VARIABLE) {
    const data = octets ?? new Uint8Array(0);
    if (data.length < 255) w.uint(data.length, 1);
    else w.uint(255, 1).uint(data.length, 2);
    w.raw(data);
  } else if (octets !== undefined) {
    if (octets.length !== f.length) throw new Error(`value of ${octets.length} octets for field ${f.id} of length ${f.length}`);
    w.raw(octets);
  } else {
    w.uint(value as number | bigint, f.length);
  }
}

function encodeSets(w: Writer, sets: SetSpec[], isIpfix: boolean): void {
  for (const set of sets) {
    const start = w.length;
    let setId: number;
    switch (set.kind) {
      case 'template':
        setId = isIpfix ? 2 : 0;
        w.uint(setId, 2).uint(0, 2);
        for (const t of set.templates) {
          w.uint(t.id, 2).uint(t.fields.length, 2);
          fieldSpecs(w, t.fields, isIpfix);
        }
        break;
      case 'options':
        setId = isIpfix ? 3 : 1;
        w.uint(setId, 2).uint(0, 2);
        for (const t of set.templates) {
          if (isIpfix) w.uint(t.id, 2).uint(t.scope.length + t.fields.length, 2).uint(t.scope.length, 2);
          else w.uint(t.id, 2).uint(t.scope.length * 4, 2).uint(t.fields.length * 4, 2);
          fieldSpecs(w, [...t.scope, ...t.fields], isIpfix);
        }
        break;
      case 'withdraw':
        setId = set.isOptions ? 3 : 2;
        w.uint(setId, 2).uint(0, 2);
        for (const id of set.ids) w.uint(id, 2).uint(0, 2);
        break;
      case 'data':
        setId = set.templateId;
        w.uint(setId, 2).uint(0, 2);
        for (const record of set.records) set.fields.forEach((f, i) => fieldValue(w, f, record[i]!));
        w.raw(new Array<number>(set.padding ?? 0).fill(0));
        break;
      case 'raw':
        w.uint(set.setId, 2).uint(set.body.length + 4, 2).raw(set.body);
        break;
    }
    if (set.kind !== 'raw') w.setUint16(start + 2, w.length - start);
  }
}

export function encodeV9(header: { sysUptimeMs: number; unixSecs: number; sequence: number; sourceId: number; count?: number }, sets: SetSpec[]): Uint8Array {
  const w = new Writer().uint(9, 2).uint(header.count ?? sets.length, 2).uint(header.sysUptimeMs, 4).uint(header.unixSecs, 4);
  w.uint(header.sequence, 4).uint(header.sourceId, 4);
  encodeSets(w, sets, false);
  return w.done();
}

export function encodeIpfix(header: { exportSecs: number; sequence: number; domainId: number }, sets: SetSpec[]): Uint8Array {
  const w = new Writer().uint(10, 2).uint(0, 2).uint(header.exportSecs, 4).uint(header.sequence, 4).uint(header.domainId, 4);
  encodeSets(w, sets, true);
  w.setUint16(2, w.length);
  return w.done();
}
