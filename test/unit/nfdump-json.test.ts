import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  convertNfdumpRecord,
  JsonObjectSplitter,
  NFDUMP_NO_FLOWS,
  type InputFlowRecord,
  type NfdumpConversion,
} from '../../spouts/ingest/nfdump-json.js';
import { parseFlowLine } from '../../bolts/parse/parse-flow.js';
import { conversationKey } from '../../bolts/match/conversation-key.js';

// Real output of nfdump 1.7.1 for a softflowd 1.1.0 NetFlow v9 export; see test/fixtures/nfdump/README.md.
const FIXTURES = new URL('../fixtures/nfdump/', import.meta.url);
const fixtureText = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
const UTC = { utcOffsetMinutes: 0 };
/** 2017-01-10T07:39:16Z, the second most fixture flows start in. */
const T16 = 1_484_033_956;

function fixtureRecords(name: string): Record<string, unknown>[] {
  const splitter = new JsonObjectSplitter();
  const { objects } = splitter.push(fixtureText(name));
  return objects.map((text) => JSON.parse(text) as Record<string, unknown>);
}

const MIXED = fixtureRecords('softflowd-v9-mixed.json');

function findRecord(match: Record<string, unknown>): Record<string, unknown> {
  const found = MIXED.find((record) => Object.entries(match).every(([key, value]) => record[key] === value));
  if (found === undefined) throw new Error(`no fixture record matches ${JSON.stringify(match)}`);
  return found;
}

function flowsOf(result: NfdumpConversion): InputFlowRecord[] {
  if (!result.ok) throw new Error(`expected flows, got: ${result.reason}`);
  return result.flows;
}

function reasonOf(result: NfdumpConversion): string {
  if (result.ok) throw new Error(`expected a rejection, got ${JSON.stringify(result.flows)}`);
  return result.reason;
}

function convertOne(record: Record<string, unknown>, id = 7): InputFlowRecord {
  const flows = flowsOf(convertNfdumpRecord(record, id, UTC));
  expect(flows).toHaveLength(1);
  return flows[0]!;
}

