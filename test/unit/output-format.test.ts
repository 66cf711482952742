import { describe, expect, it } from 'vitest';
import type { Flow, Tag } from '../../bolts/flow.js';
import {
  eventTimeStr,
  ignoredFlowRecord,
  scanCandidateRecords,
  scoredFlowDetailRecords,
  scoredFlowRecord,
} from '../../bolts/output/format.js';
import { LOCAL_V4, REMOTE_V4, flowFixture, reverseOf } from '../helpers/flow-fixture.js';

const synOnly: Tag = { category: 'POSSIBLE_SCAN', code: 'SYN_ONLY', score: 60, isBad: true };
const unknownTcp: Tag = { category: 'PORT_LIST', code: 'UNKNOWN_TCP_TRAFFIC', score: 70, isBad: true };
const intel: Tag = { category: 'INTELMQ', code: 'malware : malicious code', score: 70, isBad: true };
const ndpi: Tag = { category: 'IP_LIST', code: 'NDPI_GOOD', score: 100, isBad: false };

/** The flow of the reference §9.2 example: an unmatched inbound SYN from an IntelMQ-listed host. */
const example: Flow = flowFixture({
  id: 554505213,
  startSecs: 1486834707,
  endSecs: 1486834707,
  src: '104.193.253.48',
  dst: '192.0.2.189',
  srcPort: 39968,
  dstPort: 45554,
  packetsSent: 4,
  bytesSent: 240,
  flags: '....S.',
  srcAs: 14576,
  dstAs: 2018,
  direction: 'INBOUND',
  tags: [synOnly, unknownTcp, intel],
});

const COMMON_9_2 =
  '"flow_id":554505213,"matched":false,"start_timestamp_unix_secs":1486834707';
const COUNTERS_9_2 =
  '"protocol":6,"src_ip":"104.193.253.48","dst_ip":"192.0.2.189","src_port":39968,"dst_port":45554,' +
  '"packets_sent":4,"bytes_sent":240,"packets_recv":0,"bytes_recv":0,"flags":"....S.","src_as":14576,"dst_as":2018,' +
  '"flow_direction":"INBOUND"';

describe('eventTimeStr', () => {
  it('formats start seconds as the original Java pattern with a single 0 fraction (§9.2)', () => {
    expect(eventTimeStr(1486834707)).toBe('2017-02-11T17:38:27.0Z');
    expect(eventTimeStr(0)).toBe('1970-01-01T00:00:00.0Z');
    expect(eventTimeStr(1484033957)).toBe('2017-01-10T07:39:17.0Z');
  });

  it('is null for a time no date can hold', () => {
    expect(eventTimeStr(Number.NaN)).toBeNull();
    expect(eventTimeStr(1e16)).toBeNull();
  });
});

describe('scoredFlowRecord', () => {
  it('writes the §9.2 ELKScoredFlow keys in order, then our additions (golden, §9.2 example)', () => {
    const record = scoredFlowRecord(example);
    expect(record.key).toBe('554505213');
    expect(record.value).toBe(
      '{"timestamp":1486834707,"type":"scored_flow","event_time_str":"2017-02-11T17:38:27.0Z",' +
        `${COMMON_9_2},"end_timestamp_unix_secs":1486834707,${COUNTERS_9_2},"goodness":0,"badness":200,` +
        '"pair_flow_id":null,"flags_recv":null,"initiator":"src",' +
        '"tags":["POSSIBLE_SCAN-SYN_ONLY","PORT_LIST-UNKNOWN_TCP_TRAFFIC","INTELMQ-malware : malicious code"],' +
        '"src_country_code":null,"dst_country_code":null,"src_country":null,"dst_country":null,' +
        '"src_city":null,"dst_city":null,"src_latitude":null,"src_longitude":null,"dst_latitude":null,"dst_longitude":null}',
    );
  });

  it('parses to exactly the expected keys and values for a matched conversation with geolocation', () => {
    const local = reverseOf(flowFixture({ id: 1, srcCountryCode: 'CN', srcCountry: 'China', srcCity: 'Beijing', srcLatitude: 39.9, srcLongitude: 116.4 }), {
      id: 2,
      matched: true,
      pairId: 1,
      packetsRecv: 3,
      bytesRecv: 180,
      flags: '.A..S.',
      flagsRecv: '....S.',
      initiator: 'dst',
      tags: [ndpi, synOnly],
    });
    const parsed = JSON.parse(scoredFlowRecord(local).value) as Record<string, unknown>;
    expect(parsed).toStrictEqual({
      timestamp: 1486834707,
      type: 'scored_flow',
      event_time_str: '2017-02-11T17:38:27.0Z',
      flow_id: 2,
      matched: true,
      start_timestamp_unix_secs: 1486834707,
      end_timestamp_unix_secs: 1486834707,
      protocol: 6,
      src_ip: LOCAL_V4,
      dst_ip: REMOTE_V4,
      src_port: 443,
      dst_port: 51515,
      packets_sent: 1,
      bytes_sent: 60,
      packets_recv: 3,
      bytes_recv: 180,
      flags: '.A..S.',
      src_as: 64496,
      dst_as: 64500,
      flow_direction: 'OUTBOUND',
      goodness: 100,
      badness: 60,
      pair_flow_id: 1,
      flags_recv: '....S.',
      initiator: 'dst',
      tags: ['IP_LIST-NDPI_GOOD', 'POSSIBLE_SCAN-SYN_ONLY'],
      src_country_code: null,
      dst_country_code: 'CN',
      src_country: null,
      dst_country: 'China',
      src_city: null,
      dst_city: 'Beijing',
      src_latitude: null,
      src_longitude: null,
      dst_latitude: 39.9,
      dst_longitude: 116.4,
    });
  });

  it('escapes strings and writes non-finite numbers as null, so the output is always JSON', () => {
    const odd = flowFixture({ srcCity: 'Zürich "Altstadt"\n', dstLatitude: Number.NaN, tags: [{ ...intel, code: 'a"b\\c' }] });
    const parsed = JSON.parse(scoredFlowRecord(odd).value) as Record<string, unknown>;
    expect(parsed.src_city).toBe('Zürich "Altstadt"\n');
    expect(parsed.dst_latitude).toBeNull();
    expect(parsed.tags).toEqual(['INTELMQ-a"b\\c']);
  });
});

