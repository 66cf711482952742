import { describe, expect, it } from 'vitest';
import { parseFlowLine, parseFlowObject, type ParseFlowResult } from '../../bolts/parse/parse-flow.js';
import type { Flow } from '../../bolts/flow.js';

// Reference §4.2: the thesis example record, with the producer's *_ip_int fields.
const THESIS_RECORD = {
  id: 20,
  protocol: 6,
  src_ip: '192.0.2.198',
  dst_ip: '187.121.128.84',
  src_port: 23,
  dst_port: 37906,
  bytes: 340,
  packets: 6,
  flags: '.A.RS.',
  tos: 0,
  flows: 0,
  pps: 0,
  bps: 0,
  duration_unix_secs: 0,
  start_timestamp_unix_secs: 1484033957,
  end_timestamp_unix_secs: 1484033957,
  src_ip_int: 3221226182,
  dst_ip_int: 3145302100,
};

function line(overrides: Record<string, unknown> = {}, omit: string[] = []): string {
  const record: Record<string, unknown> = { ...THESIS_RECORD, ...overrides };
  for (const key of omit) delete record[key];
  return JSON.stringify(record);
}

function parsed(result: ParseFlowResult): Flow {
  if (!result.ok) throw new Error(`expected a flow, got: ${result.reason}`);
  return result.flow;
}

function rejection(result: ParseFlowResult): { reason: string; id?: number } {
  if (result.ok) throw new Error('expected a rejection');
  const { ok: _ok, ...rest } = result;
  return rest;
}

