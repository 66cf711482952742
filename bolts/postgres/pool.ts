import { Pool } from 'pg';
import type { Logger } from '../../runtime/index.js';
import { describeCause, PostgresError } from './errors.js';

/**
 * The connection pool of production mode. The connection string comes from the caller (bin/
 * resolves --postgres, THEMIS_POSTGRES_URL or the PG* variables); nothing here holds or reads
 * credentials (fixes reference §15 item 30). One pool per process replaces the original's single
 * JDBC connection shared by a whole worker (§15 item 42).
 */

export interface PoolOptions {
  /**
   * Schema holding the Themis tables. Every connection starts with it as its search_path, so the
   * SQL here and in sql/ names tables unqualified. Default: the server's search_path (public).
   */
  readonly schema?: string;
  /** Connections at most; the per-flow path never queries, so a few suffice. */
  readonly max?: number;
  readonly connectTimeoutMs?: number;
  /** Shown in pg_stat_activity. */
  readonly applicationName?: string;
  /** Where failures of idle connections are reported (otherwise they would crash the process). */
  readonly log: Logger;
}

export const DEFAULT_POOL_MAX = 4;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** Lower-case identifiers only: they need no quoting, in SQL or in the startup `options`. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Why `name` cannot be a Themis schema name, or null when it can. */
export function checkSchemaName(name: string): string | null {
  return SCHEMA_NAME.test(name) ? null : `schema ${JSON.stringify(name)} must match ${SCHEMA_NAME.source} (lower-case letters, digits, _)`;
}

export function createPool(url: string, opts: PoolOptions): Pool {
  if (opts.schema !== undefined) {
    const problem = checkSchemaName(opts.schema);
    if (problem !== null) throw new PostgresError(problem, { code: 'THEMIS_PG_CONFIG', operation: 'create pool', retriable: false });
  }
  const pool = new Pool({
    connectionString: url,
    max: opts.max ?? DEFAULT_POOL_MAX,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    application_name: opts.applicationName ?? 'themis',
    ...(opts.schema === undefined ? {} : { options: `-c search_path=${opts.schema}` }),
  });
  const target = describeTarget(pool);
  pool.on('error', (err) => {
    opts.log.warn('idle PostgreSQL connection failed; the pool opens a new one on next use', {
      target,
      error: describeCause(err),
    });
  });
  return pool;
}

/**
 * `host:port/database` of a pool, for messages: never the user or the password. Read from the
 * connection string, or from discrete options for a pool made elsewhere.
 */
export function describeTarget(pool: Pool): string {
  const { connectionString, host, port, database } = pool.options;
  if (connectionString === undefined) return `${host ?? 'localhost'}:${port ?? 5432}/${database ?? '(default database)'}`;
  try {
    const url = new URL(connectionString);
    // A Unix socket directory travels as ?host=/run/postgresql.
    const hostText = url.hostname !== '' ? url.hostname : (url.searchParams.get('host') ?? 'localhost');
    const db = decodeURIComponent(url.pathname.replace(/^\//, '')) || '(default database)';
    return `${hostText}:${url.port || '5432'}/${db}`;
  } catch {
    // Not a URL (pg also accepts a bare socket path): name it without parsing it further.
    return '(unparsed connection string)';
  }
}
