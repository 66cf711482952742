import { appendFile, cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseError } from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { PostgresError } from '../../bolts/postgres/errors.js';
import { defaultSqlDir, runMigrations } from '../../bolts/postgres/migrate.js';
import { createPool } from '../../bolts/postgres/pool.js';
import { recordingLogger, requirePostgres, withTestSchema } from '../helpers/postgres.js';

let migrationNames: string[];
beforeAll(async () => {
  await requirePostgres();
  migrationNames = (await readdir(defaultSqlDir())).filter((n) => n.endsWith('.sql')).sort();
});

async function sqlState(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
  } catch (err) {
    if (err instanceof DatabaseError) return err.code;
    throw err;
  }
  throw new Error('expected the statement to be refused');
}

describe('runMigrations', () => {
  it('applies every sql/ file to an empty schema, in order, and records name and checksum', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      const result = await runMigrations(pool, { schema });
      expect(migrationNames.length).toBeGreaterThanOrEqual(2);
      expect(result).toEqual({ applied: migrationNames, alreadyApplied: [] });

      const tables = await pool.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
        [schema],
      );
      expect(tables.rows.map((r) => r.table_name)).toEqual([
        'alert',
        'list_known_host',
        'list_known_host_service',
        'scored_flow',
        'scored_flow_detail',
        'scored_flow_member',
        'suspect_country',
        'themis_schema_migrations',
      ]);
      const recorded = await pool.query<{ name: string; checksum: string }>('SELECT name, checksum FROM themis_schema_migrations ORDER BY name');
      expect(recorded.rows.map((r) => r.name)).toEqual(migrationNames);
      for (const row of recorded.rows) expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  it('applies nothing when run again: every file is reported as already applied', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      expect(await runMigrations(pool, { schema })).toEqual({ applied: [], alreadyApplied: migrationNames });
      const count = await pool.query<{ n: number }>('SELECT count(*)::integer AS n FROM themis_schema_migrations');
      expect(count.rows[0]!.n).toBe(migrationNames.length);
    });
  });

  it('applies each file exactly once when two starters race on the same schema', async () => {
    await withTestSchema(async ({ schema, pool, url, log }) => {
      const other = createPool(url, { schema, max: 1, log });
      try {
        const [a, b] = await Promise.all([runMigrations(pool, { schema }), runMigrations(other, { schema })]);
        expect([...a.applied, ...b.applied].sort()).toEqual(migrationNames);
        expect([...a.alreadyApplied, ...b.alreadyApplied].sort()).toEqual(migrationNames);
      } finally {
        await other.end();
      }
    });
  });

  it('creates the target schema when it does not exist yet', async () => {
    await withTestSchema(async ({ schema, pool, url, log }) => {
      const fresh = `${schema}_new`;
      const freshPool = createPool(url, { schema: fresh, max: 1, log });
      try {
        expect((await runMigrations(freshPool, { schema: fresh })).applied).toEqual(migrationNames);
        const migrations = await pool.query(`SELECT name FROM ${fresh}.themis_schema_migrations`);
        expect(migrations.rowCount).toBe(migrationNames.length);
      } finally {
        await freshPool.end();
        await pool.query(`DROP SCHEMA IF EXISTS ${fresh} CASCADE`);
      }
    });
  });

  it('rejects an applied migration whose file changed since, naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'themis-sql-'));
    try {
      await cp(defaultSqlDir(), dir, { recursive: true });
      await withTestSchema(async ({ schema, pool }) => {
        await runMigrations(pool, { schema, sqlDir: dir });
        const edited = migrationNames[1]!;
        await appendFile(join(dir, edited), '\n-- an edit after the fact\n');
        const err = await runMigrations(pool, { schema, sqlDir: dir }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(PostgresError);
        expect(err).toMatchObject({ code: 'THEMIS_PG_MIGRATION', file: edited, retriable: false });
        expect((err as Error).message).toContain(`migration ${edited} was applied to schema ${schema}`);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails naming host and database, as retriable, when the server cannot be reached', async () => {
    const pool = createPool('postgresql://root@127.0.0.1:1/test', { max: 1, connectTimeoutMs: 2_000, log: recordingLogger().log });
    try {
      const err = await runMigrations(pool, { schema: 'themis_unreachable' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PostgresError);
      expect(err).toMatchObject({ code: 'THEMIS_PG', target: '127.0.0.1:1/test', retriable: true });
      expect((err as Error).message).toMatch(/^connect for migrations failed on PostgreSQL 127\.0\.0\.1:1\/test: .*ECONNREFUSED/);
    } finally {
      await pool.end();
    }
  });
});

describe('the schema (fixes of reference §15 items 46-48)', () => {
  it('deletes a known host\'s services with the host, and refuses a service of an unknown host', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const host = await pool.query<{ id: string }>("INSERT INTO list_known_host (ip_address) VALUES ('192.0.2.25') RETURNING id");
      const id = host.rows[0]!.id;
      await pool.query('INSERT INTO list_known_host_service (list_known_host_id, protocol, port, is_hosted) VALUES ($1, 6, 25, true)', [id]);
      await pool.query('DELETE FROM list_known_host WHERE id = $1', [id]);
      expect((await pool.query('SELECT 1 FROM list_known_host_service')).rowCount).toBe(0);
      expect(await sqlState(() => pool.query('INSERT INTO list_known_host_service (list_known_host_id, protocol, port, is_hosted) VALUES (999, 6, 25, true)'))).toBe('23503');
    });
  });

  it('refuses rows the lookups could not use: other protocols, bad ports, host bits past the prefix, bad country codes', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const host = await pool.query<{ id: string }>("INSERT INTO list_known_host (ip_address) VALUES ('198.51.100.0/24') RETURNING id");
      const service = (protocol: number, port: number) =>
        pool.query('INSERT INTO list_known_host_service (list_known_host_id, protocol, port, is_hosted) VALUES ($1, $2, $3, false)', [host.rows[0]!.id, protocol, port]);
      expect(await sqlState(() => service(1, 0))).toBe('23514');
      expect(await sqlState(() => service(17, 65536))).toBe('23514');
      expect(await sqlState(() => pool.query("INSERT INTO list_known_host (ip_address) VALUES ('192.0.2.5/24')"))).toBe('23514');
      expect(await sqlState(() => pool.query("INSERT INTO suspect_country (country_code, weighting) VALUES ('cn', 1)"))).toBe('23514');
      expect(await sqlState(() => pool.query("INSERT INTO suspect_country (country_code, weighting) VALUES ('CN', -1)"))).toBe('23514');
      await service(17, 53);
    });
  });

  it('gives each table its own identity sequence', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const identities = await pool.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = $1 AND is_identity = 'YES' ORDER BY table_name",
        [schema],
      );
      expect(identities.rows.map((r) => r.table_name)).toEqual(['list_known_host', 'list_known_host_service', 'scored_flow_detail', 'suspect_country']);
    });
  });
});
