import type { Pool } from 'pg';
import type { Flow } from '../flow.js';
import { totals } from '../rules/tags.js';
import { pgError } from './errors.js';
import { describeTarget } from './pool.js';

/**
 * Writes scored flows to scored_flow and their tags to scored_flow_detail (reference §5.22, with
 * the §15 item 41 fixes). A batch is ONE statement, so one round trip and atomic by itself: the
 * columns travel as arrays and are unnested server-side.
 *
 * Replays: a flow id already present is left as it is (a replay adds nothing), with one
 * exception. Pairing depends on arrival order, which a replay after a crash does not repeat
 * across partitions: flow A may have been written alone (released as a repeat or unmatched) and,
 * replayed, come back as the conversation A+B. Keeping the first write would leave B in no row
 * (its id is only ever the conversation's pair_flow_id), so a paired record replaces an unpaired
 * row of the same id, row and tags together. A paired row is never replaced, by anything: when a
 * replay pairs the same flow with a different reverse flow of its conversation key (a repeat in
 * that direction), the row keeps the first pairing and the other reverse flow has no row. Any
 * failure rejects with a PostgresError (THEMIS_PG) whose `retriable` tells the output bolt
 * whether failing the tuples for replay can help.
 */

interface Column {
  readonly name: string;
  /** Element type of the array parameter. */
  readonly type: string;
  readonly value: (flow: Flow, nowMs: number) => unknown;
  /** How the inserted value is made from the unnested one; default: the column itself. */
  readonly select?: string;
}

/** scored_flow, column by column: the one place that ties a column to its parameter. */
const FLOW_COLUMNS: readonly Column[] = [
  { name: 'id', type: 'bigint', value: (f) => f.id },
  { name: 'src_ip', type: 'inet', value: (f) => f.srcIp.text },
  { name: 'dst_ip', type: 'inet', value: (f) => f.dstIp.text },
  { name: 'src_asn', type: 'bigint', value: (f) => f.srcAs },
  { name: 'dst_asn', type: 'bigint', value: (f) => f.dstAs },
  // Milliseconds from entering the topology to this write (the original's now − start_processing_ms).
  { name: 'processing_time', type: 'bigint', value: (f, nowMs) => nowMs - f.receivedAtMs },
  { name: 'src_city', type: 'text', value: (f) => f.srcCity },
  { name: 'src_country', type: 'text', value: (f) => f.srcCountry },
  { name: 'src_country_code', type: 'text', value: (f) => f.srcCountryCode },
  { name: 'dst_city', type: 'text', value: (f) => f.dstCity },
  { name: 'dst_country', type: 'text', value: (f) => f.dstCountry },
  { name: 'dst_country_code', type: 'text', value: (f) => f.dstCountryCode },
  { name: 'good_score', type: 'integer', value: (f) => totals(f.tags).goodness },
  { name: 'bad_score', type: 'integer', value: (f) => totals(f.tags).badness },
  // Epoch seconds to an instant: the same moment whatever the session's TimeZone.
  { name: 'start_time', type: 'double precision', value: (f) => f.startSecs, select: 'to_timestamp(start_time)' },
  { name: 'protocol', type: 'integer', value: (f) => f.protocol },
  { name: 'src_port', type: 'integer', value: (f) => f.srcPort },
  { name: 'dst_port', type: 'integer', value: (f) => f.dstPort },
  { name: 'pair_flow_id', type: 'bigint', value: (f) => f.pairId },
  { name: 'matched', type: 'boolean', value: (f) => f.matched },
  { name: 'initiator', type: 'text', value: (f) => f.initiator },
  { name: 'flow_direction', type: 'text', value: (f) => f.direction },
  { name: 'packets_sent', type: 'bigint', value: (f) => f.packetsSent },
  { name: 'bytes_sent', type: 'bigint', value: (f) => f.bytesSent },
  { name: 'packets_recv', type: 'bigint', value: (f) => f.packetsRecv },
  { name: 'bytes_recv', type: 'bigint', value: (f) => f.bytesRecv },
  { name: 'flags', type: 'text', value: (f) => f.flags },
  { name: 'src_latitude', type: 'double precision', value: (f) => f.srcLatitude },
  { name: 'src_longitude', type: 'double precision', value: (f) => f.srcLongitude },
  { name: 'dst_latitude', type: 'double precision', value: (f) => f.dstLatitude },
  { name: 'dst_longitude', type: 'double precision', value: (f) => f.dstLongitude },
];

const DETAIL_TYPES = ['bigint', 'text', 'text', 'integer', 'boolean'] as const;

