import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from '../../bolts/postgres/pool.js';
import type { BackgroundCli } from '../helpers/background-cli.js';
import { runCliOk } from '../helpers/deployment.js';
import { feed, icmpLine, jsonLines, startStreamTopology, summaryWithoutReplays, tempDir, type Feed } from '../helpers/flow-stream.js';
import { eventually, recordingLogger, requirePostgres, TEST_POSTGRES_URL } from '../helpers/postgres.js';

/**
 * Issue 13: PostgreSQL refusing connections while a topology with --persist runs on a stream of
 * flows. The output bolt must hold its batches under its circuit breaker and write them once the
 * database is back: every flow ends with exactly one row, none in ignored-flows, no replay (the
 * message timeout is a fifth of the outage, so a single expired root would show).
 *
 * The outage is real: the test creates a database of its own, and for it sets ALLOW_CONNECTIONS
 * false and terminates its backends (other tests' databases are untouched); `finally` lets
 * connections in again and drops the database. Each wait is for an event, with a generous bound.
 */

const OUTAGE_MS = 10_000;
const FLOWS = 1_500;
/** Sent at this pace, the stream spans the outage. */
const FLOWS_PER_SEC = 100;
const FIRST_ID = 1_000_000;
const WAIT_MS = 45_000;

function urlOf(database: string): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Rows written so far; -1 while the database refuses connections. */
async function countRows(pool: Pool): Promise<number> {
  try {
    return (await pool.query<{ n: number }>('SELECT count(*)::integer AS n FROM scored_flow')).rows[0]!.n;
  } catch {
    return -1;
  }
}

describe('PostgreSQL refusing connections while flows stream in (--persist)', () => {
  let topology: BackgroundCli | undefined;
  let dir: string | undefined;

  afterAll(async () => {
    if (topology && topology.child.exitCode === null && topology.child.signalCode === null) await topology.stop('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes every flow once after the outage: one row each, nothing ignored, no replay, the breaker logged open then closed', async () => {
    await requirePostgres();
    const { log } = recordingLogger();
    const admin = createPool(TEST_POSTGRES_URL, { max: 1, log });
    const database = `themis_outage_${process.pid}_${randomBytes(3).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${database}`);
    const url = urlOf(database);
    const reader = createPool(url, { max: 1, connectTimeoutMs: 2_000, log });
    let flows: Feed | undefined;
    try {
      await runCliOk('themis-topology', ['db', 'migrate', '--postgres', url]);
      dir = tempDir('themis-pg-outage');
      const started = startStreamTopology('pg-outage', dir, {}, ['--postgres', url, '--persist']);
      const running = (topology = started.topology);
      flows = feed(running.child.stdin!, FLOWS, FLOWS_PER_SEC, (n) => icmpLine(FIRST_ID + n, '198.51.100.10'));
      await eventually('the first rows are written', async () => (await countRows(reader)) >= 200, WAIT_MS, 100);

      // The outage: no new connection, and the open ones (the topology's pool) terminated.
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
      const outageStarted = Date.now();
      await eventually('the topology logs its breaker open', () => /circuit breaker open.*"dependency":"postgresql"/.test(running.stderr()), WAIT_MS, 100);
      const remaining = OUTAGE_MS - (Date.now() - outageStarted);
      if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
      expect(flows.sent(), 'flows sent by the end of the outage: the stream spans it').toBeLessThan(FLOWS);

      await eventually('the topology logs its breaker closed', () => /circuit breaker closed.*"dependency":"postgresql"/.test(running.stderr()), WAIT_MS, 100);
      await flows.done;
      running.child.stdin!.end();
      const result = await running.waitForExit(WAIT_MS);
      expect({ code: result.code, signal: result.signal }, result.stderr.slice(-3000)).toEqual({ code: 0, signal: null });
      expect(result.stderr, result.stderr.slice(-2000)).toMatch(summaryWithoutReplays(FLOWS));

      const rows = await reader.query<{ id: string; n: number }>('SELECT id::text AS id, count(*)::integer AS n FROM scored_flow GROUP BY id');
      expect(rows.rows.filter((r) => r.n !== 1), 'flows with more than one row').toEqual([]);
      expect(new Set(rows.rows.map((r) => Number(r.id)))).toEqual(new Set(Array.from({ length: FLOWS }, (_, i) => FIRST_ID + i)));
      expect(jsonLines(join(started.out, 'ignored-flows.jsonl')), 'ignored-flows records').toEqual([]);
    } finally {
      await flows?.done.catch(() => undefined);
      await reader.end();
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
      if (topology && topology.child.exitCode === null && topology.child.signalCode === null) await topology.stop('SIGKILL');
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
  }, 120_000);
});
