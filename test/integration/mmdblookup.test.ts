/**
 * The shipped data_sources/*.mmdb and *.dat files are read by libmaxminddb's `mmdblookup`, the
 * reference C implementation, and give the records their CSV sources describe. Needs `mmdblookup`
 * (`apt-get install mmdb-bin`); without it every test here fails and says so.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseIp } from '../../bolts/lookup/ip-address.js';
import { MmdbReader } from '../../bolts/lookup/mmdb-reader.js';
import { buildSamples, DATA_DIR, SAMPLE_BUILD_EPOCH_SECS, SAMPLE_DATABASES } from '../../data_sources/tools/build-samples.js';
import { parseNetwork, type MmdbNetwork, type MmdbValue } from '../../data_sources/tools/mmdb-writer.js';
import { parseNetworkCsv } from '../../data_sources/tools/network-csv.js';

const INSTALL_HINT = 'mmdblookup (libmaxminddb) is not installed; install it with `apt-get install mmdb-bin`';

function mmdblookup(args: string[]): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync('mmdblookup', args, { encoding: 'utf8' });
  if (result.error !== undefined) {
    if ((result.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(INSTALL_HINT);
    throw result.error;
  }
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

/**
 * mmdblookup prints a record as nested `{ "key": value <type> }` / `[ ... ]` without commas;
 * this turns it back into a JavaScript value (uint64/uint128 as bigint, as our reader returns).
 */
function parseDump(text: string): unknown {
  const tokens = [...text.matchAll(/\{|\}|\[|\]|"([^"]*)":|"([^"]*)" <utf8_string>|(\S+) <(\w+)>/g)];
  let i = 0;
  const value = (): unknown => {
    const token = tokens[i++];
    if (token === undefined) throw new Error(`unexpected end of mmdblookup output:\n${text}`);
    if (token[0] === '{') {
      const map: Record<string, unknown> = {};
      while (tokens[i]![0] !== '}') {
        const key = tokens[i++]![1];
        if (key === undefined) throw new Error(`expected a key in mmdblookup output:\n${text}`);
        map[key] = value();
      }
      i++;
      return map;
    }
    if (token[0] === '[') {
      const array: unknown[] = [];
      while (tokens[i]![0] !== ']') array.push(value());
      i++;
      return array;
    }
    if (token[2] !== undefined) return token[2];
    const [, , , raw, type] = token as unknown as [string, undefined, undefined, string, string];
    switch (type) {
      case 'uint64':
      case 'uint128':
        return BigInt(raw);
      case 'boolean':
        return raw === 'true';
      default:
        return Number(raw);
    }
  };
  return value();
}

/** The record mmdblookup finds for `ip`, or null when it finds none. */
function lookup(file: string, ip: string): unknown {
  const { stdout, stderr, status } = mmdblookup(['--file', file, '--ip', ip]);
  if (stderr.includes('Could not find an entry')) return null;
  if (status !== 0) throw new Error(`mmdblookup --file ${file} --ip ${ip} exited ${status}: ${stderr}`);
  return parseDump(stdout);
}

function metadata(file: string): Record<string, string> {
  // Any address works: --verbose prints the metadata before the look-up.
  const { stdout } = mmdblookup(['--file', file, '--ip', '0.0.0.0', '--verbose']);
  const fields: Record<string, string> = {};
  for (const match of stdout.matchAll(/^ {4}([A-Z][\w ]*):\s+(.*)$/gm)) fields[match[1]!] = match[2]!;
  return fields;
}

/** A CSV value as a reader returns it: forced-type numbers become plain numbers. */
function plain(value: MmdbValue): unknown {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(plain);
  if ('mmdbType' in value && 'value' in value) return Number(value.value);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v as MmdbValue)]));
}

