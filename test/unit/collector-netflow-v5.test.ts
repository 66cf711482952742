import { describe, expect, it } from 'vitest';
import { FlowDecoder, type DecodedFlow } from '../../spouts/collector/flow-decoder.js';
import { encodeV5, type V5Record } from '../helpers/flow-export-encoder.js';

const EXPORTER = '192.0.2.1:50000';
const NOW = 1_700_000_000_000;

function record(overrides: Partial<V5Record> = {}): V5Record {
  return {
    src: '10.1.2.3',
    dst: '198.51.100.7',
    srcPort: 40_000,
    dstPort: 443,
    packets: 12,
    bytes: 3400,
    first: 90_000,
    last: 99_500,
    flags: 0x1b, // ACK PSH SYN FIN
    protocol: 6,
    tos: 40,
    ...overrides,
  };
}

function decodeAll(decoder: FlowDecoder, datagrams: Uint8Array[]): DecodedFlow[] {
  const out: DecodedFlow[] = [];
  for (const d of datagrams) decoder.decode(d, EXPORTER, NOW, out);
  return out;
}

describe('NetFlow v5 decoding', () => {
  it('maps every field of a record and turns uptime stamps into epoch seconds', () => {
    // Exported at 1,600,000,000.750 with uptime 100,000 ms: the flow ran from uptime 90,000
    // (10 s before, i.e. 1,599,999,990.750) to 99,500 (1,600,000,000.250).
    const datagram = encodeV5({ sysUptimeMs: 100_000, unixSecs: 1_600_000_000, unixNsecs: 750_000_000, sequence: 0 }, [record()]);
    const out: DecodedFlow[] = [];
    expect(new FlowDecoder().decode(datagram, EXPORTER, NOW, out)).toBe(1);
    expect(out).toEqual([
      {
        start_timestamp_unix_secs: 1_599_999_990,
        end_timestamp_unix_secs: 1_600_000_000,
        protocol: 6,
        src_ip: '10.1.2.3',
        dst_ip: '198.51.100.7',
        src_port: 40_000,
        dst_port: 443,
        packets: 12,
        bytes: 3400,
        flags: '.AP.SF',
        tos: 40,
      },
    ]);
  });

  it('places a flow that began before the uptime counter wrapped before the export', () => {
    // Uptime wrapped 2 s before the export (now 2,000 ms); the flow began 3 s before, at 2^32 - 1000.
    const datagram = encodeV5({ sysUptimeMs: 2000, unixSecs: 1_600_000_000, sequence: 0 }, [record({ first: 4_294_966_296, last: 1500 })]);
    const [flow] = decodeAll(new FlowDecoder(), [datagram]);
    expect(flow!.start_timestamp_unix_secs).toBe(1_599_999_997);
    expect(flow!.end_timestamp_unix_secs).toBe(1_599_999_999);
  });

  it('writes ICMP type and code as the destination port with source port 0 and no flags', () => {
    const datagram = encodeV5({ sysUptimeMs: 100_000, unixSecs: 1_600_000_000, sequence: 0 }, [
      record({ protocol: 1, srcPort: 0, dstPort: 8 * 256, flags: 0 }),
      record({ protocol: 17, srcPort: 53, dstPort: 5353, flags: 0 }),
    ]);
    const [icmp, udp] = decodeAll(new FlowDecoder(), [datagram]);
    expect(icmp).toMatchObject({ protocol: 1, src_port: 0, dst_port: 2048, flags: '......' });
    expect(udp).toMatchObject({ protocol: 17, src_port: 53, dst_port: 5353, flags: '......' });
  });

  it('scales packets and bytes by the header sampling interval only when asked', () => {
    // Mode 01 (deterministic) in the top two bits, interval 100 below.
    const datagram = encodeV5({ sysUptimeMs: 100_000, unixSecs: 1_600_000_000, sequence: 0, sampling: 0x4000 | 100 }, [record()]);
    expect(decodeAll(new FlowDecoder({ scaleBySampling: true }), [datagram])[0]).toMatchObject({ packets: 1200, bytes: 340_000 });
    expect(decodeAll(new FlowDecoder(), [datagram])[0]).toMatchObject({ packets: 12, bytes: 3400 });
  });

  it('counts flows lost between datagrams from flow_sequence, per engine', () => {
    const header = (sequence: number, engineId = 0) => ({ sysUptimeMs: 100_000, unixSecs: 1_600_000_000, sequence, engineId });
    const decoder = new FlowDecoder();
    decodeAll(decoder, [
      encodeV5(header(100), [record(), record()]), // next expected 102
      encodeV5(header(0, 7), [record()]), // another engine: its own sequence
      encodeV5(header(102), [record()]), // in order
      encodeV5(header(108), [record()]), // 103-107 lost: one gap of 5 flows
      encodeV5(header(50), [record()]), // behind: a restart, no loss counted
      encodeV5(header(1, 7), [record()]),
    ]);
    expect(decoder.stats()).toEqual([
      expect.objectContaining({ exporter: EXPORTER, version: 5, datagrams: 6, flows: 7, sequenceGaps: 1, sequenceMissing: 5, malformed: 0 }),
    ]);
  });

  it('counts a truncated datagram as malformed and keeps decoding the next ones', () => {
    const decoder = new FlowDecoder();
    const whole = encodeV5({ sysUptimeMs: 100_000, unixSecs: 1_600_000_000, sequence: 0 }, [record(), record()]);
    const out = decodeAll(decoder, [whole.subarray(0, whole.length - 1), whole.subarray(0, 10), whole]);
    expect(out).toHaveLength(2);
    expect(decoder.stats()[0]).toMatchObject({ datagrams: 3, flows: 2, malformed: 2 });
    expect(decoder.stats()[0]!.lastMalformed).toMatch(/header needs 24 octets, got 10/);
  });
});
