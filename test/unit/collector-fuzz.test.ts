import { describe, expect, it } from 'vitest';
import { parseFlowObject } from '../../bolts/parse/parse-flow.js';
import { prng } from '../../data_sources/tools/generate-lists.js';
import { FlowDecoder, type DecodedFlow } from '../../spouts/collector/flow-decoder.js';
import { IPV4_KEY_FIELDS, VARIABLE, encodeIpfix, encodeV5, encodeV9, type FieldSpec, type FieldValue, type SetSpec } from '../helpers/flow-export-encoder.js';

/**
 * Whatever arrives on the collector's port: random bytes behind a valid version, cut datagrams,
 * flipped bits, absurd templates and a template flood. The decoder must not throw, must count
 * what it refuses, must stay within its bounds, and must still decode the valid datagrams sent
 * between the bad ones exactly as it decodes them alone.
 */

const SEED = 20_240_611;
const NOW = 1_700_000_000_000;

const FIELDS: FieldSpec[] = [
  ...IPV4_KEY_FIELDS,
  { id: 6, length: 1 },
  { id: 82, length: VARIABLE },
  { id: 2, length: 4 },
  { id: 1, length: 8 },
  { id: 2, length: 4, enterprise: 29_305 },
  { id: 1, length: 4, enterprise: 29_305 },
  { id: 150, length: 4 },
  { id: 151, length: 4 },
];
const V9_FIELDS = FIELDS.filter((f) => f.enterprise === undefined && f.length !== VARIABLE);
const V6_FIELDS: FieldSpec[] = [{ id: 27, length: 16 }, { id: 28, length: 16 }, ...FIELDS.slice(2)];

function valueFor(f: FieldSpec, random: () => number, i: number): FieldValue {
  if (f.id === 8 || f.id === 12) return `10.${i & 255}.${random() & 255}.${random() & 255}`;
  if (f.id === 27) return `2001:db8:0:0:0:0:${(random() & 0xffff).toString(16)}:${i}`;
  if (f.id === 28) return i % 2 === 0 ? `0:0:0:0:0:ffff:${(random() & 0xffff).toString(16)}:1` : `fe80:0:0:0:${i}:0:0:0`;
  if (f.length === VARIABLE) return new Uint8Array(random() % 300);
  if (f.id === 150 || f.id === 151) return 1_690_000_000 + i;
  return random() % 2 ** Math.min(8 * f.length, 31);
}

function validDatagrams(random: () => number): Uint8Array[] {
  const records = (fields: FieldSpec[]) => Array.from({ length: 1 + (random() % 5) }, (_, i) => fields.map((f) => valueFor(f, random, i)));
  const ipfixSets = (fields: FieldSpec[]): SetSpec[] => [
    { kind: 'template', templates: [{ id: 256, fields }] },
    { kind: 'data', templateId: 256, fields, records: records(fields) },
  ];
  return [
    encodeIpfix({ exportSecs: 1_690_000_100, sequence: 0, domainId: 1 }, ipfixSets(FIELDS)),
    encodeIpfix({ exportSecs: 1_690_000_100, sequence: 0, domainId: 2 }, ipfixSets(V6_FIELDS)),
    encodeV9({ sysUptimeMs: 5_000_000, unixSecs: 1_690_000_100, sequence: 0, sourceId: 1 }, ipfixSets(V9_FIELDS)),
    encodeV5({ sysUptimeMs: 5_000_000, unixSecs: 1_690_000_100, sequence: 0 }, [
      { src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, packets: 3, bytes: 4, first: 4_000_000, last: 4_999_999, flags: 2, protocol: 6, tos: 0 },
    ]),
  ];
}

/** The flows `datagram` yields from a fresh decoder: what it must yield anywhere. */
function alone(datagram: Uint8Array): DecodedFlow[] {
  const out: DecodedFlow[] = [];
  new FlowDecoder().decode(datagram, 'alone:1', NOW, out);
  return out;
}

function randomBytes(random: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => random() & 255);
}

