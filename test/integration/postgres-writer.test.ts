import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Flow, Tag } from '../../bolts/flow.js';
import { PostgresError } from '../../bolts/postgres/errors.js';
import { runMigrations } from '../../bolts/postgres/migrate.js';
import { createPool } from '../../bolts/postgres/pool.js';
import { ScoredFlowWriter } from '../../bolts/postgres/scored-flow-writer.js';
import { makeFlow } from '../helpers/make-flow.js';
import { recordingLogger, requirePostgres, withTestSchema } from '../helpers/postgres.js';

beforeAll(async () => {
  await requirePostgres();
});

const NOW_MS = 1_700_000_000_000;
const SSH: Tag = { category: 'BRUTE_FORCE', code: 'SSH', score: 90, isBad: true };
const COUNTRY: Tag = { category: 'COUNTRY', code: 'SUSPECT', score: 60, isBad: true };
const HOSTED_GOOD: Tag = { category: 'HOSTED_SERVICES', code: 'TCP', score: 100, isBad: false };
const HOSTED_BAD: Tag = { category: 'HOSTED_SERVICES', code: 'TCP', score: 50, isBad: true };

function flows(count: number, firstId = 1): Flow[] {
  return Array.from({ length: count }, (_, i) =>
    makeFlow({
      id: firstId + i,
      startSecs: 1_484_033_957 + i,
      receivedAtMs: NOW_MS - 250,
      tags: i % 2 === 0 ? [SSH, COUNTRY, HOSTED_BAD] : [HOSTED_GOOD],
    }),
  );
}

async function counts(pool: import('pg').Pool): Promise<{ flows: number; details: number }> {
  const r = await pool.query<{ flows: number; details: number }>(
    'SELECT (SELECT count(*) FROM scored_flow)::integer AS flows, (SELECT count(*) FROM scored_flow_detail)::integer AS details',
  );
  return r.rows[0]!;
}

