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

/**
 * A database of the test's own that can be made to refuse connections: `refuse` sets
 * ALLOW_CONNECTIONS false and terminates its backends (other tests' databases are untouched),
 * `allow` lets connections in again, `drop` allows them, closes the pools and drops it.
 */
async function outageDatabase(label: string): Promise<{ url: string; reader: Pool; refuse(): Promise<void>; allow(): Promise<void>; drop(): Promise<void> }> {
  await requirePostgres();
  const { log } = recordingLogger();
  const admin = createPool(TEST_POSTGRES_URL, { max: 1, log });
  const database = `themis_${label}_${process.pid}_${randomBytes(3).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${database}`);
  const url = urlOf(database);
  const reader = createPool(url, { max: 1, connectTimeoutMs: 2_000, log });
  const allow = async () => void (await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`));
  return {
    url,
    reader,
    refuse: async () => {
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
    },
    allow,
    drop: async () => {
      await reader.end();
      await allow();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    },
  };
}

describe('PostgreSQL refusing connections while flows stream in (--persist)', () => {
  let topology: BackgroundCli | undefined;
  let dir: string | undefined;

  afterAll(async () => {
    if (topology && topology.child.exitCode === null && topology.child.signalCode === null) await topology.stop('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes every flow once after the outage: one row each, nothing ignored, no replay, the breaker logged open then closed', async () => {
    const db = await outageDatabase('outage');
    const { url, reader } = db;
    let flows: Feed | undefined;
    try {
      await runCliOk('themis-topology', ['db', 'migrate', '--postgres', url]);
      dir = tempDir('themis-pg-outage');
      const started = startStreamTopology('pg-outage', dir, {}, ['--postgres', url, '--persist']);
      const running = (topology = started.topology);
      flows = feed(running.child.stdin!, FLOWS, FLOWS_PER_SEC, (n) => icmpLine(FIRST_ID + n, '198.51.100.10'));
      await eventually('the first rows are written', async () => (await countRows(reader)) >= 200, WAIT_MS, 100);

      // The outage: no new connection, and the open ones (the topology's pool) terminated.
      await db.refuse();
      const outageStarted = Date.now();
      await eventually('the topology logs its breaker open', () => /circuit breaker open.*"dependency":"postgresql"/.test(running.stderr()), WAIT_MS, 100);
      const remaining = OUTAGE_MS - (Date.now() - outageStarted);
      if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
      await db.allow();
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
      if (topology && topology.child.exitCode === null && topology.child.signalCode === null) await topology.stop('SIGKILL');
      await db.drop();
    }
  }, 120_000);
  it('writes the alerts raised during the outage once the database is back, one row each at its latest state', async () => {
    const db = await outageDatabase('outage_alerts');
    const { url, reader } = db;
    const SCANNER = '203.0.113.66';
    const SCAN_PORTS = 15;
    // A SYN to each of 15 ports of one host, never answered: match-flows releases each unmatched
    // after its window, and the evidence stage raises RANDOM_WALK_SCAN at the fourth and PORT_SCAN
    // at the fifteenth (Zeek's threshold), while the database refuses connections.
    const scanLine = (i: number) =>
      JSON.stringify({ id: FIRST_ID + 100 + i, start_timestamp_unix_secs: 1_710_234_100 + i, end_timestamp_unix_secs: 1_710_234_100 + i, protocol: 6, src_ip: SCANNER, src_port: 40_000, dst_ip: '192.0.2.10', dst_port: 1_000 + i, packets: 1, bytes: 44, flags: '....S.', tos: 0 });
    const alertRows = async () => {
      try {
        return (await reader.query<{ alert_type: string; status: string; attempts: string; target_ports: number[] }>('SELECT alert_type, status, attempts::text AS attempts, target_ports FROM alert WHERE source_ip = $1 ORDER BY alert_type', [SCANNER])).rows;
      } catch {
        return [];
      }
    };
    let running: BackgroundCli | undefined;
    let alertsDir: string | undefined;
    try {
      await runCliOk('themis-topology', ['db', 'migrate', '--postgres', url]);
      alertsDir = tempDir('themis-pg-outage-alerts');
      // Held conversations go after a second by the clock, so the first rows come at once.
      const started = startStreamTopology('pg-outage-alerts', alertsDir, { evidence: { enabled: true, maxHoldMs: 1_000 } }, ['--postgres', url, '--persist']);
      running = started.topology;
      const stdin = running.child.stdin!;
      for (let n = 0; n < 10; n++) stdin.write(`${icmpLine(FIRST_ID + n, '198.51.100.10')}\n`);
      await eventually('the first rows are written', async () => (await countRows(reader)) >= 10, WAIT_MS, 100);

      await db.refuse();
      for (let i = 0; i < SCAN_PORTS; i++) stdin.write(`${scanLine(i)}\n`);
      const topology = running;
      // The alerts' own writer must have met the outage: its breaker opens on a batch of raised alerts.
      const alertsBreaker = (state: 'open' | 'closed') => new RegExp(`circuit breaker ${state}[^\\n]*"component":"persist-alerts"[^\\n]*"dependency":"postgresql"`);
      await eventually('the alerts output logs its breaker open', () => alertsBreaker('open').test(topology.stderr()), WAIT_MS, 100);
      await db.allow();
      await eventually('the alerts output logs its breaker closed', () => alertsBreaker('closed').test(topology.stderr()), WAIT_MS, 100);
      await eventually('the scan alerts are written', async () => (await alertRows()).some((r) => r.alert_type === 'PORT_SCAN'), WAIT_MS, 200);

      stdin.end();
      const result = await running.waitForExit(WAIT_MS);
      expect({ code: result.code, signal: result.signal }, result.stderr.slice(-3000)).toEqual({ code: 0, signal: null });
      expect(result.stderr, result.stderr.slice(-2000)).toMatch(summaryWithoutReplays(10 + SCAN_PORTS));
      const alerts = await alertRows();
      expect(alerts.map((r) => r.alert_type)).toEqual(['PORT_SCAN', 'RANDOM_WALK_SCAN']);
      const portScan = alerts[0]!;
      expect(['raised', 'updated']).toContain(portScan.status);
      expect(Number(portScan.attempts)).toBe(SCAN_PORTS);
      expect([...portScan.target_ports].sort((a, b) => a - b)).toEqual(Array.from({ length: SCAN_PORTS }, (_, i) => 1_000 + i));
      // Every flow once, the scan's held conversations with their evidence tag.
      expect(await countRows(reader)).toBe(10 + SCAN_PORTS);
      const tagged = await reader.query<{ n: number }>(
        "SELECT count(DISTINCT d.flow_id)::integer AS n FROM scored_flow_detail d JOIN scored_flow f ON f.id = d.flow_id WHERE f.src_ip = $1 AND d.score_category = 'EVIDENCE'",
        [SCANNER],
      );
      expect(tagged.rows[0]!.n).toBe(SCAN_PORTS);
    } finally {
      if (running && running.child.exitCode === null && running.child.signalCode === null) await running.stop('SIGKILL');
      if (alertsDir) rmSync(alertsDir, { recursive: true, force: true });
      await db.drop();
    }
  }, 120_000);
});