function totals(decoder: FlowDecoder): { malformed: number; misses: number; templates: number; held: number } {
  const all = decoder.stats();
  const sum = (key: 'malformed' | 'templateMisses' | 'templates' | 'heldRecords') => all.reduce((n, s) => n + s[key], 0);
  return { malformed: sum('malformed'), misses: sum('templateMisses'), templates: sum('templates'), held: sum('heldRecords') };
}

function expectNoDecoderError(decoder: FlowDecoder, seed: number): void {
  for (const s of decoder.stats()) expect(s.lastMalformed, `seed ${seed}`).not.toMatch(/^decoder error/);
}

describe('collector decoder under hostile input', () => {
  it('counts random datagrams behind each version as malformed and never throws', () => {
    const random = prng(SEED);
    const decoder = new FlowDecoder();
    const out: DecodedFlow[] = [];
    for (let i = 0; i < 20_000; i++) {
      const bytes = randomBytes(random, random() % 200);
      if (bytes.length >= 2) bytes[1] = [5, 9, 10, random() & 255][i % 4]!;
      if (bytes.length >= 1 && i % 4 !== 3) bytes[0] = 0;
      expect(() => decoder.decode(bytes, `198.51.100.${i % 7}:9`, NOW + i, out), `seed ${SEED}, datagram ${i}`).not.toThrow();
    }
    const t = totals(decoder);
    expect(t.malformed, `seed ${SEED}`).toBeGreaterThan(10_000);
    expectNoDecoderError(decoder, SEED);
  });

  it('decodes every prefix of a valid datagram to a prefix of its flows, or counts it malformed', () => {
    for (let seed = SEED; seed < SEED + 5; seed++) {
      for (const datagram of validDatagrams(prng(seed))) {
        const full = alone(datagram);
        expect(full.length, `seed ${seed}`).toBeGreaterThan(0);
        for (let cut = 0; cut < datagram.length; cut++) {
          const decoder = new FlowDecoder();
          const out: DecodedFlow[] = [];
          decoder.decode(datagram.subarray(0, cut), 'cut:1', NOW, out);
          expect(out, `seed ${seed}, version ${datagram[1]}, cut at ${cut}`).toEqual(full.slice(0, out.length));
          const stats = decoder.stats()[0]!;
          // A cut inside a set is refused; only a v9 cut exactly between flowsets is whole.
          if (out.length < full.length) expect(stats.malformed + stats.heldRecords, `seed ${seed}, cut at ${cut}`).toBeGreaterThanOrEqual(datagram[1] === 9 ? 0 : 1);
        }
      }
    }
  });

  it('yields flows the flow parser accepts as they are, numbered by the caller', () => {
    for (let seed = SEED; seed < SEED + 5; seed++) {
      const flows = validDatagrams(prng(seed)).flatMap(alone);
      expect(flows.length, `seed ${seed}`).toBeGreaterThan(2);
      flows.forEach((flow, id) => {
        const parsed = parseFlowObject({ id: id + 1, ...flow }, NOW);
        expect(parsed.ok ? 'ok' : parsed.reason, `seed ${seed}, flow ${JSON.stringify(flow)}`).toBe('ok');
      });
    }
  });

  it('survives flipped bits and still decodes the valid datagrams sent between them exactly', () => {
    for (let seed = SEED; seed < SEED + 20; seed++) {
      const random = prng(seed);
      const decoder = new FlowDecoder({ maxTemplatesPerExporter: 64, maxHeldDatagrams: 8 });
      const valid = validDatagrams(random);
      const expected = valid.map(alone);
      for (let round = 0; round < 200; round++) {
        const mutated = Uint8Array.from(valid[round % valid.length]!);
        for (let flips = 1 + (random() % 4); flips > 0; flips--) mutated[random() % mutated.length]! ^= 1 << (random() % 8);
        const junk: DecodedFlow[] = [];
        expect(() => decoder.decode(mutated, 'exporter:1', NOW + round, junk), `seed ${seed}, round ${round}`).not.toThrow();
        const which = random() % valid.length;
        const out: DecodedFlow[] = [];
        decoder.decode(valid[which]!, 'exporter:1', NOW + round, out);
        expect(out, `seed ${seed}, round ${round}`).toEqual(expected[which]);
      }
      const stats = decoder.stats()[0]!;
      expect(stats.templates, `seed ${seed}`).toBeLessThanOrEqual(64);
      expect(stats.heldRecords, `seed ${seed}`).toBeLessThanOrEqual(8);
      expectNoDecoderError(decoder, seed);
    }
  });

  it('refuses templates with absurd lengths, zero-length fields and huge field counts', () => {
    const random = prng(SEED + 1);
    const decoder = new FlowDecoder();
    const absurd: Array<[string, number[]]> = [
      // id 256, 65535 fields declared, one given.
      ['huge field count', [0x01, 0x00, 0xff, 0xff, 0x00, 0x08, 0x00, 0x04]],
      ['zero-length address', [0x01, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00]],
      ['address of 65534 octets', [0x01, 0x00, 0x00, 0x01, 0x00, 0x08, 0xff, 0xfe]],
      ['variable-length counter', [0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0xff, 0xff]],
      ['records longer than a message', [0x01, 0x00, 0x00, 0x02, 0x00, 0x63, 0xff, 0x00, 0x00, 0x64, 0xff, 0x00]],
      ['enterprise number cut off', [0x01, 0x00, 0x00, 0x01, 0x80, 0x01, 0x00, 0x04, 0x00, 0x00]],
    ];
    for (const [name, body] of absurd) {
      const before = totals(decoder).malformed;
      const datagram = encodeIpfix({ exportSecs: 1, sequence: 0, domainId: 1 }, [{ kind: 'raw', setId: 2, body: Uint8Array.from(body) }]);
      decoder.decode(datagram, 'absurd:1', NOW, []);
      expect(totals(decoder).malformed, name).toBe(before + 1);
      expect(totals(decoder).templates, name).toBe(0);
    }
    // Random template sets: counted, never throwing, never more templates than the cap.
    for (let i = 0; i < 5000; i++) {
      const body = randomBytes(random, 4 + (random() % 60));
      body[0] = 1; // template id 256-511, so most reach the field checks
      const datagram = i % 2 === 0 ? encodeIpfix({ exportSecs: 1, sequence: i, domainId: 1 }, [{ kind: 'raw', setId: 2 + (i % 4 === 0 ? 1 : 0), body }]) : encodeV9({ sysUptimeMs: 1, unixSecs: 1, sequence: i, sourceId: 1 }, [{ kind: 'raw', setId: i % 4 === 1 ? 1 : 0, body }]);
      decoder.decode(datagram, 'absurd:1', NOW, []);
    }
    expect(totals(decoder).malformed, `seed ${SEED + 1}`).toBeGreaterThan(1000);
    expectNoDecoderError(decoder, SEED + 1);
  });

  it('caps a template flood, evicting the oldest, while a valid exporter flow keeps decoding', () => {
    const cap = 100;
    const decoder = new FlowDecoder({ maxTemplatesPerExporter: cap });
    const valid = validDatagrams(prng(SEED + 2))[0]!;
    const expected = alone(valid);
    let decoded = 0;
    for (let id = 256; id < 256 + 5000; id++) {
      const flood = encodeIpfix({ exportSecs: 1, sequence: 0, domainId: id % 3 }, [{ kind: 'template', templates: [{ id, fields: FIELDS }] }]);
      decoder.decode(flood, 'flooder:1', NOW, []);
      if (id % 100 === 0) {
        const out: DecodedFlow[] = [];
        decoder.decode(valid, 'flooder:1', NOW, out);
        expect(out, `template ${id}`).toEqual(expected);
        decoded++;
      }
    }
    const stats = decoder.stats()[0]!;
    expect(decoded).toBe(50);
    expect(stats.templates).toBe(cap);
    expect(stats.templatesEvicted).toBeGreaterThanOrEqual(5000 - cap);
  });

  it('keeps at most maxExporters exporters when every datagram comes from a new sender', () => {
    const decoder = new FlowDecoder({ maxExporters: 50 });
    const valid = validDatagrams(prng(SEED + 3));
    for (let i = 0; i < 2000; i++) decoder.decode(valid[i % 3]!, `203.0.113.${i % 250}:${1000 + i}`, NOW, []);
    expect(decoder.stats()).toHaveLength(50);
    expect(decoder.exportersEvicted).toBe(1950);
  });
});
