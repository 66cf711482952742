import type { Pool } from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { PostgresError } from '../../bolts/postgres/errors.js';
import { runMigrations } from '../../bolts/postgres/migrate.js';
import { RefreshingCountryLookup, RefreshingServiceLookup } from '../../bolts/postgres/pg-lookups.js';
import { createPool } from '../../bolts/postgres/pool.js';
import { ip } from '../helpers/make-flow.js';
import { eventually, recordingLogger, requirePostgres, withTestSchema } from '../helpers/postgres.js';

beforeAll(async () => {
  await requirePostgres();
});

/** Adds a service, creating its host on first use. */
async function addService(pool: Pool, address: string, protocol: number, port: number, isHosted: boolean): Promise<void> {
  await pool.query(
    `WITH host AS (
       INSERT INTO list_known_host (ip_address) VALUES ($1)
       ON CONFLICT (ip_address) DO UPDATE SET ip_address = EXCLUDED.ip_address
       RETURNING id
     )
     INSERT INTO list_known_host_service (list_known_host_id, protocol, port, is_hosted)
     SELECT id, $2, $3, $4 FROM host`,
    [address, protocol, port, isHosted],
  );
}

async function seed(pool: Pool, schema: string): Promise<void> {
  await runMigrations(pool, { schema });
  await addService(pool, '192.0.2.25', 6, 25, true);
  await addService(pool, '192.0.2.53', 17, 53, true);
  await addService(pool, '192.0.2.100', 6, 443, false);
  await addService(pool, '198.51.100.0/24', 17, 123, false);
  await addService(pool, '2001:db8:1::10', 6, 443, true);
  await pool.query("INSERT INTO suspect_country (country_code, weighting) VALUES ('CN', 1.0), ('RU', 0.75)");
}

describe('PostgreSQL lookups', () => {
  it('reads hosted and remote TCP and UDP services from the tables, a CIDR network and IPv6 included', async () => {
    await withTestSchema(async ({ schema, pool, log }) => {
      await seed(pool, schema);
      const services = await RefreshingServiceLookup.start(pool, { log });
      try {
        expect(services.hasService('TCP_HOSTED', ip('192.0.2.25'), 25)).toBe(true);
        expect(services.hasService('TCP_HOSTED', ip('192.0.2.25'), 22)).toBe(false);
        expect(services.hasHost('TCP_HOSTED', ip('192.0.2.25'))).toBe(true);
        expect(services.hasService('TCP_REMOTE', ip('192.0.2.25'), 25)).toBe(false);
        expect(services.hasService('UDP_HOSTED', ip('192.0.2.53'), 53)).toBe(true);
        expect(services.hasService('TCP_REMOTE', ip('192.0.2.100'), 443)).toBe(true);
        expect(services.hasService('UDP_REMOTE', ip('198.51.100.77'), 123)).toBe(true);
        expect(services.hasHost('UDP_REMOTE', ip('198.51.101.1'))).toBe(false);
        expect(services.hasService('TCP_HOSTED', ip('2001:db8:1::10'), 443)).toBe(true);
        expect(services.hasHost('TCP_HOSTED', ip('2001:db8:1::11'))).toBe(false);
      } finally {
        await services.close();
      }
    });
  });

  it('reads the weighting of each suspect country, and 0 for others and for none', async () => {
    await withTestSchema(async ({ schema, pool, log }) => {
      await seed(pool, schema);
      const countries = await RefreshingCountryLookup.start(pool, { log });
      try {
        expect(countries.weighting('CN')).toBe(1);
        expect(countries.weighting('RU')).toBe(0.75);
        expect(countries.weighting('ZA')).toBe(0);
        expect(countries.weighting(null)).toBe(0);
      } finally {
        await countries.close();
      }
    });
  });

  it('shows an edit of the tables after the refresh interval, without a restart', async () => {
    await withTestSchema(async ({ schema, pool, log }) => {
      await seed(pool, schema);
      const services = await RefreshingServiceLookup.start(pool, { log, refreshSecs: 0.2 });
      const countries = await RefreshingCountryLookup.start(pool, { log, refreshSecs: 0.2 });
      try {
        expect(services.hasService('TCP_HOSTED', ip('192.0.2.25'), 587)).toBe(false);
        await addService(pool, '192.0.2.25', 6, 587, true);
        await pool.query("UPDATE suspect_country SET weighting = 0.5 WHERE country_code = 'RU'");
        const addedMs = await eventually('the new service is seen', () => services.hasService('TCP_HOSTED', ip('192.0.2.25'), 587));
        await eventually('the new weighting is seen', () => countries.weighting('RU') === 0.5);
        expect(addedMs).toBeLessThan(2_000);

        await pool.query("DELETE FROM list_known_host WHERE ip_address = '192.0.2.25'");
        await eventually('the deleted host is gone', () => !services.hasHost('TCP_HOSTED', ip('192.0.2.25')));
        expect(services.refresher.failedReloads).toBe(0);
      } finally {
        await services.close();
        await countries.close();
      }
    });
  });

  it('keeps the last good data when a reload fails, logs it with context and counts it, then recovers', async () => {
    await withTestSchema(async ({ schema, pool, log, logLines }) => {
      await seed(pool, schema);
      let counted = 0;
      const countries = await RefreshingCountryLookup.start(pool, { log, refreshSecs: 0.2, failures: { inc: () => void counted++ } });
      try {
        await pool.query('ALTER TABLE suspect_country RENAME TO suspect_country_away');
        await eventually('a reload has failed', () => countries.refresher.failedReloads >= 1);
        expect(counted).toBe(countries.refresher.failedReloads);
        expect(countries.weighting('CN')).toBe(1);
        const warning = logLines.find((l) => l.level === 'warn');
        expect(warning?.msg).toMatch(/^reload of suspect countries failed; keeping the data loaded /);
        expect(warning?.fields).toMatchObject({ lookup: 'suspect countries', target: '127.0.0.1:5432/test', code: 'THEMIS_PG', retriable: false });
        expect(String(warning?.fields?.['error'])).toContain('relation "suspect_country" does not exist');

        await pool.query("UPDATE suspect_country_away SET weighting = 0.25 WHERE country_code = 'CN'");
        await pool.query('ALTER TABLE suspect_country_away RENAME TO suspect_country');
        await eventually('the reload recovers', () => countries.weighting('CN') === 0.25);
        expect(logLines.some((l) => l.level === 'info' && /^reload of suspect countries succeeded after \d+ failed/.test(l.msg))).toBe(true);
      } finally {
        await countries.close();
      }
    });
  });

  it('refuses to start when the database cannot be reached, naming host and database', async () => {
    const pool = createPool('postgresql://root@127.0.0.1:1/themis', { max: 1, connectTimeoutMs: 2_000, log: recordingLogger().log });
    try {
      const err = await RefreshingServiceLookup.start(pool, { log: recordingLogger().log }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PostgresError);
      expect(err).toMatchObject({ code: 'THEMIS_PG', target: '127.0.0.1:1/themis', retriable: true });
      expect((err as Error).message).toMatch(/^load known host services failed on PostgreSQL 127\.0\.0\.1:1\/themis: .*ECONNREFUSED/);
    } finally {
      await pool.end();
    }
  });

  it('refuses to start when the tables are missing, saying which', async () => {
    await withTestSchema(async ({ pool, log }) => {
      const err = await RefreshingCountryLookup.start(pool, { log }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'THEMIS_PG', retriable: false, sqlState: '42P01' });
      expect((err as Error).message).toContain('relation "suspect_country" does not exist');
    });
  });
});
