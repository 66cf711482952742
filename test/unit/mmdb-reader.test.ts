import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Reader } from 'maxmind';
import { afterAll, describe, expect, it } from 'vitest';
import { parseIp, type IpAddress } from '../../bolts/lookup/ip-address.js';
import { MmdbFormatError, MmdbReader } from '../../bolts/lookup/mmdb-reader.js';
import { generateBlocklist } from '../../data_sources/tools/generate-lists.js';
import { mmdbDouble, writeMmdb, type MmdbEntry, type MmdbValue } from '../../data_sources/tools/mmdb-writer.js';
import { prng } from '../../data_sources/tools/generate-lists.js';

const OPTIONS = { databaseType: 'Themis-Test', description: 'reader test database', buildEpochSecs: 1_700_000_000 };
const tmp = mkdtempSync(join(tmpdir(), 'themis-mmdb-reader-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));


function v6Text(words: number[]): string {
  return words.map((w) => w.toString(16)).join(':');
}

/** A generated block list plus IPv6 networks, with records using every data type. */
function generatedEntries(withV6: boolean): MmdbEntry[] {
  const next = prng(42);
  const entries: MmdbEntry[] = generateBlocklist(5_000, 7).map((row, i) => {
    const record: Record<string, MmdbValue> = { note: row.note };
    if (i % 3 === 0) record['score'] = i % 1000;
    if (i % 5 === 0) record['weight'] = mmdbDouble((i % 17) / 4);
    if (i % 7 === 0) record['tags'] = ['list', row.note, { rank: -(i % 50) }];
    if (i % 11 === 0) record['seen'] = BigInt(i) * 4_294_967_296n;
    if (i % 13 === 0) record['active'] = i % 2 === 0;
    return { network: row.network, record };
  });
  if (withV6) {
    for (let i = 0; i < 1_500; i++) {
      const words = [0x2001, 0x0db8, next() & 0xffff, next() & 0xffff, next() & 0xffff, next() & 0xffff, next() & 0xffff, next() & 0xffff];
      const prefix = [32, 40, 48, 56, 64, 96, 128][next() % 7]!;
      // Clear host bits so the network text is canonical.
      for (let bit = prefix; bit < 128; bit++) words[bit >> 4]! &= ~(1 << (15 - (bit & 15)));
      entries.push({ network: `${v6Text(words)}/${prefix}`, record: { note: `v6 net ${i % 40}`, prefix } });
    }
  }
  return entries;
}

/** Half the addresses fall inside listed networks, half anywhere. */
function sampleAddresses(entries: readonly MmdbEntry[], count: number, withV6: boolean, seed: number): string[] {
  const next = prng(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const pickListed = next() % 2 === 0;
    const entry = entries[next() % entries.length]!;
    const isV6 = withV6 && (pickListed ? entry.network.includes(':') : next() % 3 === 0);
    if (!isV6) {
      let v4 = next();
      if (pickListed && !entry.network.includes(':')) {
        const [base, prefixText] = entry.network.split('/') as [string, string | undefined];
        const prefix = prefixText === undefined ? 32 : Number(prefixText);
        const baseValue = base.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
        const hostMask = prefix === 32 ? 0 : 2 ** (32 - prefix) - 1;
        v4 = baseValue + (next() & hostMask);
      }
      out.push(`${v4 >>> 24}.${(v4 >>> 16) & 0xff}.${(v4 >>> 8) & 0xff}.${v4 & 0xff}`);
      continue;
    }
    const words = Array.from({ length: 8 }, () => next() & 0xffff);
    if (pickListed) {
      const [base, prefixText] = entry.network.split('/') as [string, string];
      const baseWords = parseIp(base)!;
      const bytes = (baseWords as { bytes: Uint8Array }).bytes;
      const prefix = Number(prefixText);
      for (let bit = 0; bit < prefix; bit++) {
        const word = bit >> 4;
        const mask = 1 << (15 - (bit & 15));
        const baseBit = (bytes[bit >> 3]! >> (7 - (bit & 7))) & 1;
        words[word] = baseBit ? words[word]! | mask : words[word]! & ~mask;
      }
    } else if (next() % 2 === 0) {
      words[0] = 0x2001;
      words[1] = 0x0db8;
    }
    out.push(v6Text(words));
  }
  return out;
}

const ip = (text: string): IpAddress => {
  const parsed = parseIp(text);
  if (parsed === null) throw new Error(`test address ${text} does not parse`);
  return parsed;
};

describe('MmdbReader', () => {
  for (const withV6 of [true, false]) {
    for (const recordSize of [24, 28, 32] as const) {
      it(`returns exactly what the maxmind package returns for seeded random addresses (IPv${withV6 ? 6 : 4} database, ${recordSize}-bit records)`, () => {
        const entries = generatedEntries(withV6);
        const { bytes } = writeMmdb(entries, { ...OPTIONS, recordSize });
        const theirs = new Reader<Record<string, unknown>>(bytes);
        const ours = MmdbReader.fromBuffer(bytes, 'generated.mmdb');
        expect(ours.metadata.ipVersion).toBe(withV6 ? 6 : 4);
        expect(ours.metadata.recordSize).toBe(recordSize);
        let found = 0;
        for (const text of sampleAddresses(entries, 4_000, withV6, recordSize + (withV6 ? 1 : 0))) {
          const expected = theirs.get(text);
          const offset = ours.lookupOffset(ip(text));
          expect(ours.lookup(ip(text)), text).toEqual(expected);
          expect(offset === -1, text).toBe(expected === null);
          if (expected !== null) found++;
        }
        // The sample must exercise both outcomes.
        expect(found).toBeGreaterThan(1_500);
        expect(found).toBeLessThan(4_000);
      });
    }
  }

  it('looks IPv4 addresses up under ::/96 in an IPv6 database', () => {
    const { bytes } = writeMmdb(
      [
        { network: '192.0.2.0/24', record: { note: 'v4' } },
        { network: '2001:db8::/32', record: { note: 'v6' } },
      ],
      OPTIONS,
    );
    const ours = MmdbReader.fromBuffer(bytes);
    const theirs = new Reader(bytes);
    expect(ours.metadata.ipVersion).toBe(6);
    expect(ours.lookup(ip('192.0.2.9'))).toEqual({ note: 'v4' });
    expect(ours.lookup(ip('192.0.2.9'))).toEqual(theirs.get('::192.0.2.9'));
    expect(ours.lookup(ip('::ffff:192.0.2.9'))).toEqual({ note: 'v4' });
    expect(ours.lookup(ip('::c000:209'))).toEqual({ note: 'v4' });
    expect(ours.lookup(ip('192.0.3.9'))).toBeNull();
    expect(ours.lookup(ip('2001:db8::1'))).toEqual({ note: 'v6' });
  });

  it('finds IPv4 addresses when the whole IPv4 space is one record (start record reached before 96 bits)', () => {
    const { bytes } = writeMmdb([{ network: '::/0', record: { note: 'everything' } }], OPTIONS);
    const ours = MmdbReader.fromBuffer(bytes);
    expect(ours.lookup(ip('10.0.0.1'))).toEqual({ note: 'everything' });
    expect(ours.lookup(ip('2001:db8::1'))).toEqual({ note: 'everything' });
  });

  it('returns null for an IPv6 address in an IPv4-only database', () => {
    const { bytes } = writeMmdb([{ network: '0.0.0.0/0', record: { note: 'all v4' } }], OPTIONS);
    const ours = MmdbReader.fromBuffer(bytes);
    expect(ours.metadata.ipVersion).toBe(4);
    expect(ours.lookupOffset(ip('2001:db8::1'))).toBe(-1);
    expect(ours.lookup(ip('2001:db8::1'))).toBeNull();
    expect(ours.lookup(ip('::ffff:10.0.0.1'))).toEqual({ note: 'all v4' });
  });

  it('decodes a hot record once and serves the same frozen object', () => {
    const { bytes } = writeMmdb([{ network: '10.0.0.0/8', record: { note: 'hot', nested: { a: [1, 2] } } }], OPTIONS);
    const ours = MmdbReader.fromBuffer(bytes);
    const first = ours.lookup<{ note: string; nested: { a: number[] } }>(ip('10.1.1.1'))!;
    const second = ours.lookup<{ note: string; nested: { a: number[] } }>(ip('10.2.2.2'))!;
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.nested.a)).toBe(true);
  });

  it('reports the metadata', () => {
    const { bytes, nodeCount } = writeMmdb([{ network: '10.0.0.0/8', record: {} }], { ...OPTIONS, languages: ['en', 'fr'] });
    expect(MmdbReader.fromBuffer(bytes).metadata).toEqual({
      binaryFormatMajorVersion: 2,
      binaryFormatMinorVersion: 0,
      buildEpochSecs: 1_700_000_000,
      databaseType: 'Themis-Test',
      description: { en: 'reader test database' },
      languages: ['en', 'fr'],
      ipVersion: 4,
      nodeCount,
      recordSize: 24,
    });
  });

  describe('refuses a corrupt or truncated file, naming it', () => {
    const good = writeMmdb(
      [
        { network: '10.0.0.0/8', record: { note: 'ten' } },
        { network: '2001:db8::/32', record: { note: 'doc' } },
      ],
      OPTIONS,
    );
    const fileWith = (name: string, bytes: Buffer): string => {
      const path = join(tmp, name);
      writeFileSync(path, bytes);
      return path;
    };
    const openError = (path: string): MmdbFormatError => {
      try {
        MmdbReader.open(path);
      } catch (error) {
        return error as MmdbFormatError;
      }
      throw new Error(`${path} opened without error`);
    };

    it('a file cut short', () => {
      const path = fileWith('truncated.mmdb', good.bytes.subarray(0, good.bytes.length - 40));
      const error = openError(path);
      expect(error).toBeInstanceOf(MmdbFormatError);
      expect(error.message).toContain(path);
      expect(error.message).toMatch(/metadata|runs past the end/);
      expect(error.file).toBe(path);
    });

    it('a file that is not an MMDB at all', () => {
      const path = fileWith('garbage.mmdb', Buffer.from('this is a CSV file, not a database\n'));
      expect(openError(path).message).toBe(
        `${path}: no MaxMind DB metadata marker in the last 128 KiB (truncated, or not an MMDB file)`,
      );
    });

    it('a search tree record pointing past the data section', () => {
      const bytes = Buffer.from(good.bytes);
      bytes.writeUIntBE(0xffffff, 0, 3);
      const path = fileWith('bad-record.mmdb', bytes);
      expect(openError(path).message).toMatch(new RegExp(`^${path}: search tree node 0 record 0 .* points outside the data section$`));
    });

    it('a node count that does not match the tree', () => {
      const bytes = Buffer.from(good.bytes);
      bytes.fill(0xaa, good.nodeCount * 6, good.nodeCount * 6 + 16);
      const path = fileWith('bad-separator.mmdb', bytes);
      expect(openError(path).message).toContain(`${path}: data section separator`);
    });

    it('a missing file', () => {
      const path = join(tmp, 'missing.mmdb');
      expect(openError(path).message).toMatch(new RegExp(`^${path}: cannot read: ENOENT`));
    });

    it('a corrupt record, at look-up', () => {
      // Point the string's size past the end of the data section.
      const bytes = Buffer.from(good.bytes);
      const dataStart = good.nodeCount * 6 + 16;
      const at = bytes.indexOf(Buffer.from('ten'), dataStart) - 1;
      bytes[at] = (2 << 5) | 28;
      const reader = MmdbReader.fromBuffer(bytes, 'corrupt-record.mmdb');
      expect(() => reader.lookup(ip('10.0.0.1'))).toThrow(/^corrupt-record\.mmdb: value runs past the end/);
    });
  });
});
