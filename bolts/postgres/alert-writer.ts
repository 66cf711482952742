import type { Pool } from 'pg';
import type { AlertRecordValue } from '../output/alert-record.js';
import { pgError } from './errors.js';
import { describeTarget } from './pool.js';

// The rows arrive as one jsonb array. A row moves only forwards: (last_seen, attempts, status
// rank) of the new state must be at least those of the stored one, so a replay of an older record
// changes nothing.
const STATUS_RANK = `CASE %s WHEN 'raised' THEN 0 WHEN 'updated' THEN 1 ELSE 2 END`;
const WRITE_SQL = `
INSERT INTO alert AS a (alert_id, alert_type, status, source_ip, first_seen, last_seen, target_ips, target_ports, attempts, flow_ids, score)
SELECT r->>'alert_id', r->>'alert_type', r->>'status', (r->>'source_ip')::inet,
       to_timestamp((r->>'first_seen')::bigint), to_timestamp((r->>'last_seen')::bigint),
       ARRAY(SELECT jsonb_array_elements_text(r->'target_ips'))::inet[],
       ARRAY(SELECT jsonb_array_elements_text(r->'target_ports'))::integer[],
       (r->>'attempts')::bigint,
       ARRAY(SELECT jsonb_array_elements_text(r->'flow_ids'))::bigint[],
       (r->>'score')::integer
FROM jsonb_array_elements($1::jsonb) AS r
ON CONFLICT (alert_id) DO UPDATE SET
  status = excluded.status, last_seen = excluded.last_seen, target_ips = excluded.target_ips,
  target_ports = excluded.target_ports, attempts = excluded.attempts, flow_ids = excluded.flow_ids,
  score = excluded.score, upd_ts = now()
WHERE (excluded.last_seen, excluded.attempts, ${STATUS_RANK.replace('%s', 'excluded.status')})
   >= (a.last_seen, a.attempts, ${STATUS_RANK.replace('%s', 'a.status')})`;

/**
 * Writes the evidence stage's alert records (bolts/output/alert-record.ts) to the `alert` table
 * (sql/004_alerts.sql): one statement per batch, an upsert by alert id that keeps the latest
 * state. A batch can hold several records of one alert (raised, then updated on the next tick);
 * only the last of them is sent, since one statement cannot change a row twice.
 */
export class AlertWriter {
  private readonly target: string;

  constructor(private readonly pool: Pool) {
    this.target = describeTarget(pool);
  }

  /** Writes the records (JSON lines of alertRecord); returns how many distinct alerts were sent. */
  async writeBatch(records: readonly string[]): Promise<number> {
    if (records.length === 0) return 0;
    const latest = new Map<string, string>();
    for (const record of records) latest.set((JSON.parse(record) as AlertRecordValue).alert_id, record);
    try {
      await this.pool.query(WRITE_SQL, [`[${[...latest.values()].join(',')}]`]);
    } catch (cause) {
      throw pgError(`write ${latest.size} alerts`, this.target, cause);
    }
    return latest.size;
  }
}