describe('scoredFlowDetailRecords', () => {
  it('writes one §9.2 ELKScoredFlowDetail per tag, bad tags first (golden)', () => {
    const records = scoredFlowDetailRecords({ ...example, tags: [ndpi, synOnly] });
    const head =
      '{"timestamp":1486834707,"type":"scored_flow_detail","event_time_str":"2017-02-11T17:38:27.0Z",' +
      `${COMMON_9_2},${COUNTERS_9_2},`;
    expect(records).toEqual([
      { key: '554505213', value: `${head}"bad_score":60,"bad_score_tag":"POSSIBLE_SCAN-SYN_ONLY","good_score":0,"good_score_tag":null}` },
      { key: '554505213', value: `${head}"bad_score":0,"bad_score_tag":null,"good_score":100,"good_score_tag":"IP_LIST-NDPI_GOOD"}` },
    ]);
    const keys = Object.keys(JSON.parse(records[0]!.value) as object);
    expect(keys).not.toContain('end_timestamp_unix_secs');
    expect(keys).not.toContain('goodness');
    expect(keys).toHaveLength(23);
  });

  it('writes nothing for a flow without tags', () => {
    expect(scoredFlowDetailRecords({ ...example, tags: [] })).toEqual([]);
  });
});

describe('scanCandidateRecords', () => {
  /** Unmatched inbound: remote scanner 198.51.100.7 -> local 192.0.2.10:22. */
  const probe = flowFixture({ id: 5, srcPort: 51515, dstPort: 22, packetsSent: 2, bytesSent: 120 });

  it('writes VERTICAL, HORIZONTAL and DISTRIBUTED records for a remote-source flow (§9.3, golden)', () => {
    const tail =
      '"event_time_str":"2017-02-11T17:38:27.0Z","start_timestamp_unix_secs":1486834707,' +
      `"src_ip":"${REMOTE_V4}","dst_ip":"${LOCAL_V4}","dst_port":22,` +
      '"packets_sent":2,"bytes_sent":120,"packets_recv":0,"bytes_recv":0}';
    expect(scanCandidateRecords(probe)).toEqual([
      { key: '5', value: `{"id":5,"key":"scan-candidate-vertical-${REMOTE_V4}:${LOCAL_V4}","type":"VERTICAL",${tail}` },
      { key: '5', value: `{"id":5,"key":"scan-candidate-horizontal-${REMOTE_V4}:22","type":"HORIZONTAL",${tail}` },
      { key: '5', value: `{"id":5,"key":"scan-candidate-botnet-22","type":"DISTRIBUTED",${tail}` },
    ]);
  });

  it('targets the local port of a remote-source flow, not its source port (§15 item 3)', () => {
    const [vertical] = scanCandidateRecords(probe);
    expect(JSON.parse(vertical!.value)).toMatchObject({ dst_port: 22, src_ip: REMOTE_V4, dst_ip: LOCAL_V4 });
  });

  it('orients a local-source conversation from the remote scanner (§15 item 4)', () => {
    // The matched record of the probe and the local host's RST: local on the left, remote initiated.
    const conversation = reverseOf(probe, {
      id: 6,
      packetsSent: 1,
      bytesSent: 40,
      packetsRecv: 2,
      bytesRecv: 120,
      matched: true,
      pairId: 5,
      initiator: 'dst',
    });
    const records = scanCandidateRecords(conversation).map((r) => JSON.parse(r.value) as Record<string, unknown>);
    expect(records.map((r) => r.key)).toEqual([
      `scan-candidate-vertical-${REMOTE_V4}:${LOCAL_V4}`,
      `scan-candidate-horizontal-${REMOTE_V4}:22`,
      'scan-candidate-botnet-22',
    ]);
    expect(records[0]).toStrictEqual({
      id: 6,
      key: `scan-candidate-vertical-${REMOTE_V4}:${LOCAL_V4}`,
      type: 'VERTICAL',
      event_time_str: '2017-02-11T17:38:27.0Z',
      start_timestamp_unix_secs: 1486834707,
      src_ip: REMOTE_V4,
      dst_ip: LOCAL_V4,
      dst_port: 22,
      packets_sent: 2,
      bytes_sent: 120,
      packets_recv: 1,
      bytes_recv: 40,
    });
  });

  it('tests the threshold on the scanner packets: 2 is a candidate, 3 is not', () => {
    expect(scanCandidateRecords({ ...probe, packetsSent: 2 })).toHaveLength(3);
    expect(scanCandidateRecords({ ...probe, packetsSent: 3 })).toEqual([]);
    expect(scanCandidateRecords({ ...probe, packetsSent: 3 }, 3)).toHaveLength(3);
    const conversation = reverseOf(probe, { packetsSent: 1, packetsRecv: 3, matched: true, initiator: 'dst' });
    // The local side sent 1 packet, which the original tested; the scanner sent 3.
    expect(scanCandidateRecords(conversation)).toEqual([]);
    expect(scanCandidateRecords({ ...conversation, packetsSent: 30, packetsRecv: 2 })).toHaveLength(3);
  });

  it('ignores flows other than TCP', () => {
    expect(scanCandidateRecords({ ...probe, protocol: 17 })).toEqual([]);
  });

  it('ignores a flow the local side initiated, whose remote side at most answered', () => {
    const outbound = reverseOf(probe, { packetsSent: 1, packetsRecv: 0, bytesRecv: 0, initiator: 'src' });
    expect(scanCandidateRecords(outbound)).toEqual([]);
  });
});

