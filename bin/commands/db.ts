/**
 * `themis-topology db`: PostgreSQL chores of production mode.
 *
 *   db migrate     [--postgres <url>] [--schema <name>]
 *   db seed-config [--postgres <url>] [--schema <name>] [--services <csv>] [--countries <csv>]
 *
 * The connection comes from --postgres, else THEMIS_POSTGRES_URL, else the standard PGHOST,
 * PGPORT, PGDATABASE, PGUSER and PGPASSWORD variables; nothing is assumed, and no credentials
 * live in code (reference §15 item 30). This is the only place the PostgreSQL layer's settings are
 * read from the environment. Exit codes: 0 done, 1 the database or a file failed, 2 invalid options.
 */
import { Command } from 'commander';
import type { Logger } from '../../runtime/index.js';
import { ListFileError } from '../../bolts/lists/list-file-error.js';
import { readListFile } from '../../bolts/lists/read-list-file.js';
import { PostgresError } from '../../bolts/postgres/errors.js';
import { readKnownHostServiceRows, readSuspectCountryRows } from '../../bolts/postgres/list-rows.js';
import { runMigrations } from '../../bolts/postgres/migrate.js';
import { checkSchemaName, createPool, describeTarget } from '../../bolts/postgres/pool.js';
import { replaceConfigTables, type SeedRows } from '../../bolts/postgres/seed-config.js';

const URL_ENV = 'THEMIS_POSTGRES_URL';
const EXIT_FAILED = 1;
const EXIT_INVALID_OPTIONS = 2;

export interface DbCommandIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly setExitCode: (code: number) => void;
}

const processIo: DbCommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

interface ConnectionFlags {
  postgres?: string;
  schema?: string;
}

interface SeedFlags extends ConnectionFlags {
  services?: string;
  countries?: string;
}

interface Connection {
  readonly url: string;
  readonly schema: string | undefined;
}

export function dbCommand(io: DbCommandIo = processIo): Command {
  const db = new Command('db').description('PostgreSQL schema and configuration of production mode');
  const postgresHelp = `PostgreSQL URL, e.g. postgresql://user@host:5432/themis (default: $${URL_ENV}, else the PG* variables)`;
  const schemaHelp = 'schema holding the Themis tables (default: the connection\'s search_path, normally public)';

  db.command('migrate')
    .description('apply the sql/ migrations that are not applied yet; an applied file that was edited is an error')
    .option('--postgres <url>', postgresHelp)
    .option('--schema <name>', schemaHelp)
    .action(async (flags: ConnectionFlags) => {
      const connection = resolveConnection(flags, io);
      if (connection === undefined) return;
      await withPool(io, 'migrate', connection, async (pool, target) => {
        const { applied, alreadyApplied } = await runMigrations(pool, { schema: connection.schema });
        for (const name of alreadyApplied) io.out(`already applied  ${name}`);
        for (const name of applied) io.out(`applied          ${name}`);
        io.out(`${target} schema ${connection.schema ?? '(default)'}: ${applied.length} applied, ${alreadyApplied.length} already applied`);
      });
    });

  db.command('seed-config')
    .description('replace the known-host-service and suspect-country tables with the content of the CSV list files, in one transaction')
    .option('--postgres <url>', postgresHelp)
    .option('--schema <name>', schemaHelp)
    .option('--services <csv>', 'known_host_services.csv (format: data_sources/known_host_services.csv)')
    .option('--countries <csv>', 'suspect_countries.csv (format: data_sources/suspect_countries.csv)')
    .action(async (flags: SeedFlags) => {
      if (flags.services === undefined && flags.countries === undefined) {
        io.err('db seed-config: give --services <csv>, --countries <csv>, or both');
        io.setExitCode(EXIT_INVALID_OPTIONS);
        return;
      }
      const connection = resolveConnection(flags, io);
      if (connection === undefined) return;
      const rows = await readSeedFiles(flags, io);
      if (rows === undefined) return;
      await withPool(io, 'seed-config', connection, async (pool, target) => {
        const counts = await replaceConfigTables(pool, rows);
        if (counts.hosts !== null) io.out(`list_known_host: ${counts.hosts} rows, list_known_host_service: ${counts.services} rows (from ${flags.services})`);
        if (counts.countries !== null) io.out(`suspect_country: ${counts.countries} rows (from ${flags.countries})`);
        io.out(`${target} schema ${connection.schema ?? '(default)'}: configuration replaced`);
      });
    });
  return db;
}

