import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalIpText, FileIntelLookup } from '../../bolts/intel/file-intel-lookup.js';
import { IntelError } from '../../bolts/intel/errors.js';
import type { Logger } from '../../runtime/index.js';

// Reference §11: the embedded store aggregates IntelMQ file output as the original bot does in Redis.

const SAMPLE = fileURLToPath(new URL('../../data_sources/intelmq-events.jsonl', import.meta.url));
const NOW = 1_700_000_000;
const tmp = mkdtempSync(join(tmpdir(), 'themis-file-intel-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function recorder(): { log: Logger; warnings: Record<string, unknown>[]; counted: { n: number } } {
  const warnings: Record<string, unknown>[] = [];
  const counted = { n: 0 };
  const log: Logger = { info: () => undefined, warn: (msg, fields) => void warnings.push({ msg, ...fields }), error: () => undefined };
  return { log, warnings, counted };
}

function fromLines(lines: string[], reportLines?: number) {
  const r = recorder();
  const lookup = FileIntelLookup.fromText(lines.join('\n'), 'events.jsonl', {
    nowSecs: NOW,
    log: r.log,
    badLines: { inc: (by = 1) => void (r.counted.n += by) },
    reportLines,
  });
  return { lookup, ...r };
}

function event(ip: string | undefined, type = 'malware', taxonomy = 'malicious code', provider = 'feed'): string {
  return JSON.stringify({
    'classification.type': type,
    'classification.taxonomy': taxonomy,
    'feed.provider': provider,
    'feed.accuracy': 100.0,
    ...(ip === undefined ? {} : { 'source.ip': ip }),
  });
}

describe('FileIntelLookup', () => {
  it('loads the sample events: one entry per distinct content per source IP, the event without source.ip skipped', async () => {
    const { log, warnings } = recorder();
    const lookup = await FileIntelLookup.load(SAMPLE, { nowSecs: NOW, log });
    expect(lookup.stats).toEqual({ lines: 5, events: 4, skipped: 1, ips: 2 });
    expect(lookup.lookupSync('203.0.113.50')).toEqual([
      { classificationType: 'malware', classificationTaxonomy: 'malicious code', feedProvider: 'Example Threat Intel' },
      { classificationType: 'malware', classificationTaxonomy: 'malicious code', feedProvider: 'abuse.example' },
      { classificationType: 'scanner', classificationTaxonomy: 'information gathering', feedProvider: 'Example Honeypot Network' },
    ]);
    expect(lookup.lookupSync('2001:db8:2::66')).toEqual([
      { classificationType: 'brute-force', classificationTaxonomy: 'intrusion attempts', feedProvider: 'Example Honeypot Network' },
    ]);
    // The sinkhole event names only a destination; only source.ip is indexed, as in the original.
    expect(lookup.lookupSync('198.51.100.99')).toBeUndefined();
    expect(warnings).toEqual([{ msg: 'intel line skipped', file: SAMPLE, line: 5, reason: 'no source.ip' }]);
  });

  it('answers lookupMany for every IP asked, with an empty list for an IP without intel', async () => {
    const { lookup } = fromLines([event('192.0.2.1')]);
    const answer = await lookup.lookupMany(['192.0.2.1', '192.0.2.2', 'not-an-ip']);
    expect([...answer.keys()]).toEqual(['192.0.2.1', '192.0.2.2', 'not-an-ip']);
    expect(answer.get('192.0.2.1')).toHaveLength(1);
    expect(answer.get('192.0.2.2')).toEqual([]);
    expect(answer.get('not-an-ip')).toEqual([]);
  });

  it('finds an IPv6 address whatever its spelling, in the file or in the look-up', async () => {
    const { lookup } = fromLines([event('2001:DB8:0:0:0:0:0:1', 'malware'), event('2001:db8::1', 'scanner'), event('::ffff:192.0.2.7')]);
    expect(lookup.stats.ips).toBe(2);
    for (const spelling of ['2001:db8::1', '2001:0db8::0001', '2001:DB8:0:0::1', '2001:db8:0:0:0:0:0:1']) {
      expect(lookup.lookupSync(spelling)?.map((e) => e.classificationType)).toEqual(['malware', 'scanner']);
    }
    // An IPv4-mapped IPv6 address is the IPv4 host.
    expect(lookup.lookupSync('192.0.2.7')).toHaveLength(1);
    expect(lookup.lookupSync('::ffff:c000:207')).toHaveLength(1);
    const many = await lookup.lookupMany(['2001:DB8::1', '2001:db8::1']);
    expect(many.get('2001:DB8::1')).toHaveLength(2);
    expect(many.get('2001:db8::1')).toHaveLength(2);
  });

  it('merges repeated content into one entry, as the bot de-duplicates', () => {
    const { lookup } = fromLines([event('192.0.2.1'), event('192.0.2.1'), event('192.0.2.1', 'scanner')]);
    expect(lookup.lookupSync('192.0.2.1')?.map((e) => e.classificationType)).toEqual(['malware', 'scanner']);
  });

  it('counts and reports bad lines with their numbers, and goes on', () => {
    const { lookup, warnings, counted } = fromLines([
      event('192.0.2.1'),
      '{"source.ip": "192.0.2.2",',
      '',
      event(undefined),
      '[1, 2]',
      event('999.1.1.1'),
      event('192.0.2.3'),
    ]);
    expect(lookup.stats).toEqual({ lines: 7, events: 2, skipped: 4, ips: 2 });
    expect(counted.n).toBe(4);
    expect(warnings.map((w) => [w.line, w.reason])).toEqual([
      [2, expect.stringMatching(/^invalid JSON/)],
      [4, 'no source.ip'],
      [5, 'event is not a JSON object'],
      [6, 'source.ip "999.1.1.1" is not an IP address'],
    ]);
    expect(lookup.lookupSync('192.0.2.3')).toHaveLength(1);
  });

  it('logs only the first bad lines one by one, then how many there were', () => {
    const { lookup, warnings, counted } = fromLines(['x', 'y', 'z', event('192.0.2.1')], 2);
    expect(counted.n).toBe(3);
    expect(lookup.stats.skipped).toBe(3);
    expect(warnings.map((w) => w.line ?? `total ${w.skipped}`)).toEqual([1, 2, 'total 3']);
  });

  it('reads CRLF line endings', () => {
    const { lookup, counted } = fromLines([`${event('192.0.2.1')}\r`, `${event('192.0.2.2')}\r`]);
    expect(counted.n).toBe(0);
    expect(lookup.stats.ips).toBe(2);
  });

  it('fails with THEMIS_INTEL_FILE naming a missing file', async () => {
    const missing = join(tmp, 'missing.jsonl');
    const error = await FileIntelLookup.load(missing, { nowSecs: NOW, log: recorder().log }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntelError);
    expect(error).toMatchObject({ code: 'THEMIS_INTEL_FILE', file: missing, retriable: false });
    expect((error as Error).message).toContain(missing);
  });

  it('loads an empty file as a store without intel', async () => {
    const empty = join(tmp, 'empty.jsonl');
    writeFileSync(empty, '');
    const lookup = await FileIntelLookup.load(empty, { nowSecs: NOW, log: recorder().log });
    expect(lookup.stats).toEqual({ lines: 0, events: 0, skipped: 0, ips: 0 });
  });
});

describe('canonicalIpText', () => {
  it('prints IPv6 in RFC 5952 form and refuses what is not an address', () => {
    expect(canonicalIpText('2001:0DB8:0000:0000:0001:0000:0000:0001')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIpText('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(canonicalIpText('0:0:0:0:0:0:0:0')).toBe('::');
    expect(canonicalIpText('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(canonicalIpText('fe80:0:0:0:0:0:0:0')).toBe('fe80::');
    expect(canonicalIpText('::FFFF:198.51.100.1')).toBe('198.51.100.1');
    expect(canonicalIpText('198.51.100.1')).toBe('198.51.100.1');
    expect(canonicalIpText('198.051.100.1')).toBeNull();
    expect(canonicalIpText('example.org')).toBeNull();
  });
});
