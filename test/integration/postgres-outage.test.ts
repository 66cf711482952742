import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from '../../bolts/postgres/pool.js';
import { startCli, type BackgroundCli } from '../helpers/background-cli.js';
import { runCliOk } from '../helpers/deployment.js';
import { eventually, recordingLogger, requirePostgres, TEST_POSTGRES_URL } from '../helpers/postgres.js';

/**
 * Issue 13: PostgreSQL refusing connections while a topology with --persist runs on a stream of
 * flows. The output bolt must hold its batches under its circuit breaker and write them once the
 * database is back: every flow ends with exactly one row, none in ignored-flows, no replay (the
 * message timeout here is a fifth of the outage, so a single expired root would show).
 *
 * The outage is real: the test creates a database of its own, and for it sets ALLOW_CONNECTIONS
 * false and terminates its backends (other tests' databases are untouched); `finally` lets
 * connections in again and drops the database. Each wait is for an event, with a generous bound.
 */

const WINDOWS = { messageTimeoutSecs: 2, joinWindowMs: 1_000, matchWindowMs: 2_000, tickSecs: 1 };
const OUTAGE_MS = 10_000;
const FLOWS = 1_500;
/** Sent at this pace, the stream spans the outage. */
const FLOWS_PER_SEC = 100;
const WAIT_MS = 45_000;

/** An ICMP echo request from a remote host to one of ours: scored alone, never paired (sample line 38). */
function icmpLine(id: number): string {
  return JSON.stringify({
    id,
    start_timestamp_unix_secs: 1_710_234_055,
    end_timestamp_unix_secs: 1_710_234_055,
    protocol: 1,
    src_ip: '198.51.100.10',
    src_port: 0,
    dst_ip: '192.0.2.1',
    dst_port: 2048,
    packets: 1,
    bytes: 84,
    tos: 0,
  });
}

function urlOf(database: string): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function countRows(pool: Pool): Promise<number> {
  try {
    return (await pool.query<{ n: number }>('SELECT count(*)::integer AS n FROM scored_flow')).rows[0]!.n;
  } catch {
    // The database refuses connections during the outage.
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
    let reader: Pool | undefined;
    let feeding: Promise<void> | undefined;
    try {
      await runCliOk('themis-topology', ['db', 'migrate', '--postgres', url]);
      dir = mkdtempSync(join(tmpdir(), 'themis-pg-outage-'));
      const config = join(dir, 'config.json');
      writeFileSync(config, JSON.stringify({ windows: WINDOWS }));
      const out = join(dir, 'out');
      topology = startCli(
        'themis-topology',
        ['submit', '1', '1', '200', '0', 'pg-outage', '--input', '-', '--config', config, '--output-dir', out, '--no-metrics-port', '--workers', '2', '--postgres', url, '--persist'],
        { stdin: 'pipe' },
      );
      const running = topology;
      const stdin = running.child.stdin!;
      let sent = 0;
      feeding = (async () => {
        const started = Date.now();
        while (sent < FLOWS) {
          const due = Math.min(FLOWS, Math.floor(((Date.now() - started) / 1000) * FLOWS_PER_SEC) + 10);
          let chunk = '';
          for (; sent < due; sent++) chunk += `${icmpLine(1_000_000 + sent)}\n`;
          if (chunk !== '') stdin.write(chunk);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();

      reader = createPool(url, { max: 1, connectTimeoutMs: 2_000, log });
      const pool = reader;
      await eventually('the first rows are written', async () => (await countRows(pool)) >= 200, WAIT_MS, 100);

      // The outage: no new connection, and the open ones (the topology's pool) terminated.
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
      const outageStarted = Date.now();
      await eventually('the topology logs its breaker open', () => /circuit breaker open.*"dependency":"postgresql"/.test(running.stderr()), WAIT_MS, 100);
      const remaining = OUTAGE_MS - (Date.now() - outageStarted);
      if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
      expect(sent, 'flows sent by the end of the outage: the stream spanned it').toBeLessThan(FLOWS);

      await eventually('the topology logs its breaker closed', () => /circuit breaker closed.*"dependency":"postgresql"/.test(running.stderr()), WAIT_MS, 100);
      await feeding;
      stdin.end();
      const result = await running.waitForExit(WAIT_MS);
      expect({ code: result.code, signal: result.signal }, result.stderr.slice(-3000)).toEqual({ code: 0, signal: null });
      expect(result.stderr, result.stderr.slice(-2000)).toMatch(new RegExp(`themis: done in [\\d.]+ s: ${FLOWS.toLocaleString('en-US')} lines .*, 0 failed every retry, .* 0 replays \\(0 timeouts\\)`));

      const rows = await pool.query<{ id: string; n: number }>('SELECT id::text AS id, count(*)::integer AS n FROM scored_flow GROUP BY id');
      expect(rows.rows.length, 'flows with a row').toBe(FLOWS);
      expect(rows.rows.filter((r) => r.n !== 1), 'flows with more than one row').toEqual([]);
      expect(new Set(rows.rows.map((r) => Number(r.id)))).toEqual(new Set(Array.from({ length: FLOWS }, (_, i) => 1_000_000 + i)));
      const ignoredFile = join(out, 'ignored-flows.jsonl');
      const ignored = existsSync(ignoredFile) ? readFileSync(ignoredFile, 'utf8').split('\n').filter((l) => l !== '') : [];
      expect(ignored, 'ignored-flows records').toEqual([]);
    } finally {
      await feeding?.catch(() => undefined);
      await reader?.end();
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
      if (topology && topology.child.exitCode === null && topology.child.signalCode === null) await topology.stop('SIGKILL');
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
  }, 120_000);
});
