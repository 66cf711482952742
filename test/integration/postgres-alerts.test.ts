import { beforeAll, describe, expect, it } from 'vitest';
import { raiseAlert, addToAlert } from '../../bolts/evidence/alert.js';
import { pairKey, type Contact } from '../../bolts/evidence/contact.js';
import { parseIp } from '../../bolts/lookup/ip-address.js';
import { alertRecord, type AlertStatus } from '../../bolts/output/alert-record.js';
import { AlertWriter } from '../../bolts/postgres/alert-writer.js';
import { PostgresError } from '../../bolts/postgres/errors.js';
import { runMigrations } from '../../bolts/postgres/migrate.js';
import { requirePostgres, withTestSchema } from '../helpers/postgres.js';

// The evidence stage's alerts in PostgreSQL (issue 14, sql/004_alerts.sql): one row per alert at
// its latest state, whatever order and repetition the records arrive in.

beforeAll(async () => {
  await requirePostgres();
});

const T0 = 1_710_234_000;
let nextFlow = 1;
const probe = (port: number, timeSecs: number): Contact => ({
  flowId: nextFlow++,
  source: '2001:db8:66::1',
  target: '2001:db8:1::10',
  port,
  protocol: 6,
  timeSecs,
  durationSecs: 0,
  packets: 2,
  bytes: 84,
  isFailed: true,
  initiatorPackets: 1,
  pair: pairKey(parseIp('2001:db8:1::10')!, 6, port),
});

/** The records of one alert: raised at 15 ports, updated at 20, closed. */
function lifecycle(): { status: AlertStatus; value: string }[] {
  const alert = raiseAlert('PORT_SCAN', probe(1014, T0 + 14), { attempts: 15, score: 100, windowSecs: 300, maxListed: 20 }, { firstSeenSecs: T0 });
  const out: { status: AlertStatus; value: string }[] = [{ status: 'raised', value: alertRecord(alert, 'raised').value }];
  for (let i = 15; i < 20; i++) addToAlert(alert, probe(1000 + i, T0 + i), 20);
  out.push({ status: 'updated', value: alertRecord(alert, 'updated').value });
  out.push({ status: 'closed', value: alertRecord(alert, 'closed').value });
  return out;
}

interface Row {
  alert_id: string;
  status: string;
  source_ip: string;
  first_seen: number;
  last_seen: number;
  attempts: number;
  target_ports: number[];
  flow_ids: string[];
}

async function rows(pool: import('pg').Pool): Promise<Row[]> {
  const r = await pool.query<Row>(
    `SELECT alert_id, status, host(source_ip) AS source_ip, extract(epoch FROM first_seen)::integer AS first_seen,
            extract(epoch FROM last_seen)::integer AS last_seen, attempts::integer, target_ports, flow_ids::text[]
     FROM alert ORDER BY alert_id`,
  );
  return r.rows;
}

describe('AlertWriter', () => {
  it('keeps one row per alert at its latest state, also when a batch holds several of its records', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const writer = new AlertWriter(pool);
      const [raised, updated, closed] = lifecycle();
      expect(await writer.writeBatch([raised!.value])).toBe(1);
      expect(await rows(pool)).toMatchObject([{ alert_id: `PORT_SCAN:2001:db8:66::1:${T0 + 14}`, status: 'raised', source_ip: '2001:db8:66::1', first_seen: T0, last_seen: T0 + 14, attempts: 15 }]);
      expect(await writer.writeBatch([updated!.value, closed!.value])).toBe(1);
      const [row] = await rows(pool);
      expect(row).toMatchObject({ status: 'closed', last_seen: T0 + 19, attempts: 20, target_ports: [1014, 1015, 1016, 1017, 1018, 1019] });
      expect(row!.flow_ids).toHaveLength(6);
    });
  });

  it('lets no replayed older record move an alert back', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const writer = new AlertWriter(pool);
      const [raised, updated, closed] = lifecycle();
      await writer.writeBatch([closed!.value]);
      await writer.writeBatch([raised!.value]);
      await writer.writeBatch([updated!.value]);
      expect(await rows(pool)).toMatchObject([{ status: 'closed', attempts: 20, last_seen: T0 + 19 }]);
    });
  });

  it('refuses a record the table cannot hold with a PostgresError naming the batch, writing none of it', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const writer = new AlertWriter(pool);
      const [raised] = lifecycle();
      const bad = raised!.value.replace('"source_ip":"2001:db8:66::1"', '"source_ip":"not-an-address"').replace('PORT_SCAN:', 'OTHER:');
      const error = await writer.writeBatch([raised!.value, bad]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PostgresError);
      expect((error as PostgresError).message).toContain('write 2 alerts');
      expect(await rows(pool)).toEqual([]);
    });
  });
});