describe('convertNfdumpRecord on nfdump 1.7.1 records', () => {
  it('converts an IPv4 TCP record to the input schema, with the 8-column flags cut to UAPRSF', () => {
    const record = findRecord({ src4_addr: '192.0.2.10', src_port: 40000 });

    expect(convertOne(record, 1_000)).toEqual({
      id: 1_000,
      start_timestamp_unix_secs: T16,
      end_timestamp_unix_secs: T16,
      protocol: 6,
      src_ip: '192.0.2.10',
      dst_ip: '198.51.100.7',
      src_port: 40000,
      dst_port: 443,
      packets: 5,
      bytes: 300,
      flags: '.AP.SF',
      tos: 40,
    });
  });

  it('drops ECE and CWR, so an ECN-setup SYN stays SYN-only', () => {
    const record = findRecord({ tcp_flags: 'CE....S.' });

    expect(convertOne(record)).toMatchObject({ src_ip: '203.0.113.5', dst_port: 22, flags: '....S.' });
  });

  it('keeps RST and ACK of the answer to the probe', () => {
    expect(convertOne(findRecord({ tcp_flags: '...A.R..' })).flags).toBe('.A.R..');
  });

  it('converts IPv6 TCP records from src6_addr and dst6_addr', () => {
    const record = findRecord({ src6_addr: '2001:db8:0:1::80', proto: 6 });

    expect(convertOne(record)).toMatchObject({
      protocol: 6,
      src_ip: '2001:db8:0:1::80',
      dst_ip: '2001:db8::1',
      src_port: 80,
      dst_port: 40001,
      flags: '.A..S.',
      packets: 1,
      bytes: 60,
    });
  });

  it('puts ICMP type and code into the destination port as NetFlow does (echo request 2048, reply 0)', () => {
    const request = convertOne(findRecord({ proto: 1, icmp_type: 8 }));
    const reply = convertOne(findRecord({ proto: 1, icmp_type: 0 }));

    expect(request).toMatchObject({ protocol: 1, src_port: 0, dst_port: 2048, flags: '......', bytes: 84 });
    expect(reply).toMatchObject({ protocol: 1, src_port: 0, dst_port: 0, src_ip: '198.51.100.7' });
  });

  it('converts ICMPv6 records', () => {
    expect(convertOne(findRecord({ proto: 58 }))).toMatchObject({
      protocol: 58,
      src_ip: '2001:db8::1',
      dst_ip: '2001:db8:0:1::80',
      src_port: 0,
      start_timestamp_unix_secs: T16 + 1,
    });
  });

  it('gives UDP records the all-unset flags nfdump prints for them', () => {
    expect(convertOne(findRecord({ proto: 17, src_port: 53 }))).toMatchObject({ flags: '......', packets: 1, bytes: 108 });
  });

  it('produces flows that parseFlowLine accepts, both directions sharing a conversation key', () => {
    const flows = MIXED.map((record, index) => convertOne(record, index + 1));
    const parsed = flows.map((flow) => {
      const result = parseFlowLine(JSON.stringify(flow), 0);
      if (!result.ok) throw new Error(`flow ${flow.id} rejected: ${result.reason}`);
      return result.flow;
    });
    expect(parsed).toHaveLength(11);

    const https = parsed.filter((flow) => flow.protocol === 6 && (flow.srcPort === 443 || flow.dstPort === 443));
    expect(https).toHaveLength(2);
    expect(conversationKey(https[0]!).key).toBe(conversationKey(https[1]!).key);
    expect(conversationKey(https[0]!).sourceFirst).not.toBe(conversationKey(https[1]!).sourceFirst);
  });

  it('reads times in the zone nfdump printed them in', () => {
    const [cet] = fixtureRecords('udp-dns-cet.json');
    const utc = findRecord({ proto: 17, src_port: 53 });

    expect(cet!.first).toBe('2017-01-10T08:39:16.994');
    expect(utc.first).toBe('2017-01-10T07:39:16.994');
    expect(flowsOf(convertNfdumpRecord(cet!, 7, { utcOffsetMinutes: 60 }))[0]).toEqual(convertOne(utc));
    // Read as if it were UTC, the CET export would be an hour late.
    expect(convertOne(cet!).start_timestamp_unix_secs).toBe(T16 + 3600);
  });

  it('reads a stamp in the same second as the record before alike, and still refuses a bad one after it', () => {
    const record = findRecord({ proto: 17, src_port: 53 });
    const at = (first: string, last: string) => convertNfdumpRecord({ ...record, first, last }, 1, UTC);

    expect(flowsOf(at('2017-01-10T07:39:16.100', '2017-01-10T07:39:16.200'))[0]!.start_timestamp_unix_secs).toBe(T16);
    expect(flowsOf(at('2017-01-10T07:39:16.9', '2017-01-10T07:39:16'))[0]!.end_timestamp_unix_secs).toBe(T16);
    expect(flowsOf(convertNfdumpRecord({ ...record, first: '2017-01-10T07:39:16.5', last: '2017-01-10T07:39:16.6' }, 1, { utcOffsetMinutes: 60 }))[0]!.start_timestamp_unix_secs).toBe(T16 - 3600);
    expect(reasonOf(at('2017-01-10T07:39:16.x', '2017-01-10T07:39:16.200'))).toMatch(/^first must be a time like/);
    expect(reasonOf(at('2017-01-10T07:39:16.100', '2017-01-10T07:39:16.1234567890'))).toMatch(/^last must be a time like/);
    expect(reasonOf(at('2017-01-10T07:39:16.100', '2017-01-10T07:39:16Z'))).toMatch(/^last must be a time like/);
    expect(flowsOf(at('2017-01-10T07:39:17.000', '2017-01-10T07:39:18.000'))[0]!.end_timestamp_unix_secs).toBe(T16 + 2);
  });

  it('splits a bidirectional record into the forward flow and its reverse with the next id', () => {
    const record = { ...findRecord({ src4_addr: '192.0.2.10', src_port: 40000 }), out_packets: 3, out_bytes: 1120 };

    const flows = flowsOf(convertNfdumpRecord(record, 50, UTC));

    expect(flows).toHaveLength(2);
    expect(flows[1]).toEqual({
      ...flows[0],
      id: 51,
      src_ip: '198.51.100.7',
      dst_ip: '192.0.2.10',
      src_port: 443,
      dst_port: 40000,
      packets: 3,
      bytes: 1120,
    });
  });

  it('treats zero reverse counters as a one-way record', () => {
    const record = { ...findRecord({ proto: 17, src_port: 53 }), out_packets: 0, out_bytes: 0, aggr_flows: 1 };

    expect(flowsOf(convertNfdumpRecord(record, 1, UTC))).toHaveLength(1);
  });
});

