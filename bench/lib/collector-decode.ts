import { prng } from '../../data_sources/tools/generate-lists.js';
import { FlowDecoder, type DecodedFlow } from '../../spouts/collector/flow-decoder.js';
import { IPV4_KEY_FIELDS, encodeIpfix, encodeV5, encodeV9, type FieldSpec, type FieldValue } from '../../test/helpers/flow-export-encoder.js';

/**
 * The pure decode rate of the collector on one thread: datagrams built once (fixed seed) by the
 * test encoder, decoded again and again by one FlowDecoder, no socket. IPFIX and v9 carry the
 * fields a router typically sends (addresses, ports, protocol, flags, tos, 64-bit counters, start
 * and end, interfaces) in records of ~50 octets, ~28 per 1,400-octet datagram; v5 its 30 records.
 * Exported so that the collector benchmark can report the same figure.
 */

export type DecodeBenchRow = {
  version: string;
  flowsPerDatagram: number;
  flows: number;
  seconds: number;
  flowsPerSec: number;
};

const RECORDS_V9_IPFIX = 28;
const DISTINCT_DATAGRAMS = 64;

function fields(times: FieldSpec[]): FieldSpec[] {
  return [
    ...IPV4_KEY_FIELDS,
    { id: 6, length: 1 },
    { id: 5, length: 1 },
    { id: 10, length: 4 }, // ingressInterface (skipped)
    { id: 14, length: 4 }, // egressInterface (skipped)
    { id: 2, length: 8 },
    { id: 1, length: 8 },
    ...times,
  ];
}

function records(random: () => number, startTimes: (i: number) => FieldValue[]): FieldValue[][] {
  return Array.from({ length: RECORDS_V9_IPFIX }, (_, i) => [
    `10.${random() & 255}.${random() & 255}.${random() & 255}`,
    `192.0.${random() & 255}.${random() & 255}`,
    1024 + (random() % 60_000),
    [443, 80, 53, 22][random() % 4]!,
    6,
    0x1b,
    0,
    1,
    2,
    1 + (random() % 1000),
    40 + (random() % 1_000_000),
    ...startTimes(i),
  ]);
}

function datagramsFor(version: 'ipfix' | 'v9' | 'v5', random: () => number): Uint8Array[] {
  const list: Uint8Array[] = [];
  if (version === 'ipfix') {
    const f = fields([{ id: 152, length: 8 }, { id: 153, length: 8 }]);
    list.push(encodeIpfix({ exportSecs: 1_700_000_000, sequence: 0, domainId: 1 }, [{ kind: 'template', templates: [{ id: 256, fields: f }] }]));
    for (let d = 0; d < DISTINCT_DATAGRAMS; d++) {
      const rs = records(random, (i) => [1_699_999_990_000 + i, 1_699_999_999_000 + i]);
      list.push(encodeIpfix({ exportSecs: 1_700_000_000, sequence: 0, domainId: 1 }, [{ kind: 'data', templateId: 256, fields: f, records: rs }]));
    }
  } else if (version === 'v9') {
    const f = fields([{ id: 22, length: 4 }, { id: 21, length: 4 }]);
    list.push(encodeV9({ sysUptimeMs: 9_000_000, unixSecs: 1_700_000_000, sequence: 0, sourceId: 1 }, [{ kind: 'template', templates: [{ id: 256, fields: f }] }]));
    for (let d = 0; d < DISTINCT_DATAGRAMS; d++) {
      const rs = records(random, (i) => [8_990_000 + i, 8_999_000 + i]);
      list.push(encodeV9({ sysUptimeMs: 9_000_000, unixSecs: 1_700_000_000, sequence: d + 1, sourceId: 1 }, [{ kind: 'data', templateId: 256, fields: f, records: rs }]));
    }
  } else {
    for (let d = 0; d < DISTINCT_DATAGRAMS; d++) {
      const rs = Array.from({ length: 30 }, () => ({
        src: `10.${random() & 255}.${random() & 255}.${random() & 255}`,
        dst: `192.0.${random() & 255}.${random() & 255}`,
        srcPort: 1024 + (random() % 60_000),
        dstPort: 443,
        packets: 1 + (random() % 1000),
        bytes: 40 + (random() % 1_000_000),
        first: 8_990_000,
        last: 8_999_000,
        flags: 0x1b,
        protocol: 6,
        tos: 0,
      }));
      list.push(encodeV5({ sysUptimeMs: 9_000_000, unixSecs: 1_700_000_000, sequence: d * 30 }, rs));
    }
  }
  return list;
}

/** Decodes each version's datagrams for about `secondsPerVersion` (after a warm-up) and returns the rates. */
export function runDecodeBench(options: { secondsPerVersion: number; seed?: number }): DecodeBenchRow[] {
  const rows: DecodeBenchRow[] = [];
  for (const version of ['ipfix', 'v9', 'v5'] as const) {
    const datagrams = datagramsFor(version, prng(options.seed ?? 7));
    const decoder = new FlowDecoder();
    const out: DecodedFlow[] = [];
    const dataStart = version === 'v5' ? 0 : 1;
    decoder.decode(datagrams[0]!, 'bench:1', 0, out);
    const pass = (): number => {
      let flows = 0;
      for (let i = dataStart; i < datagrams.length; i++) {
        out.length = 0;
        flows += decoder.decode(datagrams[i]!, 'bench:1', 0, out);
      }
      return flows;
    };
    const warmUntil = performance.now() + Math.min(1000, options.secondsPerVersion * 300);
    while (performance.now() < warmUntil) pass();
    let flows = 0;
    let passes = 0;
    const t0 = performance.now();
    const until = t0 + options.secondsPerVersion * 1000;
    while (performance.now() < until) {
      flows += pass();
      passes++;
    }
    const seconds = (performance.now() - t0) / 1000;
    const flowsPerDatagram = flows / passes / (datagrams.length - dataStart);
    rows.push({ version, flowsPerDatagram, flows, seconds, flowsPerSec: Math.round(flows / seconds) });
  }
  return rows;
}
