import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadAsnListFile,
  loadPortListFile,
  parseAsnList,
  parsePortList,
  parseProtocolList,
} from '../../bolts/lists/integer-list.js';
import { loadKnownHostServicesFile, parseKnownHostServices } from '../../bolts/lists/known-host-services.js';
import { ListFileError } from '../../bolts/lists/list-file-error.js';
import { loadSuspectCountriesFile, parseSuspectCountries } from '../../bolts/lists/suspect-countries.js';
import { ip } from '../helpers/make-flow.js';

function listError(parse: () => unknown): ListFileError {
  try {
    parse();
  } catch (err) {
    if (err instanceof ListFileError) return err;
    throw err;
  }
  throw new Error('expected a ListFileError');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'themis-lists-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('integer lists', () => {
  it('reads one integer per line into a set', () => {
    expect([...parsePortList('23\n2323\n', 'ports.txt')]).toEqual([23, 2323]);
  });

  it('accepts comments, blank lines, surrounding whitespace, CR and a BOM (fixes §15 item 26)', () => {
    const text = '\uFEFF# honeypot ports\r\n\r\n  23  \r\n\t2323 # telnet alt\r\n#\n';
    expect([...parsePortList(text, 'ports.txt')].sort()).toEqual([23, 2323]);
  });

  it('keeps a repeated value once', () => {
    expect(parsePortList('80\n80\n', 'ports.txt').size).toBe(1);
  });

  it('rejects every bad line at once, naming file, line and text', () => {
    const err = listError(() => parsePortList('22\nssh\n\n-1\n65536\n1e3\n0x50\n443\n', 'tcp_known_ports.txt'));
    expect(err.code).toBe('THEMIS_LIST_FILE');
    expect(err.file).toBe('tcp_known_ports.txt');
    expect(err.problems).toEqual([
      { line: 2, text: 'ssh', reason: 'not a decimal port' },
      { line: 4, text: '-1', reason: 'not a decimal port' },
      { line: 5, text: '65536', reason: 'port must be 0-65535' },
      { line: 6, text: '1e3', reason: 'not a decimal port' },
      { line: 7, text: '0x50', reason: 'not a decimal port' },
    ]);
    expect(err.message).toContain('tcp_known_ports.txt:2: not a decimal port: "ssh"');
    expect(err.message).toContain('tcp_known_ports.txt:5: port must be 0-65535: "65536"');
  });

  it('accepts an empty port list', () => {
    expect(parsePortList('# none\n', 'ignore_honeyport_ports.txt').size).toBe(0);
  });

  it('reads protocols 0-255 and rejects 256', () => {
    expect([...parseProtocolList('1\n6\n17\n', 'valid_protocols.txt')]).toEqual([1, 6, 17]);
    expect(listError(() => parseProtocolList('6\n256\n', 'valid_protocols.txt')).problems).toEqual([
      { line: 2, text: '256', reason: 'protocol must be 0-255' },
    ]);
  });

  it('rejects an empty protocol list because it would discard every flow', () => {
    expect(listError(() => parseProtocolList('\n', 'valid_protocols.txt')).problems[0]!.reason).toMatch(/no protocols listed/);
  });

  it('reads 32-bit ASNs', () => {
    expect([...parseAsnList('64496\n4294967295\n', 'asn.txt')]).toEqual([64496, 4294967295]);
  });

  it('rejects ASN 0, which means unknown (fixes §15 item 8)', () => {
    expect(listError(() => parseAsnList('64496\n0\n', 'asn.txt')).problems).toEqual([
      { line: 2, text: '0', reason: 'ASN 0 means "unknown" and cannot be local' },
    ]);
  });

  it('rejects an ASN above 2^32-1', () => {
    expect(listError(() => parseAsnList('4294967296\n', 'asn.txt')).problems[0]!.reason).toBe('ASN must be 0-4294967295');
  });

  it('rejects an empty ASN list because every flow would be of unknown direction', () => {
    expect(listError(() => parseAsnList('# ours\n', 'asn.txt')).problems[0]).toMatchObject({ line: 0 });
  });

  it('loads a list file from disk', async () => {
    const path = join(dir, 'asn.txt');
    await writeFile(path, '64496\r\n64511\r\n');
    expect([...(await loadAsnListFile(path))]).toEqual([64496, 64511]);
  });

  it('names a missing file in the error', async () => {
    const path = join(dir, 'absent.txt');
    await expect(loadPortListFile(path)).rejects.toThrow(`cannot read ${path}: ENOENT`);
    await expect(loadPortListFile(path)).rejects.toBeInstanceOf(ListFileError);
  });
});

