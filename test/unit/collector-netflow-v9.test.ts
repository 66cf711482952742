import { describe, expect, it } from 'vitest';
import { FlowDecoder, type DecodedFlow } from '../../spouts/collector/flow-decoder.js';
import { encodeV9, type FieldSpec, type FieldValue, type SetSpec } from '../helpers/flow-export-encoder.js';

const EXPORTER = '192.0.2.9:2055';
const T0 = 1_700_000_000_000;

// RFC 3954 §8 type numbers.
const V4_FIELDS: FieldSpec[] = [
  { id: 8, length: 4 }, // IPV4_SRC_ADDR
  { id: 12, length: 4 }, // IPV4_DST_ADDR
  { id: 7, length: 2 }, // L4_SRC_PORT
  { id: 11, length: 2 }, // L4_DST_PORT
  { id: 4, length: 1 }, // PROTOCOL
  { id: 6, length: 1 }, // TCP_FLAGS
  { id: 5, length: 1 }, // SRC_TOS
  { id: 2, length: 4 }, // IN_PKTS
  { id: 1, length: 8 }, // IN_BYTES
  { id: 22, length: 4 }, // FIRST_SWITCHED
  { id: 21, length: 4 }, // LAST_SWITCHED
  { id: 10, length: 2 }, // INPUT_SNMP (skipped)
];
const V4_TEMPLATE: SetSpec = { kind: 'template', templates: [{ id: 256, fields: V4_FIELDS }] };
const v4Data = (records: FieldValue[][]): SetSpec => ({ kind: 'data', templateId: 256, fields: V4_FIELDS, records, padding: 2 });
const V4_RECORD: FieldValue[] = ['10.0.0.1', '203.0.113.5', 51_000, 22, 6, 0x12, 0, 7, 1234n, 995_000, 999_999, 3];
const header = (sequence: number, sourceId = 1) => ({ sysUptimeMs: 1_000_000, unixSecs: 1_650_000_000, sequence, sourceId });

function decodeAll(decoder: FlowDecoder, datagrams: Uint8Array[], nowMs = T0): DecodedFlow[] {
  const out: DecodedFlow[] = [];
  for (const d of datagrams) decoder.decode(d, EXPORTER, nowMs, out);
  return out;
}

