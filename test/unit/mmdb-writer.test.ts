import { Reader } from 'maxmind';
import { describe, expect, it } from 'vitest';
import {
  MmdbWriteError,
  mmdbDouble,
  mmdbInt32,
  mmdbUint16,
  mmdbUint32,
  mmdbUint64,
  parseNetwork,
  writeMmdb,
  type MmdbEntry,
  type MmdbWriteOptions,
} from '../../data_sources/tools/mmdb-writer.js';

// Databases are read back with the `maxmind` npm package (mmdb-lib), an independent reader.

const OPTIONS: MmdbWriteOptions = {
  databaseType: 'Themis-Test',
  description: 'writer test database',
  buildEpochSecs: 1_700_000_000,
};

function build(entries: readonly MmdbEntry[], options: Partial<MmdbWriteOptions> = {}) {
  const result = writeMmdb(entries, { ...OPTIONS, ...options });
  return { result, reader: new Reader<Record<string, unknown>>(result.bytes) };
}

describe('writeMmdb read back by the maxmind package', () => {
  it('writes an IPv4-only database with the requested metadata when every network is IPv4', () => {
    const { result, reader } = build([{ network: '10.0.0.0/8', record: { note: 'ten' } }], { languages: ['en', 'de'] });
    expect(result.ipVersion).toBe(4);
    expect(reader.metadata).toMatchObject({
      binaryFormatMajorVersion: 2,
      binaryFormatMinorVersion: 0,
      databaseType: 'Themis-Test',
      description: { en: 'writer test database' },
      languages: ['en', 'de'],
      ipVersion: 4,
      nodeCount: result.nodeCount,
      recordSize: 24,
    });
    expect(reader.metadata.buildEpoch.getTime()).toBe(1_700_000_000_000);
  });

  it('finds IPv4 addresses in nested networks and the most specific network wins', () => {
    const { reader } = build([
      { network: '10.1.2.3', record: { note: 'host' } },
      { network: '10.0.0.0/8', record: { note: 'ten' } },
      { network: '10.1.0.0/16', record: { note: 'ten-one' } },
      { network: '10.1.2.0/31', record: { note: 'pair' } },
    ]);
    expect(reader.get('10.200.0.1')).toEqual({ note: 'ten' });
    expect(reader.get('10.1.255.255')).toEqual({ note: 'ten-one' });
    expect(reader.get('10.1.2.3')).toEqual({ note: 'host' });
    expect(reader.get('10.1.2.2')).toEqual({ note: 'ten-one' });
    expect(reader.get('10.1.2.1')).toEqual({ note: 'pair' });
    expect(reader.get('10.1.2.0')).toEqual({ note: 'pair' });
  });

  it('returns null for addresses outside every network', () => {
    const { reader } = build([
      { network: '10.0.0.0/8', record: { note: 'ten' } },
      { network: '2001:db8::/32', record: { note: 'doc' } },
    ]);
    expect(reader.get('9.255.255.255')).toBeNull();
    expect(reader.get('11.0.0.0')).toBeNull();
    expect(reader.get('2001:db9::1')).toBeNull();
    expect(reader.get('::1')).toBeNull();
  });

  it('writes an IPv6 database with IPv4 networks placed at ::a.b.c.d', () => {
    const { result, reader } = build([
      { network: '192.0.2.0/24', record: { note: 'v4' } },
      { network: '2001:db8::/32', record: { note: 'doc' } },
      { network: '2001:db8:1::/48', record: { note: 'doc-1' } },
      { network: '2001:db8:1::5', record: { note: 'host' } },
    ]);
    expect(result.ipVersion).toBe(6);
    expect(reader.metadata.ipVersion).toBe(6);
    expect(reader.get('192.0.2.7')).toEqual({ note: 'v4' });
    expect(reader.get('::192.0.2.7')).toEqual({ note: 'v4' });
    expect(reader.get('::192.0.3.7')).toBeNull();
    expect(reader.get('2001:db8:ffff::1')).toEqual({ note: 'doc' });
    expect(reader.get('2001:db8:1:2::1')).toEqual({ note: 'doc-1' });
    expect(reader.get('2001:db8:1::5')).toEqual({ note: 'host' });
    expect(reader.get('2001:db8:1::6')).toEqual({ note: 'doc-1' });
  });

  it('writes an IPv6 database for IPv4-only input when asked to', () => {
    const { reader } = build([{ network: '192.0.2.0/24', record: { note: 'v4' } }], { ipVersion: 6 });
    expect(reader.metadata.ipVersion).toBe(6);
    expect(reader.get('192.0.2.1')).toEqual({ note: 'v4' });
    expect(reader.get('2001:db8::1')).toBeNull();
  });

  it('covers every address with a /0 network, overridden by more specific ones', () => {
    const { reader } = build([
      { network: '0.0.0.0/0', record: { note: 'all' } },
      { network: '128.0.0.0/1', record: { note: 'upper' } },
    ]);
    expect(reader.get('0.0.0.0')).toEqual({ note: 'all' });
    expect(reader.get('127.255.255.255')).toEqual({ note: 'all' });
    expect(reader.get('255.255.255.255')).toEqual({ note: 'upper' });
  });

  it('keeps the later record when the same network is given twice', () => {
    const { reader } = build([
      { network: '10.0.0.0/8', record: { note: 'first' } },
      { network: '10.0.0.0/8', record: { note: 'second' } },
    ]);
    expect(reader.get('10.0.0.1')).toEqual({ note: 'second' });
  });

  it('writes an empty database in which nothing is found', () => {
    const { result, reader } = build([]);
    expect(result.nodeCount).toBe(1);
    expect(reader.get('10.0.0.1')).toBeNull();
  });

  it('gives identical bytes for the same input and for the same networks in another order', () => {
    const entries: MmdbEntry[] = [
      { network: '10.0.0.0/8', record: { note: 'ten' } },
      { network: '10.1.0.0/16', record: { note: 'ten-one', n: 3 } },
      { network: '2001:db8::/32', record: { note: 'doc' } },
      { network: '192.0.2.1', record: { note: 'host' } },
    ];
    const a = writeMmdb(entries, OPTIONS).bytes;
    const b = writeMmdb(entries, OPTIONS).bytes;
    const c = writeMmdb([...entries].reverse(), OPTIONS).bytes;
    expect(b.equals(a)).toBe(true);
    expect(c.equals(a)).toBe(true);
  });

  it('stores identical records once', () => {
    const record = { note: 'same', country: { iso_code: 'ZA', names: { en: 'South Africa' } } };
    const one = writeMmdb([{ network: '10.0.0.1', record }], OPTIONS);
    const many = writeMmdb(
      Array.from({ length: 1000 }, (_, i) => ({ network: `10.0.${i >> 8}.${i & 0xff}`, record: { ...record } })),
      OPTIONS,
    );
    expect(many.dataSectionBytes).toBe(one.dataSectionBytes);
  });

  it('shares repeated keys and sub-values through pointers of every length', () => {
    // Distinct 300-byte padding pushes each group's first copy further out, so later copies of a
    // group's values point back 2, 3 and 4 bytes' worth of offset.
    const entries = Array.from({ length: 2600 }, (_, i) => ({
      network: `10.${i >> 16}.${(i >> 8) & 0xff}.${i & 0xff}`,
      record: {
        pad: `${i}`.padEnd(300, '.'),
        group: `group-${Math.floor(i / 500)}`.padEnd(40, '-'),
        country: { iso_code: 'ZA', names: { en: `South Africa ${Math.floor(i / 500)}` } },
      },
    }));
    const { result, reader } = build(entries);
    expect(result.dataSectionBytes).toBeGreaterThan(526_336 + 300);
    const naiveRecordBytes = 300 + 40 + 60;
    expect(result.dataSectionBytes).toBeLessThan(entries.length * naiveRecordBytes);
    for (const i of [0, 1, 499, 500, 501, 1499, 1500, 1750, 2000, 2001, 2599]) {
      expect(reader.get(entries[i]!.network)).toEqual(entries[i]!.record);
    }
  });

  it('encodes every data type so that the maxmind package decodes the same values', () => {
    const long = 'x'.repeat(300);
    const veryLong = 'y'.repeat(70_000);
    const record = {
      utf8: 'Zürich – 東京',
      empty: '',
      mid: 'm'.repeat(100),
      long,
      veryLong,
      double: 3.5,
      negativeDouble: -26.2041,
      forcedDouble: mmdbDouble(0),
      uint16: 65_535,
      forcedUint16: mmdbUint16(7),
      uint32: 4_294_967_295,
      forcedUint32: mmdbUint32(1),
      uint64: 2n ** 64n - 1n,
      inferredUint64: 2 ** 40,
      forcedUint64: mmdbUint64(5),
      int32: -1,
      int32Min: -(2 ** 31),
      forcedInt32: mmdbInt32(2 ** 31 - 1),
      zero: 0,
      yes: true,
      no: false,
      bytes: Uint8Array.from([0, 1, 254, 255]),
      array: [1, 'two', [3.25, { four: 4 }], []],
      map: { nested: { deeper: { deepest: 'yes' } }, emptyMap: {} },
    };
    const { reader } = build([{ network: '2001:db8::/32', record }]);
    const got = reader.get('2001:db8::1')!;
    expect(got).toEqual({
      ...record,
      forcedDouble: 0,
      forcedUint16: 7,
      forcedUint32: 1,
      uint64: 2n ** 64n - 1n,
      inferredUint64: 2n ** 40n,
      forcedUint64: 5n,
      forcedInt32: 2 ** 31 - 1,
      bytes: Buffer.from([0, 1, 254, 255]),
    });
  });

  it('reads correctly with 24-, 28- and 32-bit records', () => {
    const entries: MmdbEntry[] = [
      { network: '10.0.0.0/8', record: { note: 'ten' } },
      { network: '10.1.2.3', record: { note: 'host' } },
      { network: '2001:db8::/32', record: { note: 'doc' } },
    ];
    for (const recordSize of [24, 28, 32] as const) {
      const { reader } = build(entries, { recordSize });
      expect(reader.metadata.recordSize).toBe(recordSize);
      expect(reader.get('10.9.9.9')).toEqual({ note: 'ten' });
      expect(reader.get('10.1.2.3')).toEqual({ note: 'host' });
      expect(reader.get('2001:db8::9')).toEqual({ note: 'doc' });
      expect(reader.get('11.0.0.0')).toBeNull();
    }
  });

  it('picks 28-bit records once the data section passes what 24 bits can address', () => {
    // One string can hold at most ~16 MiB, so two 9 MiB strings push the section past 2^24 bytes.
    const blobBytes = 9 * 1024 * 1024;
    const entries: MmdbEntry[] = [
      { network: '10.0.0.0/8', record: { blob: 'a'.repeat(blobBytes) } },
      { network: '11.0.0.0/8', record: { blob: 'b'.repeat(blobBytes) } },
      { network: '12.0.0.0/8', record: { note: 'after the blobs' } },
    ];
    const { result, reader } = build(entries);
    expect(result.dataSectionBytes).toBeGreaterThan(2 ** 24);
    expect(result.recordSize).toBe(28);
    expect(reader.metadata.recordSize).toBe(28);
    expect(reader.get('12.1.1.1')).toEqual({ note: 'after the blobs' });
    expect((reader.get('11.1.1.1')!['blob'] as string).startsWith('bbb')).toBe(true);
    expect((reader.get('10.1.1.1')!['blob'] as string).length).toBe(blobBytes);
    expect(() => writeMmdb(entries, { ...OPTIONS, recordSize: 24 })).toThrow(/recordSize 24 cannot address/);
  });

  it('rejects a string longer than one MMDB value can hold', () => {
    expect(() => writeMmdb([{ network: '10.0.0.0/8', record: { blob: 'z'.repeat(17 * 1024 * 1024) } }], OPTIONS)).toThrow(
      /exceeds the MMDB limit/,
    );
  });

  it('rejects an IPv6 network in a database forced to IPv4', () => {
    expect(() => writeMmdb([{ network: '2001:db8::/32', record: {} }], { ...OPTIONS, ipVersion: 4 })).toThrow(MmdbWriteError);
  });

  it('rejects bad networks, naming the entry and the reason', () => {
    expect(() => writeMmdb([{ network: '10.0.0.0/8', record: {} }, { network: '10.0.0.0/33', record: {} }], OPTIONS)).toThrow(
      'entry 1: prefix /33 is out of range for IPv4 (0-32)',
    );
    expect(() => writeMmdb([{ network: 'example.com', record: {} }], OPTIONS)).toThrow(/not an IPv4 or IPv6 address/);
  });

  it('rejects values it cannot encode', () => {
    expect(() => writeMmdb([{ network: '10.0.0.0/8', record: { n: -(2 ** 40) } }], OPTIONS)).toThrow(/does not fit int32/);
    expect(() => writeMmdb([{ network: '10.0.0.0/8', record: { n: Number.NaN } }], OPTIONS)).toThrow(/not a finite number/);
    expect(() => writeMmdb([{ network: '10.0.0.0/8', record: { n: mmdbUint16(70_000) } }], OPTIONS)).toThrow(/does not fit uint16/);
  });
});

