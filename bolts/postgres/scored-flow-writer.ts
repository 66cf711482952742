import type { Pool } from 'pg';
import type { Flow } from '../flow.js';
import { totals } from '../rules/tags.js';
import { pgError } from './errors.js';
import { oneRecordPerFlow } from './one-record-per-flow.js';
import { describeTarget } from './pool.js';

/**
 * Writes scored flows to scored_flow and their tags to scored_flow_detail (reference §5.22, with
 * the §15 item 41 fixes). A batch is ONE statement, so one round trip and atomic by itself: the
 * columns travel as arrays and are unnested server-side.
 *
 * One row per flow: every flow id is in at most one row, as its id or as the pair_flow_id of a
 * conversation, and scored_flow_member (sql/003) enforces it. Pairing depends on arrival order,
 * which a replay after a crash does not repeat: a flow may have been written alone (released as a
 * repeat or unmatched, or committed before its partner) and come back in a conversation. So:
 * - a lone record is written when no row holds its flow; otherwise it is a duplicate (a replay,
 *   or a late lone record of a flow that a conversation row already holds);
 * - a conversation record is written when no conversation row holds either of its flows; it
 *   replaces the lone rows of both, row and tags, in the same statement (the row of its own id is
 *   updated, the partner's deleted). A conversation row is never replaced: when a replay pairs a
 *   flow with another reverse flow of its conversation key (a repeat in that direction), the row
 *   keeps the first pairing and the other reverse flow has no row.
 * Any failure rejects with a PostgresError (THEMIS_PG) whose `retriable` tells the output bolt
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
  // held: the rows that already hold a flow of the batch (scored_flow_member, sql/003), and
  //   whether each is the same flow: same protocol and endpoints, in either direction.
  // accepted: a lone record whose flow no row holds; a conversation neither of whose flows a
  //   conversation row or a different flow's row holds (it replaces the lone rows of both, if any).
  // other_flows: records whose id a different flow's row holds, refused and reported.
  // The last SELECT checks that every change found the rows `held` read: a concurrent write that
  // committed in between makes it raise serialization_failure, and the batch is replayed.
  // xmax = 0 tells a row inserted now from one updated by the DO UPDATE branch.
  return `
    WITH input AS (
      SELECT * FROM unnest(${flowArrays}) AS t(${names})
    ), held AS (
      SELECT i.id AS record_id, m.flow_id, r.pair_flow_id IS NOT NULL AS is_paired,
             r.protocol = i.protocol
               AND ((r.src_ip, r.src_port, r.dst_ip, r.dst_port) = (i.src_ip, i.src_port, i.dst_ip, i.dst_port)
                 OR (r.src_ip, r.src_port, r.dst_ip, r.dst_port) = (i.dst_ip, i.dst_port, i.src_ip, i.src_port)) AS is_same_flow
      FROM input i
      JOIN scored_flow_member m ON m.flow_id IN (i.id, i.pair_flow_id)
      JOIN scored_flow r ON r.id = m.row_id
    ), accepted AS (
      SELECT * FROM input i
      WHERE NOT EXISTS (
        SELECT 1 FROM held h WHERE h.record_id = i.id AND (i.pair_flow_id IS NULL OR h.is_paired OR NOT h.is_same_flow))
    ), other_flows AS (
      SELECT DISTINCT record_id FROM held WHERE NOT is_same_flow
    ), members AS (
      SELECT id AS flow_id, id AS row_id FROM accepted
      UNION ALL
      SELECT pair_flow_id, id FROM accepted WHERE pair_flow_id IS NOT NULL
    ), written AS (
      INSERT INTO scored_flow (${names})
      SELECT ${selects} FROM accepted
      ON CONFLICT (id) DO UPDATE SET (${updates.join(', ')}) = (${excluded})
        WHERE scored_flow.pair_flow_id IS NULL AND EXCLUDED.pair_flow_id IS NOT NULL
      RETURNING id, (xmax = 0) AS is_new
    ), partner_rows AS (
      DELETE FROM scored_flow r USING accepted a
      WHERE r.id = a.pair_flow_id AND r.pair_flow_id IS NULL
      RETURNING r.id
    ), moved AS (
      UPDATE scored_flow_member m SET row_id = a.id FROM accepted a
      WHERE m.flow_id = a.pair_flow_id AND m.row_id = a.pair_flow_id
      RETURNING m.flow_id
    ), joined AS (
      INSERT INTO scored_flow_member (flow_id, row_id)
      SELECT flow_id, row_id FROM members WHERE flow_id NOT IN (SELECT flow_id FROM held)
      ON CONFLICT (flow_id) DO NOTHING
      RETURNING flow_id
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
    ), counts AS (
      SELECT (SELECT count(*) FROM accepted) AS accepted,
             (SELECT count(*) FROM written) AS written,
             (SELECT count(*) FROM members WHERE flow_id NOT IN (SELECT flow_id FROM held)) AS new_members,
             (SELECT count(*) FROM joined) AS joined,
             (SELECT count(*) FROM accepted a JOIN held h ON h.flow_id = a.pair_flow_id) AS partners_held,
             (SELECT count(*) FROM partner_rows) AS partner_rows,
             (SELECT count(*) FROM moved) AS moved,
             (SELECT count(*) FROM accepted a WHERE EXISTS (SELECT 1 FROM held h WHERE h.flow_id IN (a.id, a.pair_flow_id))) AS upgraded,
             (SELECT count(*) FROM details) AS details,
             (SELECT count(*) FROM stale) AS stale
    )
    SELECT (accepted - upgraded)::integer AS flows, upgraded::integer AS upgraded,
           details::integer AS details, stale::integer AS stale,
           ARRAY(SELECT record_id::double precision FROM other_flows ORDER BY record_id) AS other_flow_ids
    FROM counts
    WHERE CASE WHEN written = accepted AND joined = new_members AND partner_rows = partners_held AND moved = partners_held
               THEN true ELSE themis_scored_flow_conflict() END`;
}

const WRITE_SQL = buildSql();

/**
 * The statement's parameters: one array per scored_flow column, then five for the tags (flow id,
 * category, code = score_name as in the original, score, is bad), for the records of the batch
 * that oneRecordPerFlow kept.
 */