function buildSql(): string {
  const n = FLOW_COLUMNS.length;
  const flowArrays = FLOW_COLUMNS.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ');
  const names = FLOW_COLUMNS.map((c) => c.name).join(', ');
  const selects = FLOW_COLUMNS.map((c) => c.select ?? c.name).join(', ');
  const updates = FLOW_COLUMNS.filter((c) => c.name !== 'id').map((c) => c.name);
  const excluded = updates.map((c) => `EXCLUDED.${c}`).join(', ');
  const detailArrays = DETAIL_TYPES.map((t, i) => `$${n + i + 1}::${t}[]`).join(', ');
  // xmax = 0 tells a row inserted now from one updated by the DO UPDATE branch.
  return `
    WITH input AS (
      SELECT * FROM unnest(${flowArrays}) AS t(${names})
    ), written AS (
      INSERT INTO scored_flow (${names})
      SELECT ${selects} FROM input
      ON CONFLICT (id) DO UPDATE SET (${updates.join(', ')}) = (${excluded})
        WHERE scored_flow.pair_flow_id IS NULL AND EXCLUDED.pair_flow_id IS NOT NULL
      RETURNING id, (xmax = 0) AS is_new
    ), tags AS (
      SELECT * FROM unnest(${detailArrays}) AS d(flow_id, score_category, score_name, score, is_bad_score)
    ), stale AS (
      DELETE FROM scored_flow_detail old
      USING written w
      WHERE old.flow_id = w.id AND NOT w.is_new
        AND NOT EXISTS (
          SELECT 1 FROM tags t
          WHERE t.flow_id = old.flow_id AND t.score_category = old.score_category
            AND t.score_name = old.score_name AND t.is_bad_score = old.is_bad_score)
      RETURNING 1
    ), details AS (
      INSERT INTO scored_flow_detail (flow_id, score_category, score_name, score, is_bad_score)
      SELECT t.flow_id, t.score_category, t.score_name, t.score, t.is_bad_score
      FROM tags t JOIN written ON written.id = t.flow_id
      ON CONFLICT (flow_id, score_category, score_name, is_bad_score) DO UPDATE SET score = EXCLUDED.score
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM written WHERE is_new)::integer AS flows,
           (SELECT count(*) FROM written WHERE NOT is_new)::integer AS upgraded,
           (SELECT count(*) FROM details)::integer AS details,
           (SELECT count(*) FROM stale)::integer AS stale`;
}

const WRITE_SQL = buildSql();

/**
 * The statement's parameters: one array per scored_flow column, then five for the tags (flow id,
 * category, code = score_name as in the original, score, is bad). A flow id repeated within the
 * batch keeps its first paired occurrence, else its first, as separate writes of them would. Rows
 * go in id order, so two batches that share ids lock them in the same order rather than deadlock.
 */
function scoredFlowParams(flows: readonly Flow[], nowMs: number): unknown[] {
  const byId = new Map<number, Flow>();
  for (const flow of flows) {
    const kept = byId.get(flow.id);
    if (kept === undefined || (kept.pairId === null && flow.pairId !== null)) byId.set(flow.id, flow);
  }
  const unique = [...byId.values()];
  unique.sort((a, b) => a.id - b.id);
  const flowArrays = FLOW_COLUMNS.map((c) => unique.map((f) => c.value(f, nowMs)));
  const detailArrays: unknown[][] = DETAIL_TYPES.map(() => []);
  for (const flow of unique) {
    for (const tag of flow.tags) {
      detailArrays[0]!.push(flow.id);
      detailArrays[1]!.push(tag.category);
      detailArrays[2]!.push(tag.code);
      detailArrays[3]!.push(tag.score);
      detailArrays[4]!.push(tag.isBad);
    }
  }
  return [...flowArrays, ...detailArrays];
}

export interface WriteBatchResult {
  /** Flows inserted now. */
  readonly written: number;
  /** Unpaired rows replaced by the conversation record of the same id. */
  readonly upgraded: number;
  /** Flows skipped: already in the table (replays) or repeated within the batch. */
  readonly duplicates: number;
}

export class ScoredFlowWriter {
  private readonly target: string;
  private readonly nowMs: () => number;

  constructor(
    private readonly pool: Pool,
    opts: { readonly nowMs?: () => number } = {},
  ) {
    this.target = describeTarget(pool);
    this.nowMs = opts.nowMs ?? Date.now;
  }

  async writeBatch(flows: readonly Flow[]): Promise<WriteBatchResult> {
    if (flows.length === 0) return { written: 0, upgraded: 0, duplicates: 0 };
    const params = scoredFlowParams(flows, this.nowMs());
    let row: { flows: number; upgraded: number };
    try {
      row = (await this.pool.query<{ flows: number; upgraded: number }>(WRITE_SQL, params)).rows[0]!;
    } catch (cause) {
      let low = flows[0]!.id;
      let high = low;
      for (const f of flows) [low, high] = [Math.min(low, f.id), Math.max(high, f.id)];
      const range = low === high ? `flow id ${low}` : `flow ids ${low}-${high}`;
      throw pgError(`write ${flows.length} scored flows (${range})`, this.target, cause);
    }
    return { written: row.flows, upgraded: row.upgraded, duplicates: flows.length - row.flows - row.upgraded };
  }
}