describe('parseFlowLine', () => {
  it('maps the thesis example record to a flow (§4.2)', () => {
    const flow = parsed(parseFlowLine(line(), 1_700_000_000_000));
    expect(flow).toMatchObject({
      id: 20,
      pairId: null,
      startSecs: 1484033957,
      endSecs: 1484033957,
      protocol: 6,
      srcPort: 23,
      dstPort: 37906,
      packetsSent: 6,
      bytesSent: 340,
      packetsRecv: 0,
      bytesRecv: 0,
      flags: '.A.RS.',
      flagsRecv: null,
      tos: 0,
      srcAs: 0,
      dstAs: 0,
      direction: null,
      matched: false,
      initiator: 'src',
      srcCountryCode: null,
      tags: [],
      receivedAtMs: 1_700_000_000_000,
    });
    expect(flow.srcIp).toEqual({ version: 4, v4: 3221226182, text: '192.0.2.198' });
    expect(flow.dstIp.text).toBe('187.121.128.84');
  });

  it('accepts IPv6 addresses and parses each once into bytes', () => {
    const flow = parsed(parseFlowLine(line({ src_ip: '2001:db8::1', dst_ip: '2001:db8:0:1::53' }, ['src_ip_int', 'dst_ip_int']), 0));
    expect(flow.srcIp.version).toBe(6);
    expect(flow.dstIp.version).toBe(6);
    expect(flow.srcIp.text).toBe('2001:db8::1');
  });

  it('no longer requires src_ip_int and dst_ip_int (fixes §15 item 21)', () => {
    expect(parseFlowLine(line({}, ['src_ip_int', 'dst_ip_int']), 0).ok).toBe(true);
  });

  it('treats null src_ip_int as absent', () => {
    expect(parseFlowLine(line({ src_ip_int: null }), 0).ok).toBe(true);
  });

  it('rejects a src_ip_int that does not match src_ip', () => {
    expect(rejection(parseFlowLine(line({ src_ip_int: 1 }), 0))).toEqual({
      reason: 'src_ip_int (1) does not match src_ip 192.0.2.198 (3221226182)',
      id: 20,
    });
  });

  it('rejects a dst_ip_int that does not match dst_ip', () => {
    expect(rejection(parseFlowLine(line({ dst_ip_int: 3145302101 }), 0)).reason).toBe(
      'dst_ip_int (3145302101) does not match dst_ip 187.121.128.84 (3145302100)',
    );
  });

  it('rejects a src_ip_int given with an IPv6 src_ip', () => {
    expect(rejection(parseFlowLine(line({ src_ip: '2001:db8::1' }), 0)).reason).toBe(
      'src_ip_int (3221226182) given for IPv6 src_ip 2001:db8::1',
    );
  });

  it('rejects a src_ip_int that is not an unsigned 32-bit integer', () => {
    expect(rejection(parseFlowLine(line({ src_ip_int: '3221226182' }), 0)).reason).toBe(
      'src_ip_int must be an integer 0-4294967295, got "3221226182"',
    );
  });

  it('reads an IPv4-mapped IPv6 address as IPv4 and checks src_ip_int against it', () => {
    const flow = parsed(parseFlowLine(line({ src_ip: '::ffff:192.0.2.198' }), 0));
    expect(flow.srcIp).toEqual({ version: 4, v4: 3221226182, text: '192.0.2.198' });
  });

  it('rejects text that is not JSON', () => {
    expect(rejection(parseFlowLine('{"id": 1,', 0)).reason).toMatch(/^invalid JSON: /);
    expect(rejection(parseFlowLine('', 0)).reason).toMatch(/^invalid JSON: /);
  });

  it.each(['[1,2]', '42', 'null', '"flow"', 'true'])('rejects %s as not a JSON object', (text) => {
    expect(rejection(parseFlowLine(text, 0))).toEqual({ reason: 'not a JSON object' });
  });

  it.each([
    'id',
    'start_timestamp_unix_secs',
    'end_timestamp_unix_secs',
    'protocol',
    'src_ip',
    'dst_ip',
    'src_port',
    'dst_port',
    'packets',
    'bytes',
  ])('rejects a record without %s, naming the field', (field) => {
    expect(rejection(parseFlowLine(line({}, [field]), 0)).reason).toBe(`missing field ${field}`);
  });

  it('carries the id of a rejected record when the id itself is valid', () => {
    expect(rejection(parseFlowLine(line({}, ['packets']), 0)).id).toBe(20);
  });

  it.each([
    [-1, 'id must be a positive integer up to 2^53 - 1, got -1'],
    [1.5, 'id must be a positive integer up to 2^53 - 1, got 1.5'],
    ['20', 'id must be a positive integer up to 2^53 - 1, got "20"'],
    [null, 'id must be a positive integer up to 2^53 - 1, got null'],
  ])('rejects id %j without carrying an id', (id, reason) => {
    expect(rejection(parseFlowLine(line({ id }), 0))).toEqual({ reason });
  });

  it('rejects id 0, the id the original gave a record it could not read', () => {
    expect(rejection(parseFlowLine(line({ id: 0 }), 0))).toEqual({ reason: 'id must be a positive integer up to 2^53 - 1, got 0' });
  });

  it.each(['1.5e3', '1500.0', '1e3', '15E2'])('rejects an integer id written as the float %s, carrying its value', (text) => {
    const result = rejection(parseFlowLine(line().replace('"id":20', `"id":${text}`), 0));
    expect(result).toEqual({ reason: `id must be a positive integer up to 2^53 - 1 written in digits, got ${text}`, id: Number(text) });
  });

  it('reads an id written in digits, whatever the spacing, and is not misled by "id" inside a string', () => {
    expect(parseFlowLine(line().replace('"id":20', '"id" :  1500'), 0)).toMatchObject({ ok: true, flow: { id: 1500 } });
    expect(parseFlowLine(line({ note: '"id":2e1' }), 0)).toMatchObject({ ok: true, flow: { id: 20 } });
  });

  it('accepts 64-bit counters at and above 2^32, up to 2^53 - 1, and refuses larger ones', () => {
    const big = parseFlowLine(line({ bytes: 2 ** 32, packets: Number.MAX_SAFE_INTEGER }), 0);
    expect(big).toMatchObject({ ok: true, flow: { bytesSent: 4_294_967_296, packetsSent: 9_007_199_254_740_991 } });
    expect(rejection(parseFlowLine(line({ bytes: 2 ** 53 }), 0)).reason).toBe('bytes must be at most 2^53 - 1, got 9007199254740992');
  });

  it('rejects an id beyond 2^53 instead of rounding it', () => {
    const text = line().replace('"id":20', '"id":9223372036854775807');
    expect(rejection(parseFlowLine(text, 0)).reason.startsWith('id must be a positive integer up to 2^53 - 1, got ')).toBe(true);
  });

  it.each([
    ['src_port', 'abc', 'src_port must be an integer 0-65535, got "abc"'],
    ['src_port', 65536, 'src_port must be an integer 0-65535, got 65536'],
    ['dst_port', -1, 'dst_port must be an integer 0-65535, got -1'],
    ['dst_port', 80.5, 'dst_port must be an integer 0-65535, got 80.5'],
    ['protocol', 256, 'protocol must be an integer 0-255, got 256'],
    ['protocol', '6', 'protocol must be an integer 0-255, got "6"'],
    ['packets', -3, 'packets must be a non-negative integer, got -3'],
    ['bytes', true, 'bytes must be a non-negative integer, got true'],
    ['start_timestamp_unix_secs', null, 'start_timestamp_unix_secs must be a non-negative integer, got null'],
    ['end_timestamp_unix_secs', '2017', 'end_timestamp_unix_secs must be a non-negative integer, got "2017"'],
    ['tos', 256, 'tos must be an integer 0-255, got 256'],
    ['src_ip', 'example.com', 'src_ip must be an IPv4 or IPv6 address, got "example.com"'],
    ['dst_ip', '192.0.2.256', 'dst_ip must be an IPv4 or IPv6 address, got "192.0.2.256"'],
    ['src_ip', 3221226182, 'src_ip must be an IPv4 or IPv6 address, got 3221226182'],
  ])('rejects %s = %j with a reason naming the field', (field, value, reason) => {
    expect(rejection(parseFlowLine(line({ [field]: value }), 0))).toEqual({ reason, id: 20 });
  });

  it('keeps port 0 and port 65535 and protocol 255', () => {
    const flow = parsed(parseFlowLine(line({ src_port: 0, dst_port: 65535, protocol: 255 }), 0));
    expect([flow.srcPort, flow.dstPort, flow.protocol]).toEqual([0, 65535, 255]);
  });

  it('rejects an end timestamp before the start', () => {
    expect(rejection(parseFlowLine(line({ end_timestamp_unix_secs: 1484033956 }), 0)).reason).toBe(
      'end_timestamp_unix_secs (1484033956) must be >= start_timestamp_unix_secs (1484033957)',
    );
  });

  it('shortens a long offending value in the reason', () => {
    const reason = rejection(parseFlowLine(line({ src_port: 'x'.repeat(500) }), 0)).reason;
    expect(reason.length).toBeLessThan(100);
  });

  it('reads absent and null flags as null', () => {
    expect(parsed(parseFlowLine(line({}, ['flags']), 0)).flags).toBeNull();
    expect(parsed(parseFlowLine(line({ flags: null }), 0)).flags).toBeNull();
  });

  it.each([
    ['0x12', '.A..S.'],
    ['0x02', '....S.'],
    ['0x0', '......'],
    ['0x3f', 'UAPRSF'],
    ['0x29', 'U.P..F'],
    ['0xc2', '....S.'],
    ['0XFF', 'UAPRSF'],
  ])('normalises hex flags %s to %s, dropping ECE and CWR', (hex, flags) => {
    expect(parsed(parseFlowLine(line({ flags: hex }), 0)).flags).toBe(flags);
  });

  it.each(['', '....s.', 'S', '.....S', 'SYN', '0x', '0x123', '0xzz', 18])('rejects flags %j', (flags) => {
    expect(rejection(parseFlowLine(line({ flags }), 0)).reason).toBe(
      `flags must be a UAPRSF string like "....S." or hex like "0x12", got ${JSON.stringify(flags)}`,
    );
  });

  it('defaults tos to 0 and keeps a given tos', () => {
    expect(parsed(parseFlowLine(line({}, ['tos']), 0)).tos).toBe(0);
    expect(parsed(parseFlowLine(line({ tos: 184 }), 0)).tos).toBe(184);
  });

  it('ignores duration, flows, bps, pps and unknown keys whatever their values', () => {
    const flow = parsed(parseFlowLine(line({ duration_unix_secs: 'x', flows: -1, bps: null, pps: 1.5, exporter: 'r1' }), 0));
    expect(flow.id).toBe(20);
  });
});

describe('parseFlowObject', () => {
  it('parses a record that is already an object (Kafka path)', () => {
    expect(parsed(parseFlowObject({ ...THESIS_RECORD }, 7)).receivedAtMs).toBe(7);
  });

  it('rejects an array as not a JSON object', () => {
    expect(rejection(parseFlowObject([THESIS_RECORD], 0)).reason).toBe('not a JSON object');
  });
});