describe('convertNfdumpRecord rejects records it cannot convert, naming the field', () => {
  const base = findRecord({ src4_addr: '192.0.2.10', src_port: 40000 });
  const without = (...keys: string[]): Record<string, unknown> => {
    const copy = { ...base };
    for (const key of keys) delete copy[key];
    return copy;
  };

  it.each([
    ['not an object', [1, 2], 'not a JSON object'],
    ['a non-flow record', { ...base, type: 'EXPORTER' }, 'not a flow record (type "EXPORTER")'],
    ['no byte count', without('in_bytes'), 'missing field in_bytes'],
    ['a negative packet count', { ...base, in_packets: -1 }, 'in_packets must be an integer 0-9007199254740991, got -1'],
    ['a port out of range', { ...base, dst_port: 70_000 }, 'dst_port must be an integer 0-65535, got 70000'],
    ['a text protocol', { ...base, proto: 'TCP' }, 'proto must be an integer 0-255, got "TCP"'],
    ['no addresses', without('src4_addr', 'dst4_addr'), 'missing field src4_addr or src6_addr'],
    ['one address missing', without('dst4_addr'), 'missing field dst4_addr'],
    ['IPv4 and IPv6 addresses', { ...base, src6_addr: '2001:db8::1' }, 'record has both IPv4 and IPv6 addresses'],
    ['no first time', without('first'), 'missing field first'],
    ['an epoch number as time', { ...base, first: 1_484_033_956 }, 'first must be a time like "2017-01-10T07:39:16.986", got 1484033956'],
    ['an impossible date', { ...base, last: '2017-02-30T07:39:16.991' }, 'last is not a valid time, got "2017-02-30T07:39:16.991"'],
    ['last before first', { ...base, last: '2017-01-10T07:39:15.000' }, 'last ("2017-01-10T07:39:15.000") is before first ("2017-01-10T07:39:16.984")'],
    ['unknown flag letters', { ...base, tcp_flags: '...AX.SF' }, 'tcp_flags must be like "...AP.SF" (CEUAPRSF) or ".AP.SF" (UAPRSF), got "...AX.SF"'],
  ])('rejects %s', (_name, record, reason) => {
    expect(reasonOf(convertNfdumpRecord(record, 1, UTC))).toBe(reason);
  });

  it('accepts the 6-column flags of nfdump 1.6 and numeric flags', () => {
    expect(convertOne({ ...base, tcp_flags: '.AP.SF' }).flags).toBe('.AP.SF');
    expect(convertOne({ ...base, tcp_flags: 0xc2 }).flags).toBe('....S.');
  });
});

describe('JsonObjectSplitter', () => {
  const mixedText = fixtureText('softflowd-v9-mixed.json');

  it('finds the same records whatever the chunk size', () => {
    for (const size of [1, 7, 64, 4096]) {
      const splitter = new JsonObjectSplitter();
      const objects: string[] = [];
      for (let at = 0; at < mixedText.length; at += size) objects.push(...splitter.push(mixedText.slice(at, at + size)).objects);
      expect(splitter.end()).toEqual({ stray: [], isTruncated: false });
      expect(objects.map((text) => JSON.parse(text))).toEqual(MIXED);
    }
  });

  it('reads one object per line, as later nfdump versions print', () => {
    const lines = MIXED.map((record) => JSON.stringify(record)).join('\n');

    const { objects, stray } = new JsonObjectSplitter().push(`${lines}\n`);

    expect(stray).toEqual([]);
    expect(objects.map((text) => JSON.parse(text))).toEqual(MIXED);
  });

  it("returns nfdump's 'No matching flows' as stray text and no records", () => {
    const splitter = new JsonObjectSplitter();

    expect(splitter.push(fixtureText('no-matching-flows.json'))).toEqual({ objects: [], stray: [NFDUMP_NO_FLOWS] });
    expect(splitter.end()).toEqual({ stray: [], isTruncated: false });
  });

  it('keeps braces and escaped quotes inside strings out of the nesting count, across chunk ends', () => {
    const text = '[{"label" : "a}\\"{b\\\\"},{"x" : [1, {"y" : "\\\\\\""}]}]';
    for (let size = 1; size <= text.length; size++) {
      const splitter = new JsonObjectSplitter();
      const objects: string[] = [];
      for (let at = 0; at < text.length; at += size) objects.push(...splitter.push(text.slice(at, at + size)).objects);

      expect(objects.map((object) => JSON.parse(object))).toEqual([{ label: 'a}"{b\\' }, { x: [1, { y: '\\"' }] }]);
    }
  });

  it('reports input that ends inside a record', () => {
    const splitter = new JsonObjectSplitter();
    const cut = mixedText.slice(0, mixedText.length - 10);

    expect(splitter.push(cut).objects).toHaveLength(10);
    expect(splitter.end().isTruncated).toBe(true);
  });
});
