import type { Pool, PoolClient } from 'pg';
import { DatabaseError } from 'pg';
import { pgError, PostgresError } from './errors.js';
import type { KnownHostServiceRow, SuspectCountryRow } from './list-rows.js';
import { describeTarget } from './pool.js';

/**
 * Replaces the content of the configuration tables with the rows of the CSV list files, in one
 * transaction: the running topology's next reload sees either the old or the new configuration,
 * never an empty or partial one. This is how an operator moves from the embedded files to
 * PostgreSQL. A table whose rows are not given is left as it is.
 */

export interface SeedRows {
  readonly services?: readonly KnownHostServiceRow[];
  readonly countries?: readonly SuspectCountryRow[];
}

export interface SeedCounts {
  /** Rows now in list_known_host, list_known_host_service, suspect_country; null when not replaced. */
  readonly hosts: number | null;
  readonly services: number | null;
  readonly countries: number | null;
}

/**
 * One host row per distinct address or network, one service row per distinct (host, protocol,
 * port, is_hosted); a repeated CSV line keeps its first description.
 */
const INSERT_SERVICES_SQL = `
  WITH input AS (
    SELECT * FROM unnest($1::inet[], $2::integer[], $3::integer[], $4::boolean[], $5::text[])
      WITH ORDINALITY AS t(ip_address, protocol, port, is_hosted, description, line)
  ), hosts AS (
    INSERT INTO list_known_host (ip_address)
    SELECT DISTINCT ip_address FROM input
    RETURNING id, ip_address
  ), services AS (
    INSERT INTO list_known_host_service (list_known_host_id, protocol, port, is_hosted, description)
    SELECT hosts.id, input.protocol, input.port, input.is_hosted, NULLIF(input.description, '')
    FROM input JOIN hosts ON hosts.ip_address = input.ip_address
    ORDER BY input.line
    ON CONFLICT DO NOTHING
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM hosts)::integer AS hosts, (SELECT count(*) FROM services)::integer AS services`;

const INSERT_COUNTRIES_SQL = `
  INSERT INTO suspect_country (country_code, weighting)
  SELECT * FROM unnest($1::text[], $2::numeric[])`;

export async function replaceConfigTables(pool: Pool, rows: SeedRows): Promise<SeedCounts> {
  const target = describeTarget(pool);
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (cause) {
    throw pgError('connect to seed configuration', target, cause);
  }
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    let hosts: number | null = null;
    let services: number | null = null;
    let countries: number | null = null;
    if (rows.services !== undefined) {
      const s = rows.services;
      // Deleting the hosts cascades to their services.
      await client.query('DELETE FROM list_known_host');
      const counts = await client.query<{ hosts: number; services: number }>(INSERT_SERVICES_SQL, [
        s.map((r) => r.ipAddress),
        s.map((r) => r.protocol),
        s.map((r) => r.port),
        s.map((r) => r.isHosted),
        s.map((r) => r.description),
      ]);
      ({ hosts, services } = counts.rows[0]!);
    }
    if (rows.countries !== undefined) {
      const c = rows.countries;
      await client.query('DELETE FROM suspect_country');
      const inserted = await client.query(INSERT_COUNTRIES_SQL, [c.map((r) => r.countryCode), c.map((r) => r.weighting)]);
      countries = inserted.rowCount ?? 0;
    }
    await client.query('COMMIT');
    return { hosts, services, countries };
  } catch (cause) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      // The connection is unusable: destroy it; the original failure below says more.
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    if (cause instanceof DatabaseError && cause.code === '42P01') {
      throw new PostgresError(
        `seed configuration failed on PostgreSQL ${target}: ${cause.message}; create the tables first with \`themis-topology db migrate\``,
        { code: 'THEMIS_PG', operation: 'seed configuration', target, retriable: false, cause },
      );
    }
    throw pgError('seed configuration', target, cause);
  } finally {
    client.release(broken);
  }
}