describe('ignoredFlowRecord', () => {
  it('keeps the raw line of an input that did not parse', () => {
    const record = ignoredFlowRecord({ reason: 'invalid JSON', line: '{"id":12,"protocol":' });
    expect(record.key).toBeNull();
    expect(record.value).toBe('{"type":"ignored_flow","stage":"parse","reason":"invalid JSON","flow_id":null,"line":"{\\"id\\":12,\\"protocol\\":"}');
    expect(JSON.parse(record.value)).toStrictEqual({
      type: 'ignored_flow',
      stage: 'parse',
      reason: 'invalid JSON',
      flow_id: null,
      line: '{"id":12,"protocol":',
    });
  });

  it('keys a parse failure by its flow id when the id was readable', () => {
    const record = ignoredFlowRecord({ reason: 'src_ip is not an IP address', line: 'x', id: 12 });
    expect(record.key).toBe('12');
    expect(JSON.parse(record.value)).toMatchObject({ flow_id: 12, stage: 'parse' });
  });

  it('names the stage of an input that failed every retry', () => {
    const record = ignoredFlowRecord({ reason: 'failed 5 times (last: timeout)', line: '{"id":12}', origin: 'flows.jsonl:3', stage: 'retries' });
    expect(JSON.parse(record.value)).toStrictEqual({
      type: 'ignored_flow',
      stage: 'retries',
      reason: 'failed 5 times (last: timeout)',
      flow_id: null,
      line: '{"id":12}',
      origin: 'flows.jsonl:3',
    });
  });

  it('writes the §9.2 fields of a discarded flow with its direction and reason (golden)', () => {
    const record = ignoredFlowRecord({ reason: 'honeypot port', flow: { ...example, direction: 'UNKNOWN' } });
    expect(record.key).toBe('554505213');
    expect(record.value).toBe(
      '{"timestamp":1486834707,"type":"ignored_flow","event_time_str":"2017-02-11T17:38:27.0Z",' +
        `${COMMON_9_2},"end_timestamp_unix_secs":1486834707,${COUNTERS_9_2.replace('INBOUND', 'UNKNOWN')},` +
        '"stage":"discard","reason":"honeypot port"}',
    );
  });

  it('names the stage and the error of a scored flow that PostgreSQL refused as bad data', () => {
    const reason = 'write 1 scored flows (flow id 554505213) failed on PostgreSQL 127.0.0.1:5432/themis: new row violates check constraint (SQLSTATE 23514)';
    const parsed = JSON.parse(ignoredFlowRecord({ reason, flow: example, stage: 'persist' }).value);
    expect(parsed).toMatchObject({ type: 'ignored_flow', flow_id: 554505213, stage: 'persist', reason });
  });

  it('writes a null direction for a flow discarded before its direction was known', () => {
    const parsed = JSON.parse(ignoredFlowRecord({ reason: 'protocol 47 not valid', flow: { ...example, direction: null } }).value);
    expect(parsed.flow_direction).toBeNull();
  });
});
