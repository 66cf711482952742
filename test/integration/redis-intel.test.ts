import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createProgram, loadIntelEvents, type IntelLoadSettings } from '../../bin/themis-intel.js';
import { IntelError } from '../../bolts/intel/errors.js';
import { RedisIntelLookup, type RedisIntelLookupOptions } from '../../bolts/intel/redis-intel-lookup.js';
import type { Logger } from '../../runtime/index.js';
import { requireRedis, RoundTripProxy, TEST_REDIS_URL, withTestKeys, type TestKeys } from '../helpers/redis.js';

// Reference §10 (layout of intel-mq-<ip> in Redis) and §11 (the IntelMQ output bot's aggregation).

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SAMPLE = fileURLToPath(new URL('../../data_sources/intelmq-events.jsonl', import.meta.url));
const NOW = 1_700_000_000;
const DAY = 86_400;

beforeAll(() => requireRedis());

function recorder(): { log: Logger; warnings: { msg: string; fields: Record<string, unknown> | undefined }[] } {
  const warnings: { msg: string; fields: Record<string, unknown> | undefined }[] = [];
  return { log: { info: () => undefined, warn: (msg, fields) => void warnings.push({ msg, fields }), error: () => undefined }, warnings };
}

async function withLookup<T>(
  t: TestKeys,
  options: Partial<RedisIntelLookupOptions>,
  test: (lookup: RedisIntelLookup) => Promise<T>,
  url = t.url,
): Promise<T> {
  const lookup = new RedisIntelLookup(url, { keyPrefix: t.prefix, log: recorder().log, ...options });
  try {
    return await test(lookup);
  } finally {
    await lookup.close();
  }
}

async function* linesOf(lines: readonly string[]): AsyncGenerator<string> {
  yield* lines;
}

function load(t: TestKeys, lines: readonly string[], settings: Partial<IntelLoadSettings> = {}) {
  return loadIntelEvents(linesOf(lines), t.redis, { keyPrefix: t.prefix, dataTimeoutSecs: DAY, batchSize: 1_000, nowSecs: () => NOW, ...settings });
}

function event(ip: string | undefined, type = 'malware', taxonomy = 'malicious code', provider = 'feed'): string {
  return JSON.stringify({
    'classification.type': type,
    'classification.taxonomy': taxonomy,
    'feed.provider': provider,
    'feed.accuracy': 90.0,
    'event_description.text': `${type} seen`,
    ...(ip === undefined ? {} : { 'source.ip': ip }),
  });
}

/** `npx tsx bin/themis-intel.ts ...`, as a user runs it. */
function cli(args: string[], input?: string): { status: number | null; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['THEMIS_REDIS_URL'];
  const result = spawnSync('npx', ['tsx', 'bin/themis-intel.ts', ...args], { cwd: ROOT, input, encoding: 'utf8', env, timeout: 60_000 });
  return { status: result.status, stderr: result.stderr };
}

const SAMPLE_203 = [
  { classificationType: 'malware', classificationTaxonomy: 'malicious code', feedProvider: 'Example Threat Intel' },
  { classificationType: 'malware', classificationTaxonomy: 'malicious code', feedProvider: 'abuse.example' },
  { classificationType: 'scanner', classificationTaxonomy: 'information gathering', feedProvider: 'Example Honeypot Network' },
];

const byProvider = (a: { feedProvider: string | null }, b: { feedProvider: string | null }) => (a.feedProvider ?? '').localeCompare(b.feedProvider ?? '');

