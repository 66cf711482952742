import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbCommand, type DbCommandIo } from '../../bin/commands/db.js';
import { loadCountryLookup, loadServiceLookup } from '../../bolts/postgres/pg-lookups.js';
import { ip } from '../helpers/make-flow.js';
import { requirePostgres, TEST_POSTGRES_URL, withTestSchema } from '../helpers/postgres.js';

const DATA = join(import.meta.dirname, '..', '..', 'data_sources');
const SERVICES_CSV = join(DATA, 'known_host_services.csv');
const COUNTRIES_CSV = join(DATA, 'suspect_countries.csv');

let dir: string;
beforeAll(async () => {
  await requirePostgres();
  dir = await mkdtemp(join(tmpdir(), 'themis-db-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  readonly out: string[];
  readonly err: string[];
  readonly exitCode: number;
}

async function db(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  let exitCode = 0;
  const io: DbCommandIo = { out: (l) => out.push(l), err: (l) => err.push(l), env, setExitCode: (c) => (exitCode = c) };
  await dbCommand(io).parseAsync(args, { from: 'user' });
  return { out, err, exitCode };
}

describe('themis-topology db', () => {
  it('migrate prints what it applied, and on a second run that everything was already applied', async () => {
    await withTestSchema(async ({ schema }) => {
      const first = await db(['migrate', '--postgres', TEST_POSTGRES_URL, '--schema', schema]);
      expect(first.exitCode).toBe(0);
      expect(first.out).toEqual([
        'applied          001_configuration_lists.sql',
        'applied          002_scored_flows.sql',
        'applied          003_one_row_per_flow.sql',
        'applied          004_alerts.sql',
        `127.0.0.1:5432/test schema ${schema}: 4 applied, 0 already applied`,
      ]);
      const second = await db(['migrate', '--schema', schema], { THEMIS_POSTGRES_URL: TEST_POSTGRES_URL });
      expect(second.exitCode).toBe(0);
      expect(second.out.at(-1)).toBe(`127.0.0.1:5432/test schema ${schema}: 0 applied, 4 already applied`);
    });
  });

  it('migrate exits 1 naming host and database when PostgreSQL cannot be reached', async () => {
    const run = await db(['migrate', '--postgres', 'postgresql://root:secret@127.0.0.1:1/themis']);
    expect(run.exitCode).toBe(1);
    expect(run.err[0]).toMatch(/^db migrate: connect for migrations failed on PostgreSQL 127\.0\.0\.1:1\/themis: .*ECONNREFUSED/);
    expect(run.err[1]).toBe('db migrate: is PostgreSQL running at 127.0.0.1:1/themis, and is that the right address?');
    expect(run.err.join('\n')).not.toContain('secret');
  });

  it('refuses to guess a connection: with no --postgres, THEMIS_POSTGRES_URL or PG* variable it exits 2', async () => {
    const run = await db(['migrate']);
    expect(run.exitCode).toBe(2);
    expect(run.err).toEqual(['db: no PostgreSQL connection: pass --postgres <url>, or set THEMIS_POSTGRES_URL, or set PGHOST/PGDATABASE/PGUSER']);
  });

  it('builds the connection from the PG* variables when no URL is given', async () => {
    await withTestSchema(async ({ schema }) => {
      const run = await db(['migrate', '--schema', schema], { PGHOST: '127.0.0.1', PGPORT: '5432', PGDATABASE: 'test', PGUSER: 'root' });
      expect(run.err).toEqual([]);
      expect(run.out.at(-1)).toBe(`127.0.0.1:5432/test schema ${schema}: 4 applied, 0 already applied`);
    });
  });

  it('seed-config loads the embedded CSV list files into the tables, so the lookups see them', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await db(['migrate', '--postgres', TEST_POSTGRES_URL, '--schema', schema]);
      const run = await db(['seed-config', '--postgres', TEST_POSTGRES_URL, '--schema', schema, '--services', SERVICES_CSV, '--countries', COUNTRIES_CSV]);
      expect(run.err).toEqual([]);
      expect(run.exitCode).toBe(0);
      expect(run.out).toEqual([
        `list_known_host: 7 rows, list_known_host_service: 10 rows (from ${SERVICES_CSV})`,
        `suspect_country: 2 rows (from ${COUNTRIES_CSV})`,
        `127.0.0.1:5432/test schema ${schema}: configuration replaced`,
      ]);
      const services = await loadServiceLookup(pool);
      expect(services.hasService('TCP_HOSTED', ip('192.0.2.25'), 587)).toBe(true);
      expect(services.hasService('UDP_REMOTE', ip('192.0.2.70'), 123)).toBe(true);
      expect(services.hasService('TCP_HOSTED', ip('2001:db8:1::10'), 443)).toBe(true);
      expect((await loadCountryLookup(pool)).weighting('RU')).toBe(0.75);
      const description = await pool.query("SELECT description FROM list_known_host_service WHERE port = 587");
      expect(description.rows).toEqual([{ description: 'mail server: submission' }]);
    });
  });

  it('seed-config replaces the previous content rather than adding to it', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await db(['migrate', '--postgres', TEST_POSTGRES_URL, '--schema', schema]);
      await db(['seed-config', '--postgres', TEST_POSTGRES_URL, '--schema', schema, '--services', SERVICES_CSV, '--countries', COUNTRIES_CSV]);
      const smaller = join(dir, 'smaller_services.csv');
      await writeFile(smaller, 'ip_address,protocol,port,is_hosted,description\n203.0.113.9,6,22,true,new bastion\n');
      const run = await db(['seed-config', '--postgres', TEST_POSTGRES_URL, '--schema', schema, '--services', smaller]);
      expect(run.out[0]).toBe(`list_known_host: 1 rows, list_known_host_service: 1 rows (from ${smaller})`);
      const services = await loadServiceLookup(pool);
      expect(services.hasHost('TCP_HOSTED', ip('192.0.2.25'))).toBe(false);
      expect(services.hasService('TCP_HOSTED', ip('203.0.113.9'), 22)).toBe(true);
      // Countries were not given, so they stay.
      expect((await loadCountryLookup(pool)).weighting('CN')).toBe(1);
    });
  });

  it('seed-config reports every bad line of the files and changes nothing', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await db(['migrate', '--postgres', TEST_POSTGRES_URL, '--schema', schema]);
      await db(['seed-config', '--postgres', TEST_POSTGRES_URL, '--schema', schema, '--countries', COUNTRIES_CSV]);
      const bad = join(dir, 'bad_countries.csv');
      await writeFile(bad, 'country_code,weighting\ncn,1\nRU,lots\n');
      const run = await db(['seed-config', '--postgres', TEST_POSTGRES_URL, '--schema', schema, '--countries', bad]);
      expect(run.exitCode).toBe(1);
      expect(run.err[0]).toContain(`${bad}:2: country_code "cn" must be two upper-case letters`);
      expect(run.err[0]).toContain(`${bad}:3: weighting "lots" must be a non-negative decimal`);
      expect(run.err.at(-1)).toBe('db seed-config: nothing changed');
      expect((await loadCountryLookup(pool)).weighting('CN')).toBe(1);
    });
  });

  it('seed-config into a schema without the tables says to run db migrate first', async () => {
    await withTestSchema(async ({ schema }) => {
      const run = await db(['seed-config', '--postgres', TEST_POSTGRES_URL, '--schema', schema, '--countries', COUNTRIES_CSV]);
      expect(run.exitCode).toBe(1);
      expect(run.err[0]).toMatch(/relation "suspect_country" does not exist.*; create the tables first with `themis-topology db migrate`$/);
    });
  });
});