function addressText(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

function lastAddress(network: MmdbNetwork): Uint8Array {
  const bytes = Uint8Array.from(network.bytes);
  for (let bit = network.prefixLength; bit < bytes.length * 8; bit++) bytes[bit >> 3]! |= 1 << (7 - (bit & 7));
  return bytes;
}

function contains(network: MmdbNetwork, address: Uint8Array): boolean {
  if (network.bytes.length !== address.length) return false;
  for (let bit = 0; bit < network.prefixLength; bit++) {
    const mask = 1 << (7 - (bit & 7));
    if ((network.bytes[bit >> 3]! & mask) !== (address[bit >> 3]! & mask)) return false;
  }
  return true;
}

const tmp = mkdtempSync(join(tmpdir(), 'themis-mmdblookup-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('shipped data files read by libmaxminddb mmdblookup', () => {
  it('finds mmdblookup installed', () => {
    expect(mmdblookup(['--version']).stdout + mmdblookup(['--version']).stderr).toMatch(/mmdblookup version/);
  });

  for (const sample of SAMPLE_DATABASES) {
    const file = join(DATA_DIR, sample.output);

    it(`${sample.output}: metadata is what build-samples wrote`, () => {
      const ours = MmdbReader.open(file).metadata;
      expect(metadata(file)).toMatchObject({
        'Node count': String(ours.nodeCount),
        'Record size': `${ours.recordSize} bits`,
        'IP version': `IPv${ours.ipVersion}`,
        'Binary format': '2.0',
        'Build epoch': expect.stringMatching(new RegExp(`^${SAMPLE_BUILD_EPOCH_SECS} `)),
        Type: sample.databaseType,
        Languages: 'en',
      });
    });

    it(`${sample.output}: the first and last address of every source network give the most specific network's record`, () => {
      const csv = parseNetworkCsv(readFileSync(join(DATA_DIR, sample.source), 'utf8'), sample.source);
      expect(csv.errors).toEqual([]);
      const networks = csv.entries.map((entry) => {
        const parsed = parseNetwork(entry.network);
        if ('reason' in parsed) throw new Error(parsed.reason);
        return { network: parsed.network, record: plain(entry.record) };
      });
      const reader = MmdbReader.open(file);
      for (const { network } of networks) {
        for (const address of [network.bytes, lastAddress(network)]) {
          const text = addressText(address);
          const mostSpecific = networks
            .filter((n) => contains(n.network, address))
            .sort((a, b) => b.network.prefixLength - a.network.prefixLength)[0]!;
          const found = lookup(file, text);
          expect(found, `${sample.output} ${text}`).toEqual(mostSpecific.record);
          expect(reader.lookup(parseIp(text)!), `our reader, ${sample.output} ${text}`).toEqual(found);
        }
      }
    });
  }

  // Spot checks of the sample universe described in data_sources/README.md.
  const cases: [file: string, ip: string, expected: unknown][] = [
    ['GeoLite2-City.mmdb', '192.0.2.10', {
      city: { names: { en: 'Johannesburg' } },
      country: { iso_code: 'ZA', names: { en: 'South Africa' } },
      location: { latitude: -26.2041, longitude: 28.0473 },
    }],
    ['GeoLite2-City.mmdb', '192.0.2.200', expect.objectContaining({ city: { names: { en: 'Cape Town' } } })],
    ['GeoLite2-City.mmdb', '2001:db8:1::dead', expect.objectContaining({ country: { iso_code: 'ZA', names: { en: 'South Africa' } } })],
    ['GeoLite2-City.mmdb', '198.51.100.66', expect.objectContaining({ country: { iso_code: 'CN', names: { en: 'China' } } })],
    ['GeoLite2-City.mmdb', '203.0.113.50', expect.objectContaining({ country: { iso_code: 'RU', names: { en: 'Russia' } } })],
    ['GeoLite2-City.mmdb', '203.0.113.130', {}],
    ['GeoLite2-City.mmdb', '203.0.113.200', expect.objectContaining({ country: { iso_code: 'RU', names: { en: 'Russia' } } })],
    ['GeoLite2-City.mmdb', '2001:db8:2::66', expect.objectContaining({ country: { iso_code: 'DE', names: { en: 'Germany' } } })],
    ['GeoLite2-City.mmdb', '2001:db8:4::1', { location: { latitude: 52.3676, longitude: 4.9041 } }],
    ['GeoLite2-City.mmdb', '8.8.8.8', expect.objectContaining({ country: { iso_code: 'US', names: { en: 'United States' } } })],
    ['GeoLite2-City.mmdb', '198.18.0.1', null],
    ['GeoLite2-City.mmdb', '2001:db8:ff::1', null],
    ['GeoIPASNum.dat', '192.0.2.25', { autonomous_system_number: 64500, autonomous_system_organization: 'THEMIS-EXAMPLE Our Network' }],
    ['GeoIPASNum.dat', '2001:db8:1::10', expect.objectContaining({ autonomous_system_number: 64500 })],
    ['GeoIPASNum.dat', '198.51.100.10', expect.objectContaining({ autonomous_system_number: 64501 })],
    ['GeoIPASNum.dat', '203.0.113.10', expect.objectContaining({ autonomous_system_number: 64502 })],
    ['GeoIPASNum.dat', '203.0.113.130', expect.objectContaining({ autonomous_system_number: 64504 })],
    ['GeoIPASNum.dat', '2001:db8:2::10', expect.objectContaining({ autonomous_system_number: 64503 })],
    ['GeoIPASNum.dat', '2001:4860:4860::8888', { autonomous_system_number: 15169, autonomous_system_organization: 'GOOGLE' }],
    ['GeoIPASNum.dat', '198.18.0.1', null],
    ['active_hosts.dat', '192.0.2.25', { note: 'mail server' }],
    ['active_hosts.dat', '192.0.2.70', { note: 'DHCP pool (workstations)' }],
    ['active_hosts.dat', '2001:db8:1::10', { note: 'web server' }],
    ['active_hosts.dat', '192.0.2.99', null],
    ['active_hosts.dat', '192.0.2.200', null],
    ['active_hosts.dat', '2001:db8:1::dead', null],
    ['emerging_threats_ips.dat', '198.51.100.66', { note: 'Emerging Threats: compromised host' }],
    ['emerging_threats_ips.dat', '198.51.100.250', { note: 'Emerging Threats: known attacker range' }],
    ['emerging_threats_ips.dat', '198.51.100.65', null],
    ['alien_vault_reputation.dat', '203.0.113.77', { note: 'AlienVault: Malicious Host' }],
    ['alien_vault_reputation.dat', '2001:db8:2::77', { note: 'AlienVault: Scanning Host' }],
    ['alien_vault_reputation.dat', '203.0.113.50', null],
    ['ndpi_good.dat', '8.8.4.4', { note: 'Google' }],
    ['ndpi_good.dat', '2001:4860:4860::8888', { note: 'Google' }],
    ['ndpi_good.dat', '192.0.2.10', null],
  ];
  it.each(cases)('%s: %s as the sample universe says', (name, ip, expected) => {
    const file = join(DATA_DIR, name);
    expect(lookup(file, ip)).toEqual(expected);
    expect(MmdbReader.open(file).lookup(parseIp(ip)!)).toEqual(expected);
  });

  it('emerging_threats_ips.dat is IPv4-only: mmdblookup refuses an IPv6 address and our reader finds nothing', () => {
    const file = join(DATA_DIR, 'emerging_threats_ips.dat');
    const { stderr } = mmdblookup(['--file', file, '--ip', '2001:db8:2::66']);
    expect(stderr).toContain('IPv6 address in an IPv4-only database');
    expect(MmdbReader.open(file).lookup(parseIp('2001:db8:2::66')!)).toBeNull();
  });

  it('the shipped files are byte-for-byte what build-samples makes from data_sources/src', () => {
    buildSamples(tmp);
    for (const sample of SAMPLE_DATABASES) {
      const rebuilt = readFileSync(join(tmp, sample.output));
      const shipped = readFileSync(join(DATA_DIR, sample.output));
      expect(rebuilt.equals(shipped), `${sample.output} is stale: run npm run data:build`).toBe(true);
    }
  });
});