const HEADER = 'ip_address,protocol,port,is_hosted,description\n';

describe('known host services', () => {
  const services = parseKnownHostServices(
    HEADER +
      '# mail\n' +
      '192.0.2.25,6,25,true,mail server, primary\r\n' +
      '192.0.2.25,6,587,t,submission\n' +
      '192.0.2.53,17,53,true,dns\n' +
      '192.0.2.25,6,443,false,mail server fetches updates\n' +
      '203.0.113.0/24,6,80,true,web farm\n' +
      '2001:db8::/64,6,443,TRUE,v6 web farm\n' +
      '2001:db8:1::25,6,25,1,v6 mail\n' +
      '10.0.0.0/8,17,123,f,ntp\n',
    'known_host_services.csv',
  );

  it('matches an exact host and port per kind', () => {
    expect(services.hasService('TCP_HOSTED', ip('192.0.2.25'), 25)).toBe(true);
    expect(services.hasService('TCP_HOSTED', ip('192.0.2.25'), 587)).toBe(true);
    expect(services.hasService('TCP_HOSTED', ip('192.0.2.25'), 22)).toBe(false);
    expect(services.hasService('UDP_HOSTED', ip('192.0.2.25'), 25)).toBe(false);
    expect(services.hasService('TCP_REMOTE', ip('192.0.2.25'), 443)).toBe(true);
    expect(services.hasService('UDP_HOSTED', ip('192.0.2.53'), 53)).toBe(true);
  });

  it('knows a host with any port of a kind, for negative scoring', () => {
    expect(services.hasHost('TCP_HOSTED', ip('192.0.2.25'))).toBe(true);
    expect(services.hasHost('UDP_HOSTED', ip('192.0.2.25'))).toBe(false);
    expect(services.hasHost('TCP_HOSTED', ip('192.0.2.26'))).toBe(false);
  });

  it('covers every host of an IPv4 CIDR network and nothing outside it', () => {
    expect(services.hasService('TCP_HOSTED', ip('203.0.113.0'), 80)).toBe(true);
    expect(services.hasService('TCP_HOSTED', ip('203.0.113.255'), 80)).toBe(true);
    expect(services.hasService('TCP_HOSTED', ip('203.0.114.1'), 80)).toBe(false);
    expect(services.hasHost('TCP_HOSTED', ip('203.0.113.77'))).toBe(true);
    expect(services.hasService('UDP_REMOTE', ip('10.200.3.4'), 123)).toBe(true);
    expect(services.hasService('UDP_REMOTE', ip('11.0.0.1'), 123)).toBe(false);
  });

  it('covers every host of an IPv6 CIDR network and matches IPv6 hosts whatever their spelling', () => {
    expect(services.hasService('TCP_HOSTED', ip('2001:db8::abcd'), 443)).toBe(true);
    expect(services.hasService('TCP_HOSTED', ip('2001:db8:0:0:ffff:ffff:ffff:ffff'), 443)).toBe(true);
    expect(services.hasService('TCP_HOSTED', ip('2001:db8:0:1::1'), 443)).toBe(false);
    expect(services.hasService('TCP_HOSTED', ip('2001:DB8:1:0:0:0:0:25'), 25)).toBe(true);
    expect(services.hasHost('TCP_HOSTED', ip('2001:db8:1::26'))).toBe(false);
  });

  it('never confuses an IPv4 host with an IPv6 one', () => {
    expect(services.hasHost('TCP_HOSTED', ip('::c000:219'))).toBe(false);
  });

  it('reads an IPv4-mapped IPv6 network as the IPv4 network', () => {
    const lookup = parseKnownHostServices(HEADER + '::ffff:198.51.100.0/120,6,22,true,jump hosts\n', 'k.csv');
    expect(lookup.hasService('TCP_HOSTED', ip('198.51.100.9'), 22)).toBe(true);
    expect(lookup.hasService('TCP_HOSTED', ip('198.51.101.9'), 22)).toBe(false);
  });

  it('accepts a /0 network as every address of its family', () => {
    const lookup = parseKnownHostServices(HEADER + '0.0.0.0/0,17,53,false,any resolver\n', 'k.csv');
    expect(lookup.hasService('UDP_REMOTE', ip('8.8.8.8'), 53)).toBe(true);
    expect(lookup.hasService('UDP_REMOTE', ip('2001:4860::8888'), 53)).toBe(false);
  });

  it('accepts a header-only file', () => {
    expect(parseKnownHostServices(HEADER, 'k.csv').hasHost('TCP_HOSTED', ip('192.0.2.1'))).toBe(false);
  });

  it('rejects every bad row at once with line numbers and reasons', () => {
    const err = listError(() =>
      parseKnownHostServices(
        HEADER +
          '192.0.2.1,6,25,true,ok\n' +
          'mail.example.com,6,25,true,hostname\n' +
          '192.0.2.1,1,25,true,icmp\n' +
          '192.0.2.1,6,70000,yes,two problems\n' +
          '192.0.2.1,6,25\n' +
          '192.0.2.5/24,6,80,true,host bits\n' +
          '192.0.2.0/33,6,80,true,long prefix\n' +
          '2001:db8::1/64,6,80,true,v6 host bits\n',
        'known_host_services.csv',
      ),
    );
    expect(err.problems.map((p) => [p.line, p.reason])).toEqual([
      [3, 'ip_address "mail.example.com" is not an IPv4/IPv6 address or CIDR network'],
      [4, 'protocol "1" must be 6 (TCP) or 17 (UDP)'],
      [5, 'port "70000" must be an integer 0-65535; is_hosted "yes" must be true or false'],
      [6, 'expected 5 columns (ip_address,protocol,port,is_hosted,description), found 3'],
      [7, 'ip_address "192.0.2.5/24" has bits set beyond /24'],
      [8, 'ip_address "192.0.2.0/33" has prefix length "33", expected 0-32'],
      [9, 'ip_address "2001:db8::1/64" has bits set beyond /64'],
    ]);
    expect(err.message).toContain('known_host_services.csv:3: ip_address');
  });

  it('rejects a file whose first line is not the header', () => {
    const err = listError(() => parseKnownHostServices('192.0.2.1,6,25,true,mail\n', 'k.csv'));
    expect(err.problems).toEqual([
      { line: 1, text: '192.0.2.1,6,25,true,mail', reason: 'expected header ip_address,protocol,port,is_hosted,description' },
    ]);
  });

  it('rejects an empty file as missing its header', () => {
    expect(listError(() => parseKnownHostServices('', 'k.csv')).problems[0]!.reason).toMatch(/^missing header/);
  });

  it('loads the file from disk', async () => {
    const path = join(dir, 'known_host_services.csv');
    await writeFile(path, HEADER + '192.0.2.25,6,25,true,mail\n');
    expect((await loadKnownHostServicesFile(path)).hasService('TCP_HOSTED', ip('192.0.2.25'), 25)).toBe(true);
  });
});

