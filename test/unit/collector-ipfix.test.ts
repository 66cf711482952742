import { describe, expect, it } from 'vitest';
import { FlowDecoder, type DecodedFlow } from '../../spouts/collector/flow-decoder.js';
import { IPV4_KEY_FIELDS, VARIABLE, encodeIpfix, type FieldSpec, type FieldValue, type SetSpec } from '../helpers/flow-export-encoder.js';

const EXPORTER = '[2001:db8::9]:4739';
const T0 = 1_700_000_000_000;
const EXPORT_SECS = 1_690_000_000;
const header = (sequence: number, domainId = 5) => ({ exportSecs: EXPORT_SECS, sequence, domainId });

const BASE: FieldSpec[] = [...IPV4_KEY_FIELDS];
const BASE_VALUES: FieldValue[] = ['192.0.2.10', '198.51.100.20', 40_001, 443, 6];

function decodeAll(decoder: FlowDecoder, datagrams: Uint8Array[], nowMs = T0): DecodedFlow[] {
  const out: DecodedFlow[] = [];
  for (const d of datagrams) decoder.decode(d, EXPORTER, nowMs, out);
  return out;
}

/** One message: the template of `fields` as id 256, then a data set of `records`. */
function withTemplate(fields: FieldSpec[], records: FieldValue[][], sequence = 0): Uint8Array {
  return encodeIpfix(header(sequence), [
    { kind: 'template', templates: [{ id: 256, fields }] },
    { kind: 'data', templateId: 256, fields, records },
  ]);
}