describe('ScoredFlowWriter', () => {
  it('writes one scored_flow row per flow and one scored_flow_detail row per tag', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const writer = new ScoredFlowWriter(pool, { nowMs: () => NOW_MS });
      const conversation = makeFlow({
        id: 42,
        pairId: 43,
        matched: true,
        initiator: 'dst',
        direction: 'OUTBOUND',
        srcIp: '2001:db8:1::10',
        dstIp: '2001:db8:2::7',
        srcAs: 4_200_000_000,
        packetsRecv: 7,
        bytesRecv: 700,
        srcCity: 'Cape Town',
        srcCountry: 'South Africa',
        srcCountryCode: 'ZA',
        srcLatitude: -33.9258,
        srcLongitude: 18.4232,
        dstCountryCode: 'CN',
        receivedAtMs: NOW_MS - 1_234,
        tags: [HOSTED_GOOD, SSH, COUNTRY],
      });
      expect(await writer.writeBatch([conversation, makeFlow({ id: 44, flags: null })])).toEqual({ written: 2, upgraded: 0, duplicates: 0 });

      const row = (
        await pool.query(
          `SELECT id::text, src_ip::text, dst_ip::text, src_asn::text, good_score, bad_score, processing_time::integer,
                  extract(epoch FROM start_time)::bigint::text AS start_secs, pair_flow_id::text, matched, initiator,
                  flow_direction, packets_sent::integer, bytes_recv::integer, flags, src_city, src_country_code,
                  dst_country_code, src_latitude, src_longitude, dst_latitude
           FROM scored_flow WHERE id = 42`,
        )
      ).rows[0];
      expect(row).toEqual({
        id: '42',
        src_ip: '2001:db8:1::10/128',
        dst_ip: '2001:db8:2::7/128',
        src_asn: '4200000000',
        good_score: 100,
        bad_score: 150,
        processing_time: 1_234,
        start_secs: '1484033957',
        pair_flow_id: '43',
        matched: true,
        initiator: 'dst',
        flow_direction: 'OUTBOUND',
        packets_sent: 10,
        bytes_recv: 700,
        flags: '.A..S.',
        src_city: 'Cape Town',
        src_country_code: 'ZA',
        dst_country_code: 'CN',
        src_latitude: -33.9258,
        src_longitude: 18.4232,
        dst_latitude: null,
      });
      const details = await pool.query(
        'SELECT flow_id::integer, score_category, score_name, score, is_bad_score FROM scored_flow_detail ORDER BY flow_id, score_category',
      );
      expect(details.rows).toEqual([
        { flow_id: 42, score_category: 'BRUTE_FORCE', score_name: 'SSH', score: 90, is_bad_score: true },
        { flow_id: 42, score_category: 'COUNTRY', score_name: 'SUSPECT', score: 60, is_bad_score: true },
        { flow_id: 42, score_category: 'HOSTED_SERVICES', score_name: 'TCP', score: 100, is_bad_score: false },
      ]);
      const flow44 = await pool.query('SELECT flags, good_score, bad_score FROM scored_flow WHERE id = 44');
      expect(flow44.rows[0]).toEqual({ flags: null, good_score: 0, bad_score: 0 });
    });
  });

  it('stores start_time as the UTC instant of startSecs whatever the session time zone', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      await new ScoredFlowWriter(pool).writeBatch([makeFlow({ id: 7, startSecs: 1_486_834_707 })]);
      const r = await pool.query("SELECT to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') AS utc FROM scored_flow");
      expect(r.rows[0]).toEqual({ utc: '2017-02-11T17:38:27' });
    });
  });

  it('leaves exactly one row per flow and per tag when the same batch is written again (a replay)', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const writer = new ScoredFlowWriter(pool, { nowMs: () => NOW_MS });
      const batch = flows(10);
      expect(await writer.writeBatch(batch)).toEqual({ written: 10, upgraded: 0, duplicates: 0 });
      const before = await counts(pool);
      expect(before).toEqual({ flows: 10, details: 5 * 3 + 5 * 1 });

      expect(await writer.writeBatch(batch)).toEqual({ written: 0, upgraded: 0, duplicates: 10 });
      expect(await counts(pool)).toEqual(before);

      // A replay mixed with new flows writes only the new ones.
      expect(await writer.writeBatch([...batch.slice(0, 3), ...flows(2, 11)])).toEqual({ written: 2, upgraded: 0, duplicates: 3 });
      expect(await counts(pool)).toEqual({ flows: 12, details: before.details + 3 + 1 });
    });
  });

  it('keeps the first write of a flow, row and tags together, when a replay carries different tags', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const writer = new ScoredFlowWriter(pool);
      await writer.writeBatch([makeFlow({ id: 5, tags: [SSH] })]);
      await writer.writeBatch([makeFlow({ id: 5, tags: [HOSTED_GOOD, COUNTRY] })]);
      const flow = await pool.query('SELECT good_score, bad_score FROM scored_flow WHERE id = 5');
      expect(flow.rows).toEqual([{ good_score: 0, bad_score: 90 }]);
      const tags = await pool.query('SELECT score_category, score_name FROM scored_flow_detail');
      expect(tags.rows).toEqual([{ score_category: 'BRUTE_FORCE', score_name: 'SSH' }]);
    });
  });

  it('replaces an unpaired row by the conversation of the same id, row and tags together, and never replaces a paired row', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const writer = new ScoredFlowWriter(pool);
      // First written alone (released unmatched before a crash), then replayed as a conversation.
      await writer.writeBatch([makeFlow({ id: 5, tags: [SSH, COUNTRY] }), makeFlow({ id: 6, tags: [SSH] })]);
      const countryAgain: Tag = { ...COUNTRY, score: 70 };
      const paired = makeFlow({ id: 5, pairId: 8, matched: true, packetsRecv: 3, tags: [HOSTED_GOOD, countryAgain] });
      expect(await writer.writeBatch([paired, makeFlow({ id: 7 })])).toEqual({ written: 1, upgraded: 1, duplicates: 0 });
      const row = async () => (await pool.query('SELECT pair_flow_id::integer, matched, packets_recv::integer, good_score, bad_score FROM scored_flow WHERE id = 5')).rows;
      const tags = async () =>
        (await pool.query('SELECT score_category, score, is_bad_score FROM scored_flow_detail WHERE flow_id = 5 ORDER BY score_category')).rows;
      const upgradedRow = [{ pair_flow_id: 8, matched: true, packets_recv: 3, good_score: 100, bad_score: 70 }];
      const upgradedTags = [
        { score_category: 'COUNTRY', score: 70, is_bad_score: true },
        { score_category: 'HOSTED_SERVICES', score: 100, is_bad_score: false },
      ];
      expect(await row()).toEqual(upgradedRow);
      expect(await tags()).toEqual(upgradedTags);

      // Neither an unpaired replay nor another pairing replaces a paired row.
      expect(await writer.writeBatch([makeFlow({ id: 5, tags: [SSH] })])).toEqual({ written: 0, upgraded: 0, duplicates: 1 });
      expect(await writer.writeBatch([makeFlow({ id: 5, pairId: 9, matched: true, tags: [SSH] })])).toEqual({ written: 0, upgraded: 0, duplicates: 1 });
      expect(await row()).toEqual(upgradedRow);
      expect(await tags()).toEqual(upgradedTags);
      // The other flows' tags are untouched.
      const six = await pool.query('SELECT score_category FROM scored_flow_detail WHERE flow_id = 6');
      expect(six.rows).toEqual([{ score_category: 'BRUTE_FORCE' }]);
    });
  });

  it('keeps the paired occurrence of a flow id repeated within one batch', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const result = await new ScoredFlowWriter(pool).writeBatch([makeFlow({ id: 3, tags: [SSH] }), makeFlow({ id: 3, pairId: 4, matched: true, tags: [COUNTRY] })]);
      expect(result).toEqual({ written: 1, upgraded: 0, duplicates: 1 });
      expect((await pool.query('SELECT pair_flow_id::integer FROM scored_flow')).rows).toEqual([{ pair_flow_id: 4 }]);
    });
  });

  it('keeps the first occurrence of a flow id repeated within one batch', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const result = await new ScoredFlowWriter(pool).writeBatch([makeFlow({ id: 9, tags: [SSH] }), makeFlow({ id: 9, tags: [COUNTRY] })]);
      expect(result).toEqual({ written: 1, upgraded: 0, duplicates: 1 });
      const tags = await pool.query('SELECT score_name FROM scored_flow_detail');
      expect(tags.rows).toEqual([{ score_name: 'SSH' }]);
    });
  });

  it('writes a batch of 5,000 flows in one call and one statement', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const writer = new ScoredFlowWriter(pool, { nowMs: () => NOW_MS });
      await writer.writeBatch(flows(100, 1_000_000)); // warm-up: connection and plan
      const batch = flows(5_000);
      const queries = vi.spyOn(pool, 'query');
      const started = performance.now();
      expect(await writer.writeBatch(batch)).toEqual({ written: 5_000, upgraded: 0, duplicates: 0 });
      const elapsedMs = performance.now() - started;
      expect(queries).toHaveBeenCalledTimes(1);
      queries.mockRestore();
      expect(await counts(pool)).toEqual({ flows: 5_100, details: 2_500 * 3 + 2_500 + 50 * 3 + 50 });
      console.log(
        `postgres writer: 5,000 flows + 10,000 tags in one call: ${elapsedMs.toFixed(0)} ms ` +
          `(${Math.round(5_000 / (elapsedMs / 1000))} flows/s)`,
      );
      expect(elapsedMs).toBeLessThan(10_000);
    });
  });

  it('rejects with THEMIS_PG, retriable, when the connection fails, so the tuples can be replayed', async () => {
    const pool = createPool('postgresql://root@127.0.0.1:1/test', { max: 1, connectTimeoutMs: 2_000, log: recordingLogger().log });
    try {
      const err = await new ScoredFlowWriter(pool).writeBatch(flows(3)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PostgresError);
      expect(err).toMatchObject({ code: 'THEMIS_PG', retriable: true, target: '127.0.0.1:1/test' });
      expect((err as Error).message).toMatch(/^write 3 scored flows \(flow ids 1-3\) failed on PostgreSQL 127\.0\.0\.1:1\/test/);
    } finally {
      await pool.end();
    }
  });

  it('rejects with THEMIS_PG, not retriable, when the server refuses the rows, and writes none of the batch', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const err = await new ScoredFlowWriter(pool).writeBatch([makeFlow({ id: 1, tags: [SSH] }), makeFlow({ id: 2, dstPort: 70_000 })]).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'THEMIS_PG', retriable: false, sqlState: '23514' });
      expect(await counts(pool)).toEqual({ flows: 0, details: 0 });
    });
  });
});