function scoredFlowParams(unique: readonly Flow[], nowMs: number): unknown[] {
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
  /** Conversation records written over the unpaired rows of either of their flows. */
  readonly upgraded: number;
  /** Records that add nothing: their flows are already held by a row (replays, late unpaired records) or by another record of the batch. */
  readonly duplicates: number;
  /**
   * Ids of records not written because a row or another record of the batch holds their id for a
   * different flow (other protocol or endpoints): the exporter gave two flows one id.
   */
  readonly otherFlowIds: readonly number[];
}

/** What the statement's one row says. */
interface WriteRow {
  readonly flows: number;
  readonly upgraded: number;
  readonly other_flow_ids: number[];
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
    if (flows.length === 0) return { written: 0, upgraded: 0, duplicates: 0, otherFlowIds: [] };
    const { kept, otherFlows } = oneRecordPerFlow(flows);
    const params = scoredFlowParams(kept, this.nowMs());
    let row: WriteRow;
    try {
      row = (await this.pool.query<WriteRow>(WRITE_SQL, params)).rows[0]!;
    } catch (cause) {
      let low = flows[0]!.id;
      let high = low;
      for (const f of flows) [low, high] = [Math.min(low, f.id), Math.max(high, f.id)];
      const range = low === high ? `flow id ${low}` : `flow ids ${low}-${high}`;
      throw pgError(`write ${flows.length} scored flows (${range})`, this.target, cause);
    }
    const otherFlowIds = [...otherFlows.map((f) => f.id), ...row.other_flow_ids];
    return { written: row.flows, upgraded: row.upgraded, duplicates: flows.length - row.flows - row.upgraded - otherFlowIds.length, otherFlowIds };
  }
}