describe('IPFIX decoding', () => {
  it('maps the fields of a record, counters in reduced-size encoding and times in milliseconds', () => {
    const fields = [...BASE, { id: 6, length: 2 }, { id: 5, length: 1 }, { id: 2, length: 2 }, { id: 1, length: 8 }, { id: 152, length: 8 }, { id: 153, length: 8 }];
    const out = decodeAll(new FlowDecoder(), [withTemplate(fields, [[...BASE_VALUES, 0x0118, 8, 300, 2n ** 40n, 1_689_999_990_999, 1_689_999_999_001]])]);
    expect(out).toEqual([
      {
        start_timestamp_unix_secs: 1_689_999_990,
        end_timestamp_unix_secs: 1_689_999_999,
        protocol: 6,
        src_ip: '192.0.2.10',
        dst_ip: '198.51.100.20',
        src_port: 40_001,
        dst_port: 443,
        packets: 300,
        bytes: 2 ** 40,
        // 0x118: ECE (dropped), ACK, PSH.
        flags: '.AP...',
        tos: 8,
      },
    ]);
  });

  it('reads every absolute and relative time form to truncated epoch seconds', () => {
    const ntp = (unixSecs: number, fraction: number) => (BigInt(unixSecs + 2_208_988_800) << 32n) | BigInt(fraction);
    const cases: Array<[string, FieldSpec[], FieldValue[], number, number]> = [
      ['seconds', [{ id: 150, length: 4 }, { id: 151, length: 4 }], [1_689_999_000, 1_689_999_001], 1_689_999_000, 1_689_999_001],
      ['microseconds (NTP)', [{ id: 154, length: 8 }, { id: 155, length: 8 }], [ntp(1_689_999_100, 0xffff_0000), ntp(1_689_999_101, 1)], 1_689_999_100, 1_689_999_101],
      ['nanoseconds (NTP)', [{ id: 156, length: 8 }, { id: 157, length: 8 }], [ntp(1_689_999_200, 0x8000_0000), ntp(1_689_999_202, 0)], 1_689_999_200, 1_689_999_202],
      ['delta microseconds before export', [{ id: 158, length: 4 }, { id: 159, length: 4 }], [10_500_000, 1], EXPORT_SECS - 11, EXPORT_SECS - 1],
      ['sysUpTime with systemInitTimeMilliseconds', [{ id: 160, length: 8 }, { id: 22, length: 4 }, { id: 21, length: 4 }], [1_689_999_000_000, 5_000, 9_999], 1_689_999_005, 1_689_999_009],
      ['no time at all: the export time', [], [], EXPORT_SECS, EXPORT_SECS],
    ];
    for (const [name, timeFields, values, start, end] of cases) {
      const [flow] = decodeAll(new FlowDecoder(), [withTemplate([...BASE, ...timeFields], [[...BASE_VALUES, ...values]])]);
      expect([flow?.start_timestamp_unix_secs, flow?.end_timestamp_unix_secs], name).toEqual([start, end]);
    }
  });

  it('takes systemInitTimeMilliseconds from options data for uptime stamps', () => {
    const optionFields: FieldSpec[] = [{ id: 160, length: 8 }];
    const scope: FieldSpec[] = [{ id: 149, length: 4 }]; // observationDomainId
    const fields = [...BASE, { id: 22, length: 4 }, { id: 21, length: 4 }];
    const datagram = encodeIpfix(header(0), [
      { kind: 'options', templates: [{ id: 400, scope, fields: optionFields }] },
      { kind: 'data', templateId: 400, fields: [...scope, ...optionFields], records: [[5, 1_689_990_000_000]] },
      { kind: 'template', templates: [{ id: 256, fields }] },
      { kind: 'data', templateId: 256, fields, records: [[...BASE_VALUES, 60_000, 61_500]] },
    ]);
    expect(decodeAll(new FlowDecoder(), [datagram])[0]).toMatchObject({ start_timestamp_unix_secs: 1_689_990_060, end_timestamp_unix_secs: 1_689_990_061 });
  });

  it('reads uptime stamps modulo 2^32 ms: a negative one written unsigned, and one from before the counter wrapped', () => {
    const fields = [...BASE, { id: 160, length: 8 }, { id: 22, length: 4 }, { id: 21, length: 4 }];
    const exportMs = EXPORT_SECS * 1000;
    const out = decodeAll(new FlowDecoder(), [
      withTemplate(fields, [
        // softflowd reading a capture: initialised at the export, the flow 28 ms and 10 ms before.
        [...BASE_VALUES, exportMs, 2 ** 32 - 28, 2 ** 32 - 10],
        // Up 60 days: the counter wrapped once; the flow began 2 days and ended 1 s before the export.
        [...BASE_VALUES, exportMs - 60 * 86_400_000, 60 * 86_400_000 - 2 ** 32 - 2 * 86_400_000, 60 * 86_400_000 - 2 ** 32 - 1000],
      ]),
    ]);
    expect(out.map((f) => [f.start_timestamp_unix_secs, f.end_timestamp_unix_secs])).toEqual([
      [EXPORT_SECS - 1, EXPORT_SECS - 1],
      [EXPORT_SECS - 2 * 86_400, EXPORT_SECS - 1],
    ]);
  });

  it('skips variable-length fields in both length forms and enterprise fields, keeping the fields after them', () => {
    const fields: FieldSpec[] = [
      { id: 8, length: 4 },
      { id: 82, length: VARIABLE }, // interfaceName
      { id: 12, length: 4 },
      { id: 1, length: 4, enterprise: 9 }, // a vendor's element, not octetDeltaCount
      { id: 7, length: 2 },
      { id: 3, length: VARIABLE, enterprise: 6871 },
      { id: 11, length: 2 },
      { id: 4, length: 1 },
      { id: 1, length: 4 },
    ];
    const short = new Uint8Array(3).fill(0x61);
    const long = new Uint8Array(300).fill(0x62); // 300 > 254: the 3-octet length form
    const out = decodeAll(new FlowDecoder(), [
      withTemplate(fields, [
        ['192.0.2.1', short, '192.0.2.2', 999, 1000, long, 53, 17, 77],
        ['192.0.2.3', long, '192.0.2.4', 999, 1001, new Uint8Array(0), 54, 17, 78],
      ]),
    ]);
    expect(out.map((f) => [f.src_ip, f.dst_ip, f.src_port, f.dst_port, f.protocol, f.bytes])).toEqual([
      ['192.0.2.1', '192.0.2.2', 1000, 53, 17, 77],
      ['192.0.2.3', '192.0.2.4', 1001, 54, 17, 78],
    ]);
  });

  it('turns an RFC 5103 biflow into both directions, the reverse one only when it has packets', () => {
    const fields: FieldSpec[] = [
      ...BASE,
      { id: 6, length: 1 },
      { id: 2, length: 4 },
      { id: 1, length: 4 },
      { id: 2, length: 4, enterprise: 29_305 }, // reversePacketDeltaCount
      { id: 1, length: 4, enterprise: 29_305 }, // reverseOctetDeltaCount
      { id: 6, length: 1, enterprise: 29_305 }, // reverseTcpControlBits
      { id: 150, length: 4 },
      { id: 151, length: 4 },
    ];
    const out = decodeAll(new FlowDecoder(), [
      withTemplate(fields, [
        [...BASE_VALUES, 0x02, 3, 180, 2, 120, 0x12, 1_689_999_000, 1_689_999_005],
        [...BASE_VALUES, 0x02, 1, 60, 0, 0, 0, 1_689_999_000, 1_689_999_000],
      ]),
    ]);
    expect(out).toEqual([
      expect.objectContaining({ src_ip: '192.0.2.10', dst_ip: '198.51.100.20', src_port: 40_001, dst_port: 443, packets: 3, bytes: 180, flags: '....S.' }),
      {
        start_timestamp_unix_secs: 1_689_999_000,
        end_timestamp_unix_secs: 1_689_999_005,
        protocol: 6,
        src_ip: '198.51.100.20',
        dst_ip: '192.0.2.10',
        src_port: 443,
        dst_port: 40_001,
        packets: 2,
        bytes: 120,
        flags: '.A..S.',
        tos: 0,
      },
      expect.objectContaining({ packets: 1, bytes: 60 }),
    ]);
  });

  it('writes icmpTypeCodeIPv4 as the destination port of an ICMP flow, with source port 0', () => {
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 4, length: 1 }, { id: 32, length: 2 }, { id: 2, length: 4 }];
    const [flow] = decodeAll(new FlowDecoder(), [withTemplate(fields, [['192.0.2.1', '192.0.2.2', 1, 0x0800, 4]])]);
    expect(flow).toMatchObject({ protocol: 1, src_port: 0, dst_port: 2048, flags: '......', packets: 4 });
  });

  it('uses packetTotalCount and octetTotalCount when the delta counters are absent', () => {
    const fields = [...BASE, { id: 86, length: 8 }, { id: 85, length: 8 }];
    expect(decodeAll(new FlowDecoder(), [withTemplate(fields, [[...BASE_VALUES, 9, 900]])])[0]).toMatchObject({ packets: 9, bytes: 900 });
  });

  it('withdraws one template, then all of a domain, and holds data for a withdrawn template', () => {
    const decoder = new FlowDecoder();
    const data = (id: number): SetSpec => ({ kind: 'data', templateId: id, fields: BASE, records: [BASE_VALUES] });
    const define: SetSpec = { kind: 'template', templates: [{ id: 256, fields: BASE }, { id: 257, fields: BASE }, { id: 258, fields: BASE }] };
    expect(decodeAll(decoder, [encodeIpfix(header(0), [define, data(256), data(257)])])).toHaveLength(2);
    expect(decodeAll(decoder, [encodeIpfix(header(2), [{ kind: 'withdraw', ids: [256] }, data(257)])])).toHaveLength(1);
    expect(decoder.stats()[0]).toMatchObject({ templates: 2, heldRecords: 0 });
    expect(decodeAll(decoder, [encodeIpfix(header(3), [data(256)])])).toEqual([]);
    expect(decoder.stats()[0]).toMatchObject({ heldRecords: 1 });
    const options: SetSpec = { kind: 'options', templates: [{ id: 400, scope: [{ id: 149, length: 4 }], fields: [{ id: 34, length: 4 }] }] };
    decodeAll(decoder, [encodeIpfix(header(3), [options, { kind: 'withdraw', ids: [2] }])]);
    // Withdrawing all templates (id 2) leaves the options template; id 3 in an options set takes it.
    expect(decoder.stats()[0]).toMatchObject({ templates: 1, malformed: 0 });
    decodeAll(decoder, [encodeIpfix(header(3), [{ kind: 'withdraw', ids: [3], isOptions: true }])]);
    expect(decoder.stats()[0]).toMatchObject({ templates: 0, malformed: 0 });
  });

  it('applies a redefined template to the data after it', () => {
    const decoder = new FlowDecoder();
    const reordered: FieldSpec[] = [BASE[1]!, BASE[0]!, ...BASE.slice(2)];
    const out = decodeAll(decoder, [withTemplate(BASE, [BASE_VALUES]), withTemplate(reordered, [BASE_VALUES], 1)]);
    expect(out.map((f) => [f.src_ip, f.dst_ip])).toEqual([
      ['192.0.2.10', '198.51.100.20'],
      ['198.51.100.20', '192.0.2.10'],
    ]);
    expect(decoder.stats()[0]).toMatchObject({ templates: 1 });
  });

  it('reads sampling rates from options data: packet interval and space, random interval', () => {
    const scope: FieldSpec[] = [{ id: 302, length: 4 }]; // selectorId
    const cases: Array<[FieldSpec[], FieldValue[], number]> = [
      [[{ id: 305, length: 4 }, { id: 306, length: 4 }], [1, 99], 100],
      [[{ id: 50, length: 4 }], [512], 512],
      [[{ id: 309, length: 4 }, { id: 310, length: 4 }], [10, 1000], 100],
    ];
    for (const [optionFields, values, rate] of cases) {
      const datagram = encodeIpfix(header(0), [
        { kind: 'options', templates: [{ id: 300, scope, fields: optionFields }] },
        { kind: 'data', templateId: 300, fields: [...scope, ...optionFields], records: [[1, ...values]] },
        { kind: 'template', templates: [{ id: 256, fields: [...BASE, { id: 2, length: 4 }, { id: 1, length: 4 }] }] },
        { kind: 'data', templateId: 256, fields: [...BASE, { id: 2, length: 4 }, { id: 1, length: 4 }], records: [[...BASE_VALUES, 3, 200]] },
      ]);
      expect(decodeAll(new FlowDecoder({ scaleBySampling: true }), [datagram])[0], `rate ${rate}`).toMatchObject({ packets: 3 * rate, bytes: 200 * rate });
    }
  });

  it('counts data records lost from the sequence per domain, and resynchronises after held data', () => {
    const decoder = new FlowDecoder();
    const data: SetSpec = { kind: 'data', templateId: 256, fields: BASE, records: [BASE_VALUES, BASE_VALUES, BASE_VALUES] };
    decodeAll(decoder, [
      withTemplate(BASE, [BASE_VALUES, BASE_VALUES], 100), // next: 102
      encodeIpfix(header(102), [data]), // next: 105
      encodeIpfix(header(0, 6), [data]), // another domain: template unknown there, held
      encodeIpfix(header(110), [data]), // 105-109 lost: 5 records
      encodeIpfix(header(9, 6), [data]), // unknown count before: no gap counted
    ]);
    expect(decoder.stats()[0]).toMatchObject({ sequenceGaps: 1, sequenceMissing: 5, heldRecords: 2 });
  });

  it('counts malformed messages with the reason, keeping sets before the bad one', () => {
    const decoder = new FlowDecoder();
    const good = withTemplate(BASE, [BASE_VALUES]);
    const withTail = (tail: number[]): Uint8Array => {
      const bytes = Uint8Array.from([...good, ...tail]);
      bytes[2] = bytes.length >> 8;
      bytes[3] = bytes.length & 0xff;
      return bytes;
    };
    const cases: Array<[Uint8Array, RegExp]> = [
      [good.subarray(0, good.length - 3), /message length \d+ does not fit/],
      [withTail([0x01, 0x00, 0x00, 0x03]), /has length 3, less than its header/],
      [withTail([0x00, 0x02, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x09, 0x00, 0x08, 0x00, 0x04]), /declares 9 fields, its set has room for 1/],
      [withTail([0x00, 0x03, 0x00, 0x20, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x08, 0x00, 0x04]), /length 32, past the message's end/],
      [withTail([0x00, 0x03, 0x00, 0x0e, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x08, 0x00, 0x04]), /0 scope fields of 1/],
      [withTail([0x00, 0x02, 0x00, 0x0c, 0x00, 0x10, 0x00, 0x01, 0x00, 0x08, 0x00, 0x04]), /template id 16 is below 256/],
    ];
    for (const [datagram, reason] of cases) {
      const before = decoder.stats()[0]?.malformed ?? 0;
      const out = decodeAll(decoder, [datagram]);
      expect(decoder.stats()[0]!.malformed, String(reason)).toBe(before + 1);
      expect(decoder.stats()[0]!.lastMalformed).toMatch(reason);
      // The template and data sets before the bad set still count, except when the header itself is cut.
      expect(out, String(reason)).toHaveLength(datagram.length < good.length ? 0 : 1);
    }
  });

  it('drops the flows of a data set whose variable-length record runs past the set', () => {
    const fields: FieldSpec[] = [...BASE, { id: 82, length: VARIABLE }];
    const datagram = withTemplate(fields, [[...BASE_VALUES, new Uint8Array(2)]]);
    // Make the one-octet length of the last field claim 200 octets.
    const broken = Uint8Array.from(datagram);
    broken[broken.length - 3] = 200;
    const decoder = new FlowDecoder();
    expect(decodeAll(decoder, [broken])).toEqual([]);
    expect(decoder.stats()[0]).toMatchObject({ malformed: 1, templates: 1 });
  });
});