describe('suspect countries', () => {
  it('returns the weighting of a listed code and 0 otherwise or for null', () => {
    const countries = parseSuspectCountries('country_code,weighting\r\nCN,1.0\r\nRU, 0.75\r\n# KP,2\r\n', 'suspect_countries.csv');
    expect(countries.weighting('CN')).toBe(1);
    expect(countries.weighting('RU')).toBe(0.75);
    expect(countries.weighting('ZA')).toBe(0);
    expect(countries.weighting(null)).toBe(0);
  });

  it('rejects every bad row at once', () => {
    const err = listError(() =>
      parseSuspectCountries('country_code,weighting\nCN,1\ncn,1\nRU,-1\nCHN,x\nCN,2\nKP\n', 'suspect_countries.csv'),
    );
    expect(err.problems.map((p) => [p.line, p.reason])).toEqual([
      [3, 'country_code "cn" must be two upper-case letters (ISO 3166 alpha-2)'],
      [4, 'weighting "-1" must be a non-negative decimal like 0.75'],
      [5, 'country_code "CHN" must be two upper-case letters (ISO 3166 alpha-2); weighting "x" must be a non-negative decimal like 0.75'],
      [6, 'country_code CN is already listed on line 2'],
      [7, 'expected 2 columns (country_code,weighting), found 1'],
    ]);
  });

  it('rejects a missing header', () => {
    expect(listError(() => parseSuspectCountries('CN,1\n', 'suspect_countries.csv')).problems[0]!.reason).toBe(
      'expected header country_code,weighting',
    );
  });

  it('loads the file from disk', async () => {
    const path = join(dir, 'suspect_countries.csv');
    await writeFile(path, 'country_code,weighting\nCN,1.25\n');
    expect((await loadSuspectCountriesFile(path)).weighting('CN')).toBe(1.25);
  });
});