describe('NetFlow v9 decoding', () => {
  it('decodes data with the template of the same datagram, times relative to the header uptime', () => {
    const out = decodeAll(new FlowDecoder(), [encodeV9(header(0), [V4_TEMPLATE, v4Data([V4_RECORD])])]);
    expect(out).toEqual([
      {
        // First 995,000 ms of uptime is 5 s before the export (uptime 1,000,000), last 0.001 s before.
        start_timestamp_unix_secs: 1_649_999_995,
        end_timestamp_unix_secs: 1_649_999_999,
        protocol: 6,
        src_ip: '10.0.0.1',
        dst_ip: '203.0.113.5',
        src_port: 51_000,
        dst_port: 22,
        packets: 7,
        bytes: 1234,
        flags: '.A..S.',
        tos: 0,
      },
    ]);
  });

  it('places flows up to 49 days before the export, whether the counter wrapped or the exporter wrote a negative offset', () => {
    const fields = V4_FIELDS.slice(0, 11);
    const record = (first: number, last: number): FieldValue[] => [...V4_RECORD.slice(0, 9), first, last];
    const thirtyDaysMs = 30 * 86_400_000;
    const out = decodeAll(new FlowDecoder(), [
      encodeV9({ sysUptimeMs: 3_000_000_000, unixSecs: 1_650_000_000, sequence: 0, sourceId: 1 }, [
        { kind: 'template', templates: [{ id: 256, fields }] },
        // 30 days before: farther than a signed 32-bit difference reaches.
        { kind: 'data', templateId: 256, fields, records: [record(3_000_000_000 - thirtyDaysMs, 3_000_000_000 - 1000)] },
      ]),
      // softflowd reading a capture: uptime 0 at export, the flow 10 ms before, written unsigned.
      encodeV9({ sysUptimeMs: 0, unixSecs: 1_650_000_000, sequence: 1, sourceId: 1 }, [{ kind: 'data', templateId: 256, fields, records: [record(2 ** 32 - 10, 2 ** 32 - 10)] }]),
    ]);
    expect(out.map((f) => [f.start_timestamp_unix_secs, f.end_timestamp_unix_secs])).toEqual([
      [1_650_000_000 - 30 * 86_400, 1_649_999_999],
      [1_649_999_999, 1_649_999_999],
    ]);
  });

  it('decodes IPv6 addresses into compressed lowercase text', () => {
    const fields: FieldSpec[] = [
      { id: 27, length: 16 },
      { id: 28, length: 16 },
      { id: 4, length: 1 },
      { id: 2, length: 4 },
      { id: 1, length: 4 },
    ];
    const datagram = encodeV9(header(0), [
      { kind: 'template', templates: [{ id: 300, fields }] },
      { kind: 'data', templateId: 300, fields, records: [['2001:db8:0:0:0:0:0:1', 'fe80:0:0:1:0:0:0:0', 17, 1, 80], ['0:0:0:0:0:ffff:c000:201', '0:0:0:0:0:0:0:1', 17, 1, 80]] },
    ]);
    const out = decodeAll(new FlowDecoder(), [datagram]);
    expect(out.map((f) => [f.src_ip, f.dst_ip, f.flags, f.src_port])).toEqual([
      ['2001:db8::1', 'fe80:0:0:1::', '......', 0],
      ['::ffff:192.0.2.1', '::1', '......', 0],
    ]);
  });

  it('holds data that comes before its template and releases it, with its own header times, when the template arrives', () => {
    const decoder = new FlowDecoder();
    // A Buffer, as node:dgram gives, overwritten after decode as a reused receive buffer would be.
    const early = Buffer.from(encodeV9({ ...header(0), unixSecs: 1_650_000_000 }, [v4Data([V4_RECORD, V4_RECORD])]));
    expect(decodeAll(decoder, [early])).toEqual([]);
    early.fill(0);
    expect(decoder.stats()[0]).toMatchObject({ heldRecords: 1, templateMisses: 0, flows: 0 });
    const out: DecodedFlow[] = [];
    const appended = decoder.decode(encodeV9({ ...header(1), unixSecs: 1_650_000_100 }, [V4_TEMPLATE]), EXPORTER, T0 + 1000, out);
    expect(appended).toBe(2);
    expect(out[0]).toMatchObject({ start_timestamp_unix_secs: 1_649_999_995, src_ip: '10.0.0.1', bytes: 1234 });
    expect(decoder.stats()[0]).toMatchObject({ heldRecords: 0, templateMisses: 0, flows: 2, templates: 1 });
  });

  it('counts held data as a template miss once it has waited too long, and never decodes it', () => {
    const decoder = new FlowDecoder({ holdSecs: 5 });
    decodeAll(decoder, [encodeV9(header(0), [v4Data([V4_RECORD])])], T0);
    decoder.expireHeld(T0 + 4000);
    expect(decoder.stats()[0]).toMatchObject({ heldRecords: 1, templateMisses: 0 });
    decoder.expireHeld(T0 + 6000);
    expect(decoder.stats()[0]).toMatchObject({ heldRecords: 0, templateMisses: 1 });
    expect(decodeAll(decoder, [encodeV9(header(1), [V4_TEMPLATE])], T0 + 7000)).toEqual([]);
  });

  it('keeps at most maxHeldDatagrams sets per exporter, counting the oldest as misses', () => {
    const decoder = new FlowDecoder({ maxHeldDatagrams: 2 });
    decodeAll(decoder, [0, 1, 2, 3].map((i) => encodeV9(header(i), [v4Data([V4_RECORD])])));
    expect(decoder.stats()[0]).toMatchObject({ heldRecords: 2, templateMisses: 2 });
    expect(decodeAll(decoder, [encodeV9(header(4), [V4_TEMPLATE])])).toHaveLength(2);
    decoder.dropHeld();
    expect(decoder.stats()[0]).toMatchObject({ heldRecords: 0, templateMisses: 2 });
  });

  it('keeps templates per source id', () => {
    const decoder = new FlowDecoder();
    const out = decodeAll(decoder, [encodeV9(header(0, 1), [V4_TEMPLATE]), encodeV9(header(0, 2), [v4Data([V4_RECORD])])]);
    expect(out).toEqual([]);
    expect(decoder.stats()[0]).toMatchObject({ heldRecords: 1, templates: 1 });
  });

  it('reads the sampling interval from options data and scales counters only when asked', () => {
    for (const samplingField of [34, 50]) {
      const optionFields: FieldSpec[] = [{ id: samplingField, length: 4 }];
      const scope: FieldSpec[] = [{ id: 1, length: 4 }]; // scope "System", not an information element
      const datagram = encodeV9(header(0), [
        { kind: 'options', templates: [{ id: 257, scope, fields: optionFields }] },
        { kind: 'data', templateId: 257, fields: [...scope, ...optionFields], records: [[0, 64]] },
        V4_TEMPLATE,
        v4Data([V4_RECORD]),
      ]);
      expect(decodeAll(new FlowDecoder({ scaleBySampling: true }), [datagram])[0], `field ${samplingField}`).toMatchObject({ packets: 7 * 64, bytes: 1234 * 64 });
      expect(decodeAll(new FlowDecoder(), [datagram])[0]).toMatchObject({ packets: 7, bytes: 1234 });
    }
  });

  it('counts export packets lost from the sequence, per source id', () => {
    const decoder = new FlowDecoder();
    decodeAll(decoder, [
      encodeV9(header(10, 1), [V4_TEMPLATE]),
      encodeV9(header(11, 1), []),
      encodeV9(header(500, 2), []),
      encodeV9(header(14, 1), []), // 12 and 13 lost
      encodeV9(header(501, 2), []),
    ]);
    expect(decoder.stats()[0]).toMatchObject({ sequenceGaps: 1, sequenceMissing: 2 });
  });

  it('drops a malformed datagram from the bad flowset on, keeping the flowsets before it', () => {
    const decoder = new FlowDecoder();
    const good = encodeV9(header(0), [V4_TEMPLATE, v4Data([V4_RECORD])]);
    // A flowset header claiming 2 octets, then one claiming more than is left.
    const shortSet = Uint8Array.from([...good, 0x01, 0x00, 0x00, 0x02]);
    const longSet = Uint8Array.from([...good, 0x01, 0x00, 0x01, 0x00, 0, 0, 0, 0]);
    const out = decodeAll(decoder, [shortSet, longSet]);
    expect(out).toHaveLength(2);
    expect(decoder.stats()[0]).toMatchObject({ malformed: 2, flows: 2 });
    expect(decoder.stats()[0]!.lastMalformed).toMatch(/past the datagram's end/);
  });

  it('refuses a template whose field cannot hold its type, and holds its data rather than guess', () => {
    const decoder = new FlowDecoder();
    const bad: FieldSpec[] = [{ id: 8, length: 3 }, { id: 12, length: 4 }];
    const zero: FieldSpec[] = [{ id: 8, length: 4 }, { id: 99, length: 0 }];
    const variable: FieldSpec[] = [{ id: 8, length: 4 }, { id: 99, length: 65_535 }];
    decodeAll(decoder, [
      encodeV9(header(0), [{ kind: 'template', templates: [{ id: 258, fields: variable }] }]),
      encodeV9(header(0), [{ kind: 'template', templates: [{ id: 256, fields: bad }] }]),
      encodeV9(header(1), [{ kind: 'template', templates: [{ id: 257, fields: zero }] }]),
      encodeV9(header(2), [{ kind: 'data', templateId: 256, fields: [{ id: 1, length: 7 }], records: [[1]] }]),
    ]);
    expect(decoder.stats()[0]).toMatchObject({ malformed: 3, templates: 0, heldRecords: 1, flows: 0 });
  });

  it('forgets a template not refreshed within its lifetime', () => {
    const decoder = new FlowDecoder({ templateLifetimeSecs: 60 });
    expect(decodeAll(decoder, [encodeV9(header(0), [V4_TEMPLATE])], T0)).toEqual([]);
    expect(decodeAll(decoder, [encodeV9(header(1), [v4Data([V4_RECORD])])], T0 + 59_000)).toHaveLength(1);
    expect(decodeAll(decoder, [encodeV9(header(2), [v4Data([V4_RECORD])])], T0 + 61_000)).toEqual([]);
    expect(decoder.stats()[0]).toMatchObject({ templates: 0, templatesExpired: 1, heldRecords: 1 });
  });
});
