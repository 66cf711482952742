import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Reader } from 'maxmind';
import { afterAll, describe, expect, it } from 'vitest';
import { createProgram } from '../../bin/themis-data.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'themis-data-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let fileCounter = 0;
function csvFile(text: string): string {
  const path = join(tmp, `input-${++fileCounter}.csv`);
  writeFileSync(path, text);
  return path;
}

/** Runs the CLI in-process with captured output. */
function run(...args: string[]): { out: string[]; err: string[]; exitCode: number } {
  const out: string[] = [];
  const err: string[] = [];
  let exitCode = 0;
  const program = createProgram({
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    nowSecs: () => 1_700_000_000,
    setExitCode: (code) => {
      exitCode = code;
    },
  });
  program.parse(['build-mmdb', ...args], { from: 'user' });
  return { out, err, exitCode };
}

function readDb(path: string): Reader<Record<string, unknown>> {
  return new Reader(readFileSync(path));
}

describe('themis-data build-mmdb', () => {
  it('builds a Themis IP list from a network,note CSV, skipping comments and blank lines and stripping CR', () => {
    const csv = csvFile(
      '# Origin: test\r\n# Format: network,note\r\n\r\nnetwork,note\r\n192.0.2.0/24,our net\r\n# a comment\r\n\r\n198.51.100.7,single host\r\n2001:db8::1,v6 host\r\n',
    );
    const out = join(tmp, 'list.dat');
    const { out: printed, err, exitCode } = run(csv, out);
    expect(err).toEqual([]);
    expect(exitCode).toBe(0);
    expect(printed).toEqual([expect.stringMatching(new RegExp(`^wrote ${out}: 3 networks, \\d+ nodes, \\d+ bytes \\(Themis-IP-List, IPv6, 24-bit records\\)$`))]);
    const db = readDb(out);
    expect(db.metadata.databaseType).toBe('Themis-IP-List');
    expect(db.metadata.buildEpoch.getTime()).toBe(1_700_000_000_000);
    expect(db.get('192.0.2.200')).toEqual({ note: 'our net' });
    // A bare address is one host: /32 or /128.
    expect(db.get('198.51.100.7')).toEqual({ note: 'single host' });
    expect(db.get('198.51.100.8')).toBeNull();
    expect(db.get('2001:db8::1')).toEqual({ note: 'v6 host' });
    expect(db.get('2001:db8::2')).toBeNull();
  });

  it('writes an IPv4-only database when every network is IPv4, with --type and --description', () => {
    const csv = csvFile('network,note\n203.0.113.0/24,"Emerging Threats, compromised"\n');
    const out = join(tmp, 'et.dat');
    const { exitCode } = run(csv, out, '--type', 'ET-List', '--description', 'ET sample');
    expect(exitCode).toBe(0);
    const db = readDb(out);
    expect(db.metadata).toMatchObject({ ipVersion: 4, databaseType: 'ET-List', description: { en: 'ET sample' } });
    expect(db.get('203.0.113.9')).toEqual({ note: 'Emerging Threats, compromised' });
  });

  it('builds the GeoLite2-ASN layout from its header', () => {
    const csv = csvFile(
      'network,autonomous_system_number,autonomous_system_organization\n192.0.2.0/24,64500,Our Network\n2001:db8:2::/48,64503,\n',
    );
    const out = join(tmp, 'asn.dat');
    expect(run(csv, out).exitCode).toBe(0);
    const db = readDb(out);
    expect(db.metadata.databaseType).toBe('GeoLite2-ASN');
    expect(db.get('192.0.2.1')).toEqual({ autonomous_system_number: 64500, autonomous_system_organization: 'Our Network' });
    expect(db.get('2001:db8:2::1')).toEqual({ autonomous_system_number: 64503 });
  });

  it('builds the GeoLite2-City layout from its header, leaving out what is empty', () => {
    const csv = csvFile(
      [
        'network,city_name,country_iso_code,country_name,latitude,longitude',
        '192.0.2.0/24,Johannesburg,ZA,South Africa,-26.2041,28.0473',
        '198.51.100.0/24,,CN,China,,',
        '203.0.113.128/26,,,,,',
        '2001:db8:4::/48,,,,0,0',
      ].join('\n'),
    );
    const out = join(tmp, 'city.mmdb');
    expect(run(csv, out).exitCode).toBe(0);
    const db = readDb(out);
    expect(db.metadata.databaseType).toBe('GeoLite2-City');
    expect(db.get('192.0.2.1')).toEqual({
      city: { names: { en: 'Johannesburg' } },
      country: { iso_code: 'ZA', names: { en: 'South Africa' } },
      location: { latitude: -26.2041, longitude: 28.0473 },
    });
    expect(db.get('198.51.100.1')).toEqual({ country: { iso_code: 'CN', names: { en: 'China' } } });
    expect(db.get('203.0.113.130')).toEqual({});
    expect(db.get('2001:db8:4::1')).toEqual({ location: { latitude: 0, longitude: 0 } });
  });

  it('reports every bad line with file and line number, exits 1 and writes nothing', () => {
    const csv = csvFile(
      [
        '# bad lines below',
        'network,note',
        '192.0.2.0/24,fine',
        '192.0.2.5/24,host bits',
        '10.0.0.0/33,prefix too long',
        '2001:db8::/200,prefix too long v6',
        'not-an-ip,bad address',
        '198.51.100.1',
        '198.51.100.2,',
        '192.0.2.0/24,duplicate',
        '198.51.100.3,"unterminated',
        '198.51.100.4,a,b',
      ].join('\n'),
    );
    const out = join(tmp, 'never.dat');
    const { out: printed, err, exitCode } = run(csv, out);
    expect(exitCode).toBe(1);
    expect(printed).toEqual([]);
    expect(existsSync(out)).toBe(false);
    expect(err).toEqual([
      `${csv}:4: 192.0.2.5/24 has host bits set below /24 (did you mean 192.0.2.0/24?)`,
      `${csv}:5: prefix /33 is out of range for IPv4 (0-32)`,
      `${csv}:6: prefix /200 is out of range for IPv6 (0-128)`,
      `${csv}:7: "not-an-ip" is not an IPv4 or IPv6 address`,
      `${csv}:8: missing field note (expected 2 fields, found 1)`,
      `${csv}:9: note is empty (every IP-list network needs a note)`,
      `${csv}:10: duplicate network 192.0.2.0/24 (first on line 3)`,
      `${csv}:11: unterminated quoted field`,
      `${csv}:12: expected 2 fields, found 3 (quote a field that contains a comma)`,
      `9 error(s); nothing written to ${out}`,
    ]);
  });

  it('reports bad numbers and fields in the ASN and City layouts', () => {
    const asn = csvFile(
      'network,autonomous_system_number,autonomous_system_organization\n192.0.2.0/24,AS64500,x\n198.51.100.0/24,,y\n203.0.113.0/24,4294967296,z\n',
    );
    expect(run(asn, join(tmp, 'asn-bad.dat')).err.slice(0, -1)).toEqual([
      `${asn}:2: autonomous_system_number "AS64500" is not an integer from 0 to 4294967295`,
      `${asn}:3: autonomous_system_number is empty`,
      `${asn}:4: autonomous_system_number "4294967296" is not an integer from 0 to 4294967295`,
    ]);
    const city = csvFile(
      [
        'network,city_name,country_iso_code,country_name,latitude,longitude',
        '192.0.2.0/24,X,za,South Africa,1,2',
        '198.51.100.0/24,X,CN,China,north,2',
        '203.0.113.0/24,X,RU,Russia,91,2',
        '2001:db8::/32,X,DE,Germany,50,',
        '2001:db8:1::/48,X,DE,Germany',
      ].join('\n'),
    );
    expect(run(city, join(tmp, 'city-bad.mmdb')).err.slice(0, -1)).toEqual([
      `${city}:2: country_iso_code "za" is not two capital letters`,
      `${city}:3: latitude "north" is not a number`,
      `${city}:4: latitude 91 is out of range (-90 to 90)`,
      `${city}:5: latitude and longitude must both be given or both be empty`,
      `${city}:6: missing field latitude, longitude (expected 6 fields, found 4)`,
    ]);
  });

  it('rejects an unknown header or a file without one', () => {
    const unknown = csvFile('# x\nip,comment\n192.0.2.1,a\n');
    const { err, exitCode } = run(unknown, join(tmp, 'unknown.dat'));
    expect(exitCode).toBe(1);
    expect(err[0]).toMatch(new RegExp(`^${unknown}:2: unknown header "ip,comment"; expected one of "network,note", `));
    const empty = csvFile('# only comments\n\n');
    expect(run(empty, join(tmp, 'empty.dat')).err[0]).toBe(`${empty}:3: no header line (file is empty or all comments)`);
  });

  it('names a missing input file', () => {
    const missing = join(tmp, 'missing.csv');
    const { err, exitCode } = run(missing, join(tmp, 'missing.dat'));
    expect(exitCode).toBe(1);
    expect(err[0]).toMatch(new RegExp(`^${missing}: cannot read: ENOENT`));
  });

  it('leaves an existing output untouched when the input is bad', () => {
    const out = join(tmp, 'existing.dat');
    writeFileSync(out, 'previous contents');
    run(csvFile('network,note\nbad,line\n'), out);
    expect(readFileSync(out, 'utf8')).toBe('previous contents');
  });

  it('runs as a command with npx tsx: exit code 1 and errors on stderr for a bad file, a summary for a good one', () => {
    const tsx = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bin/themis-data.ts'), 'build-mmdb', ...args], {
        cwd: ROOT,
        encoding: 'utf8',
      });
    const bad = csvFile('network,note\n10.0.0.0/8,ok\n10.0.0.1/8,bad\nfoo,bar\n');
    const badOut = join(tmp, 'spawned-bad.dat');
    const failed = tsx(bad, badOut);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain(`${bad}:3: 10.0.0.1/8 has host bits set`);
    expect(failed.stderr).toContain(`${bad}:4: "foo" is not an IPv4 or IPv6 address`);
    expect(existsSync(badOut)).toBe(false);

    const goodOut = join(tmp, 'spawned-good.dat');
    const ok = tsx(csvFile('network,note\n10.0.0.0/8,ok\n'), goodOut);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^wrote .*spawned-good\.dat: 1 networks, \d+ nodes, \d+ bytes/);
    expect(readDb(goodOut).get('10.1.2.3')).toEqual({ note: 'ok' });
  });
});