describe('parseNetwork', () => {
  it('reads bare addresses as /32 and /128', () => {
    expect(parseNetwork('192.0.2.1')).toMatchObject({ network: { version: 4, prefixLength: 32 } });
    expect(parseNetwork('2001:db8::1')).toMatchObject({ network: { version: 6, prefixLength: 128 } });
    expect(parseNetwork('::ffff:192.0.2.1')).toMatchObject({ network: { version: 6, prefixLength: 128 } });
  });

  it('explains what is wrong with a bad network', () => {
    expect(parseNetwork('192.0.2.5/24')).toEqual({
      reason: '192.0.2.5/24 has host bits set below /24 (did you mean 192.0.2.0/24?)',
    });
    expect(parseNetwork('2001:db8::/129')).toEqual({ reason: 'prefix /129 is out of range for IPv6 (0-128)' });
    expect(parseNetwork('10.0.0.0/x')).toEqual({ reason: 'prefix "/x" is not a number' });
    expect(parseNetwork('256.0.0.0')).toEqual({ reason: '"256.0.0.0" is not an IPv4 or IPv6 address' });
    expect(parseNetwork('1:2:3:4:5:6:7:8:9')).toEqual({ reason: '"1:2:3:4:5:6:7:8:9" is not an IPv4 or IPv6 address' });
  });
});
