import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import type { Logger } from '../../runtime/index.js';
import { describeCause } from '../../bolts/postgres/errors.js';
import { createPool } from '../../bolts/postgres/pool.js';

/** Database `test` on the machine's PostgreSQL (trust auth); THEMIS_TEST_POSTGRES_URL overrides it. */
export const TEST_POSTGRES_URL = process.env['THEMIS_TEST_POSTGRES_URL'] ?? 'postgresql://root@127.0.0.1:5432/test';

export interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly fields: Record<string, unknown> | undefined;
}

/** A Logger that keeps what it is told, for assertions. */
export function recordingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, fields });
  return { log: { info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

/**
 * Fails the run when the server does not answer: integration tests need the real PostgreSQL
 * (scripts/test.sh starts it), and a missing one is named rather than skipped.
 */
export async function requirePostgres(url = TEST_POSTGRES_URL): Promise<void> {
  const pool = createPool(url, { max: 1, connectTimeoutMs: 3_000, log: recordingLogger().log });
  try {
    await pool.query('SELECT 1');
  } catch (cause) {
    throw new Error(
      `PostgreSQL is not reachable at ${url} (${describeCause(cause)}). ` +
        'Start it (`npm test` does, via scripts/test.sh), then run the tests again.',
      { cause },
    );
  } finally {
    await pool.end();
  }
}

export interface TestSchema {
  /** A schema no other test or run uses; it exists, empty, when the test starts. */
  readonly schema: string;
  /** A pool whose connections have the schema as search_path. */
  readonly pool: Pool;
  readonly url: string;
  readonly logLines: LogLine[];
  readonly log: Logger;
}

/** Runs `test` in a fresh schema and drops the schema afterwards, whatever the outcome. */
export async function withTestSchema<T>(test: (t: TestSchema) => Promise<T>, url = TEST_POSTGRES_URL): Promise<T> {
  const schema = `themis_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const { log, lines } = recordingLogger();
  const admin = createPool(url, { max: 1, log });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const pool = createPool(url, { schema, max: 4, log });
  try {
    return await test({ schema, pool, url, log, logLines: lines });
  } finally {
    await pool.end();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}

/** Polls `check` every `everyMs` until it holds; rejects after `timeoutMs` naming what was awaited. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000, everyMs = 20): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return Date.now() - started;
}