describe('themis-intel load (the CLI)', () => {
  it('stores the sample file in hashes that RedisIntelLookup reads, with the key expiry set', () =>
    withTestKeys(async (t) => {
      const run = cli(['load', SAMPLE, '--redis', t.url, '--key-prefix', t.prefix]);
      expect(run.stderr).toContain('line 5 skipped: no source.ip');
      expect(run.stderr).toMatch(/done in [\d.]+ s: 5 lines read, 4 events stored, 1 skipped \(no source\.ip: 1\)/);
      expect(run.status).toBe(0);
      expect((await t.redis.keys(`${t.prefix}*`)).sort()).toEqual([`${t.prefix}intel-mq-2001:db8:2::66`, `${t.prefix}intel-mq-203.0.113.50`]);
      const ttl = await t.redis.ttl(`${t.prefix}intel-mq-203.0.113.50`);
      expect(ttl).toBeGreaterThan(DAY - 60);
      expect(ttl).toBeLessThanOrEqual(DAY);

      await withLookup(t, {}, async (lookup) => {
        // Another spelling of the IPv6 source finds the same hash.
        const answer = await lookup.lookupMany(['203.0.113.50', '2001:DB8:2:0::66', '198.51.100.99']);
        expect([...answer.get('203.0.113.50')!].sort(byProvider)).toEqual([...SAMPLE_203].sort(byProvider));
        expect(answer.get('2001:DB8:2:0::66')).toEqual([
          { classificationType: 'brute-force', classificationTaxonomy: 'intrusion attempts', feedProvider: 'Example Honeypot Network' },
        ]);
        expect(answer.get('198.51.100.99')).toEqual([]);
      });
    }));

  it('reads events from stdin, and merges a second load of the same events instead of duplicating them', () =>
    withTestKeys(async (t) => {
      const events = readFileSync(SAMPLE, 'utf8');
      for (let i = 0; i < 2; i++) {
        const run = cli(['load', '-', '--redis', t.url, '--key-prefix', t.prefix, '--batch', '2'], events);
        expect(run.stderr).toContain('stdin line 5 skipped: no source.ip');
        expect(run.status).toBe(0);
      }
      expect(await t.redis.hlen(`${t.prefix}intel-mq-203.0.113.50`)).toBe(3);
      expect(await t.redis.hlen(`${t.prefix}intel-mq-2001:db8:2::66`)).toBe(1);
    }));

  it('reports bad lines with their numbers, shows the first ten, counts them all, and stores the rest', () =>
    withTestKeys(async (t) => {
      const lines = [event('192.0.2.1'), ...Array.from({ length: 12 }, (_, i) => `not json ${i}`), event(undefined), event('192.0.2.2')];
      const run = cli(['load', '--redis', t.url, '--key-prefix', t.prefix], lines.join('\n'));
      expect(run.status).toBe(0);
      const shown = run.stderr.split('\n').filter((line) => line.includes(' skipped: '));
      expect(shown).toHaveLength(10);
      expect(shown[0]).toMatch(/^themis-intel load: stdin line 2 skipped: invalid JSON/);
      expect(run.stderr).toContain('15 lines read, 2 events stored, 13 skipped (invalid JSON: 12, no source.ip: 1)');
      expect(run.stderr).toContain('3 more skipped lines not shown');
      expect(await t.redis.exists(`${t.prefix}intel-mq-192.0.2.1`, `${t.prefix}intel-mq-192.0.2.2`)).toBe(2);
    }));

  it('exits 1 with a clear message when the file is missing or Redis is unreachable', () => {
    const missing = cli(['load', 'no-such-file.jsonl', '--redis', TEST_REDIS_URL]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('cannot open no-such-file.jsonl: ENOENT');

    const unreachable = cli(['load', SAMPLE, '--redis', 'redis://127.0.0.1:1/15']);
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toContain('Redis is not reachable at 127.0.0.1:1/15');
  });

  it('exits 2 naming every bad option', () => {
    const run = cli(['load', SAMPLE, '--batch', '0', '--db', 'two', '--data-timeout', '-5', '--redis', 'http://127.0.0.1']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--batch (0) must be a whole number');
    expect(run.stderr).toContain('--db (two) must be a whole number');
    expect(run.stderr).toContain('--data-timeout (-5) must be a whole number');
    expect(run.stderr).toContain('--redis: Redis URL "http://127.0.0.1" must start with redis://');

    const unknown = cli(['load', SAMPLE, '--no-such-option']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--no-such-option'");
  });

  it('takes the db from --db over the URL, and the URL from THEMIS_REDIS_URL when --redis is absent', async () => {
    const errors: string[] = [];
    let exitCode = 0;
    const program = createProgram({
      err: (line) => errors.push(line),
      env: { THEMIS_REDIS_URL: 'redis://127.0.0.1:1/3' },
      stdin: process.stdin,
      nowMs: () => NOW * 1000,
      setExitCode: (code) => void (exitCode = code),
    });
    await program.parseAsync(['load', SAMPLE, '--db', '9'], { from: 'user' });
    expect(exitCode).toBe(1);
    expect(errors[0]).toContain('Redis is not reachable at 127.0.0.1:1/9');
  });
});

describe('loadIntelEvents (the library)', () => {
  it('stores events in the original layout: field <epoch>-<md5 prefix>, value the bot’s JSON', () =>
    withTestKeys(async (t) => {
      const stats = await load(t, [event('192.0.2.1')]);
      expect(stats).toMatchObject({ lines: 1, stored: 1, skipped: 0, keyWrites: 1, fieldsRemoved: 0 });
      const hash = await t.redis.hgetall(`${t.prefix}intel-mq-192.0.2.1`);
      expect(Object.keys(hash)).toEqual([expect.stringMatching(new RegExp(`^${NOW}-[0-9a-f]{8}$`))]);
      expect(Object.values(hash)).toEqual([
        '{"event_description": "malware seen", "feed_provider": "feed", "feed_accuracy": 90.0, "classification_type": "malware", "classification_taxonomy": "malicious code"}',
      ]);
    }));

  it('does not duplicate entries when the same events are loaded again; the entry takes the new time', () =>
    withTestKeys(async (t) => {
      const lines = [event('192.0.2.1'), event('192.0.2.1', 'scanner', 'information gathering')];
      await load(t, lines);
      const second = await load(t, lines, { nowSecs: () => NOW + 60 });
      expect(second.fieldsRemoved).toBe(2);
      const fields = Object.keys(await t.redis.hgetall(`${t.prefix}intel-mq-192.0.2.1`));
      expect(fields).toHaveLength(2);
      expect(fields.every((field) => field.startsWith(`${NOW + 60}-`))).toBe(true);
    }));

  it('prunes an entry older than the data timeout when new intel for its IP arrives, and refreshes the expiry', () =>
    withTestKeys(async (t) => {
      const key = `${t.prefix}intel-mq-192.0.2.1`;
      const old = '{"event_description": "", "feed_provider": "old", "feed_accuracy": 50.0, "classification_type": "spam", "classification_taxonomy": "abusive content"}';
      // Field names as the original bot writes them: epoch seconds alone.
      await t.redis.hset(key, String(NOW - 3_601), old, String(NOW - 3_599), old.replace('"old"', '"recent"'));
      await t.redis.expire(key, 100);
      const stats = await load(t, [event('192.0.2.1')], { dataTimeoutSecs: 3_600 });
      expect(stats.fieldsRemoved).toBe(1);
      const hash = await t.redis.hgetall(key);
      expect(Object.keys(hash).sort()).toEqual([String(NOW - 3_599), expect.stringMatching(new RegExp(`^${NOW}-`))].sort());
      const ttl = await t.redis.ttl(key);
      expect(ttl).toBeGreaterThan(3_500);
      expect(ttl).toBeLessThanOrEqual(3_600);
    }));

  it('counts two events for one IP in one batch, and across batches', () =>
    withTestKeys(async (t) => {
      const lines = [event('192.0.2.1', 'malware'), event('192.0.2.1', 'scanner'), event('192.0.2.1', 'malware'), event('192.0.2.2')];
      const oneBatch = await load(t, lines);
      expect(oneBatch).toMatchObject({ stored: 4, keyWrites: 2 });
      expect(await t.redis.hlen(`${t.prefix}intel-mq-192.0.2.1`)).toBe(2);

      await t.redis.del(`${t.prefix}intel-mq-192.0.2.1`);
      const perEvent = await load(t, lines, { batchSize: 1 });
      expect(perEvent).toMatchObject({ stored: 4, keyWrites: 4 });
      expect(await t.redis.hlen(`${t.prefix}intel-mq-192.0.2.1`)).toBe(2);
    }));

  it('keys an IPv6 source by its canonical spelling, as IntelMQ does', () =>
    withTestKeys(async (t) => {
      await load(t, [event('2001:DB8:0:0::0001'), event('2001:db8::1', 'scanner')]);
      expect(await t.redis.keys(`${t.prefix}*`)).toEqual([`${t.prefix}intel-mq-2001:db8::1`]);
      expect(await t.redis.hlen(`${t.prefix}intel-mq-2001:db8::1`)).toBe(2);
    }));

  it('skips events whose key holds another type, and stores the rest', () =>
    withTestKeys(async (t) => {
      await t.redis.set(`${t.prefix}intel-mq-192.0.2.9`, 'not a hash');
      const skipped: [number, string][] = [];
      const stats = await load(t, [event('192.0.2.9'), event('192.0.2.1')], { onSkippedLine: (line, reason) => void skipped.push([line, reason]) });
      expect(stats).toMatchObject({ stored: 1, skipped: 1 });
      expect(stats.skippedByReason).toEqual(new Map([['key holds a non-hash value', 1]]));
      expect(skipped).toEqual([[1, `${t.prefix}intel-mq-192.0.2.9 holds a non-hash value; event not stored`]]);
      expect(await t.redis.get(`${t.prefix}intel-mq-192.0.2.9`)).toBe('not a hash');
    }));

  it('reloads its write script when Redis has lost it', () =>
    withTestKeys(async (t) => {
      let batches = 0;
      await load(t, [event('192.0.2.1'), event('192.0.2.2')], {
        batchSize: 1,
        // SCRIPT FLUSH after the first batch, as a restart or failover would.
        onProgress: () => void (batches++ === 0 && t.redis.script('FLUSH')),
      });
      expect(await t.redis.exists(`${t.prefix}intel-mq-192.0.2.1`, `${t.prefix}intel-mq-192.0.2.2`)).toBe(2);
    }));
});

describe('RedisIntelLookup', () => {
  it('looks up 1,000 IPs in one round trip, and serves repeats from its cache until the TTL passes', async () => {
    const { proxy, url } = await RoundTripProxy.start();
    try {
      await withTestKeys(async (t) => {
        const ips = Array.from({ length: 1_000 }, (_, i) => `10.${i >> 8}.${i & 255}.1`);
        await load(t, ips.filter((_, i) => i % 10 === 0).map((ip) => event(ip)));
        let now = 1_000_000;
        await withLookup(
          t,
          { nowMs: () => now, cacheTtlMs: 10_000 },
          async (lookup) => {
            await lookup.lookupMany(['192.0.2.250']); // connects
            proxy.hold(1_000);
            // Repeats within the batch are read once.
            const answer = await lookup.lookupMany([...ips, ...ips.slice(0, 100)]);
            expect(proxy.sentBeforeFirstReply).toBe(1_000);
            expect(answer.size).toBe(1_000);
            expect([...answer.values()].filter((entries) => entries.length === 1)).toHaveLength(100);
            expect(answer.get('10.0.11.1')).toEqual([]);
            expect(answer.get('10.0.0.1')).toEqual([{ classificationType: 'malware', classificationTaxonomy: 'malicious code', feedProvider: 'feed' }]);

            const sent = proxy.commands;
            now += 9_999;
            const cached = await lookup.lookupMany(ips);
            expect(proxy.commands).toBe(sent);
            expect(cached.get('10.0.0.1')).toEqual(answer.get('10.0.0.1'));

            now += 1;
            await lookup.lookupMany(ips.slice(0, 10));
            expect(proxy.commands).toBe(sent + 10);
          },
          url,
        );
      });
    } finally {
      await proxy.close();
    }
  });

  it('caches an answer of no intel too, and drops the soonest-expiring entry when full', () =>
    withTestKeys(async (t) => {
      const { proxy, url } = await RoundTripProxy.start(t.url);
      try {
        await withLookup(
          t,
          { cacheMaxEntries: 2 },
          async (lookup) => {
            await lookup.lookupMany(['192.0.2.1', '192.0.2.2']);
            const sent = proxy.commands;
            await lookup.lookupMany(['192.0.2.1', '192.0.2.2']);
            expect(proxy.commands).toBe(sent);
            await lookup.lookupMany(['192.0.2.3']); // evicts 192.0.2.1
            await lookup.lookupMany(['192.0.2.2', '192.0.2.1']);
            expect(proxy.commands).toBe(sent + 2);
          },
          url,
        );
      } finally {
        await proxy.close();
      }
    }));

  it('returns the good entries of a hash with a value that is not JSON, and reports the bad one', () =>
    withTestKeys(async (t) => {
      await load(t, [event('192.0.2.1'), event('192.0.2.1', 'scanner')]);
      await t.redis.hset(`${t.prefix}intel-mq-192.0.2.1`, '1700000001', '{not json', '1700000002', '[1]');
      const { log, warnings } = recorder();
      let badValues = 0;
      await withLookup(t, { log, badValues: { inc: (by = 1) => void (badValues += by) } }, async (lookup) => {
        const answer = await lookup.lookupMany(['192.0.2.1']);
        expect(answer.get('192.0.2.1')!.map((e) => e.classificationType).sort()).toEqual(['malware', 'scanner']);
      });
      expect(badValues).toBe(2);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toBe('intel hash values skipped');
      expect(warnings[0]!.fields).toMatchObject({ key: `${t.prefix}intel-mq-192.0.2.1` });
      expect(warnings[0]!.fields!['errors']).toEqual([
        expect.stringMatching(/^field 1700000001: value is not valid JSON/),
        'field 1700000002: value is an array, not a JSON object',
      ]);
    }));

  it('reads a key of another type as no intel and reports it', () =>
    withTestKeys(async (t) => {
      await t.redis.set(`${t.prefix}intel-mq-192.0.2.1`, 'x');
      const { log, warnings } = recorder();
      await withLookup(t, { log }, async (lookup) => {
        expect((await lookup.lookupMany(['192.0.2.1'])).get('192.0.2.1')).toEqual([]);
      });
      expect(warnings.map((w) => w.msg)).toEqual(['intel key is not a hash; ignored']);
    }));

  it('fails a batch with a retriable THEMIS_REDIS error when Redis is unreachable', async () => {
    const { log } = recorder();
    const lookup = new RedisIntelLookup('redis://127.0.0.1:1/15', { log, connectTimeoutMs: 500, commandTimeoutMs: 1_000 });
    try {
      const error = await lookup.lookupMany(['192.0.2.1']).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IntelError);
      expect(error).toMatchObject({ code: 'THEMIS_REDIS', retriable: true, target: '127.0.0.1:1/15' });
      expect((error as Error).cause).toBeInstanceOf(Error);
    } finally {
      await lookup.close();
    }
  });

  it('refuses an unusable URL with THEMIS_INTEL_CONFIG', () => {
    expect(() => new RedisIntelLookup('http://127.0.0.1', { log: recorder().log })).toThrow(
      expect.objectContaining({ code: 'THEMIS_INTEL_CONFIG', message: expect.stringContaining('must start with redis://') }),
    );
    expect(() => new RedisIntelLookup('redis://127.0.0.1/x', { log: recorder().log })).toThrow(/db must be a number/);
  });
});