/** Both files are read and checked before any connection, and every bad line of both is reported. */
async function readSeedFiles(flags: SeedFlags, io: DbCommandIo): Promise<SeedRows | undefined> {
  const problems: string[] = [];
  const read = async <T>(path: string | undefined, parse: (text: string, file: string) => T): Promise<T | undefined> => {
    if (path === undefined) return undefined;
    try {
      return parse(await readListFile(path), path);
    } catch (err) {
      if (!(err instanceof ListFileError)) throw err;
      problems.push(err.message);
      return undefined;
    }
  };
  const services = await read(flags.services, readKnownHostServiceRows);
  const countries = await read(flags.countries, readSuspectCountryRows);
  if (problems.length > 0) {
    for (const problem of problems) io.err(`db seed-config: ${problem}`);
    io.err('db seed-config: nothing changed');
    io.setExitCode(EXIT_FAILED);
    return undefined;
  }
  return { services, countries };
}

/** Validates the connection settings; reports every problem and sets exit code 2 when unusable. */
function resolveConnection(flags: ConnectionFlags, io: DbCommandIo): Connection | undefined {
  const problems: string[] = [];
  const url = flags.postgres ?? io.env[URL_ENV] ?? urlFromPgVariables(io.env);
  const source = flags.postgres !== undefined ? '--postgres' : io.env[URL_ENV] !== undefined ? URL_ENV : 'the PG* variables';
  if (url === undefined) {
    problems.push(`no PostgreSQL connection: pass --postgres <url>, or set ${URL_ENV}, or set PGHOST/PGDATABASE/PGUSER`);
  } else if (!isPostgresUrl(url)) {
    // The value is not echoed: it may hold a password.
    problems.push(`${source} must be a URL like postgresql://user@host:5432/database`);
  }
  if (flags.schema !== undefined) {
    const problem = checkSchemaName(flags.schema);
    if (problem !== null) problems.push(`--schema: ${problem}`);
  }
  if (url === undefined || problems.length > 0) {
    for (const problem of problems) io.err(`db: ${problem}`);
    io.setExitCode(EXIT_INVALID_OPTIONS);
    return undefined;
  }
  return { url, schema: flags.schema };
}

function isPostgresUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'postgresql:' || url.protocol === 'postgres:';
  } catch {
    // new URL throws on anything that is not a URL; the caller reports it.
    return false;
  }
}

/** A URL from the libpq variables, or undefined when none of them is set. */
function urlFromPgVariables(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const { PGHOST: host, PGPORT: port, PGDATABASE: database, PGUSER: user, PGPASSWORD: password } = env;
  if ([host, port, database, user].every((v) => v === undefined || v === '')) return undefined;
  const auth = user ? `${encodeURIComponent(user)}${password ? `:${encodeURIComponent(password)}` : ''}@` : '';
  // A Unix socket directory cannot be a URL host; libpq-style URLs carry it as ?host=.
  const isSocket = host?.startsWith('/') ?? false;
  const hostPart = host && !isSocket ? host : isSocket ? '' : 'localhost';
  const portPart = port ? `:${port}` : '';
  const query = isSocket ? `?host=${encodeURIComponent(host!)}` : '';
  return `postgresql://${auth}${hostPart}${portPart}/${encodeURIComponent(database ?? '')}${query}`;
}

function stderrLogger(io: DbCommandIo): Logger {
  const line = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    io.err(`${level}: ${msg}${fields === undefined ? '' : ` ${JSON.stringify(fields)}`}`);
  return { info: line('info'), warn: line('warn'), error: line('error') };
}

async function withPool(
  io: DbCommandIo,
  command: string,
  connection: Connection,
  work: (pool: ReturnType<typeof createPool>, target: string) => Promise<void>,
): Promise<void> {
  const pool = createPool(connection.url, {
    schema: connection.schema,
    max: 1,
    applicationName: `themis-db-${command}`,
    log: stderrLogger(io),
  });
  const target = describeTarget(pool);
  try {
    await work(pool, target);
  } catch (err) {
    if (!(err instanceof PostgresError)) throw err;
    io.err(`db ${command}: ${err.message}`);
    if (err.retriable) io.err(`db ${command}: is PostgreSQL running at ${target}, and is that the right address?`);
    io.setExitCode(EXIT_FAILED);
  } finally {
    await pool.end();
  }
}
