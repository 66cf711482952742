import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { escapeIdentifier, type Pool, type PoolClient } from 'pg';
import { pgError, PostgresError } from './errors.js';
import { checkSchemaName, describeTarget } from './pool.js';

/**
 * Applies the numbered files of sql/ in name order, each in its own transaction, and records each
 * in `themis_schema_migrations` (name, checksum, applied_at) inside the target schema. Each
 * transaction first takes a transaction-scoped advisory lock on the schema, so two starters
 * serialise: the second waits, then finds the file recorded. An applied file whose checksum
 * changed is an error naming it: applied migrations are never edited; a change is a new file.
 */

export interface MigrationOptions {
  /** Target schema, created if missing. Default: the connection's current schema. */
  readonly schema?: string;
  /** Directory of the migration files. Default: the project's sql/. */
  readonly sqlDir?: string;
}

export interface MigrationResult {
  readonly applied: string[];
  readonly alreadyApplied: string[];
}

interface MigrationFile {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

/** `001_configuration_lists.sql`: a number, then a lower-case name. */
const MIGRATION_NAME = /^\d{3,}_[a-z0-9_]+\.sql$/;

/** Key space of our advisory locks ("them"); the second key is the hash of the schema name. */
const LOCK_CLASS = 0x7468656d;

/** Read before any connection is made, so a bad file set fails without touching the database. */
async function readMigrationFiles(sqlDir: string): Promise<MigrationFile[]> {
  let names: string[];
  try {
    names = (await readdir(sqlDir)).filter((n) => n.endsWith('.sql')).sort();
  } catch (cause) {
    throw new PostgresError(`cannot read migration directory ${sqlDir}`, {
      code: 'THEMIS_PG_MIGRATION',
      operation: 'read migrations',
      retriable: false,
      file: sqlDir,
      cause,
    });
  }
  const problems: string[] = [];
  const numbers = new Map<string, string>();
  for (const name of names) {
    if (!MIGRATION_NAME.test(name)) {
      problems.push(`${name}: a migration file is named like 001_what_it_does.sql`);
      continue;
    }
    const number = name.slice(0, name.indexOf('_'));
    const other = numbers.get(number);
    if (other !== undefined) problems.push(`${name}: number ${number} is also used by ${other}`);
    numbers.set(number, name);
  }
  if (problems.length > 0) {
    throw new PostgresError(`bad migration files in ${sqlDir}:\n  ${problems.join('\n  ')}`, {
      code: 'THEMIS_PG_MIGRATION',
      operation: 'read migrations',
      retriable: false,
      file: sqlDir,
    });
  }
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(join(sqlDir, name), 'utf8');
      // Line endings are normalised so a checkout with CRLF does not count as an edit.
      const checksum = createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
      return { name, sql, checksum };
    }),
  );
}

/** sql/ of the project, found from this module whether it runs from source or from dist/. */
export function defaultSqlDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'sql')) && existsSync(join(dir, 'package.json'))) return join(dir, 'sql');
    dir = dirname(dir);
  }
  throw new PostgresError(`no sql/ directory found above ${dirname(fileURLToPath(import.meta.url))}`, {
    code: 'THEMIS_PG_MIGRATION',
    operation: 'read migrations',
    retriable: false,
  });
}

export async function runMigrations(pool: Pool, opts: MigrationOptions = {}): Promise<MigrationResult> {
  const target = describeTarget(pool);
  if (opts.schema !== undefined) {
    const problem = checkSchemaName(opts.schema);
    if (problem !== null) throw new PostgresError(problem, { code: 'THEMIS_PG_CONFIG', operation: 'migrate', target, retriable: false });
  }
  const files = await readMigrationFiles(opts.sqlDir ?? defaultSqlDir());
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (cause) {
    throw pgError('connect for migrations', target, cause);
  }
  const result: MigrationResult = { applied: [], alreadyApplied: [] };
  let broken: Error | undefined;
  try {
    const schema = opts.schema ?? (await currentSchema(client, target));
    for (const file of files) {
      const wasApplied = await applyOne(client, schema, file, target);
      (wasApplied ? result.applied : result.alreadyApplied).push(file.name);
    }
  } catch (err) {
    broken = await rollback(client);
    throw err;
  } finally {
    // A connection whose rollback failed is destroyed instead of going back to the pool.
    client.release(broken);
  }
  return result;
}

async function currentSchema(client: PoolClient, target: string): Promise<string> {
  let schema: string | null;
  try {
    schema = (await client.query<{ schema: string | null }>('SELECT current_schema() AS schema')).rows[0]!.schema;
  } catch (cause) {
    throw pgError('read current schema', target, cause);
  }
  if (schema === null) {
    throw new PostgresError(`no schema on the search_path of PostgreSQL ${target} exists; name one with --schema`, {
      code: 'THEMIS_PG_CONFIG',
      operation: 'migrate',
      target,
      retriable: false,
    });
  }
  return schema;
}

/** Applies `file` unless recorded; returns whether it was applied now. */
async function applyOne(client: PoolClient, schema: string, file: MigrationFile, target: string): Promise<boolean> {
  let step = 'lock';
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, schema]);
    step = 'prepare schema';
    // Checked rather than CREATE SCHEMA IF NOT EXISTS, which needs CREATE on the database even
    // when the schema exists.
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${escapeIdentifier(schema)}`);
    // SET LOCAL ends with the transaction, so the pooled connection goes back unchanged.
    await client.query(`SET LOCAL search_path TO ${escapeIdentifier(schema)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS themis_schema_migrations (
         name       text PRIMARY KEY,
         checksum   text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const recorded = await client.query<{ checksum: string }>('SELECT checksum FROM themis_schema_migrations WHERE name = $1', [file.name]);
    const applied = recorded.rows[0];
    if (applied !== undefined) {
      await client.query('COMMIT');
      if (applied.checksum !== file.checksum) {
        throw new PostgresError(
          `migration ${file.name} was applied to schema ${schema} on PostgreSQL ${target} with checksum ` +
            `${applied.checksum.slice(0, 12)}, but the file now has ${file.checksum.slice(0, 12)}: ` +
            'restore the file as applied and put the change in a new numbered migration',
          { code: 'THEMIS_PG_MIGRATION', operation: 'migrate', target, retriable: false, file: file.name },
        );
      }
      return false;
    }
    step = `apply ${file.name}`;
    await client.query(file.sql);
    await client.query('INSERT INTO themis_schema_migrations (name, checksum) VALUES ($1, $2)', [file.name, file.checksum]);
    await client.query('COMMIT');
    return true;
  } catch (cause) {
    if (cause instanceof PostgresError) throw cause;
    const error = pgError(`migration step "${step}" in schema ${schema}`, target, cause);
    if (!step.startsWith('apply ')) throw error;
    throw new PostgresError(error.message, {
      code: 'THEMIS_PG_MIGRATION',
      operation: 'migrate',
      target,
      retriable: error.retriable,
      file: file.name,
      cause,
    });
  }
}

/**
 * Ends a failed migration's transaction (after COMMIT it is a no-op). Returns the rollback's own
 * error when the connection is unusable; the caller then reports the original failure, which
 * says more, and destroys the connection.
 */
async function rollback(client: PoolClient): Promise<Error | undefined> {
  try {
    await client.query('ROLLBACK');
    return undefined;
  } catch (rollbackError) {
    return rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
  }
}
