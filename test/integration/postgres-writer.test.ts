import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Flow, Tag } from '../../bolts/flow.js';
import { PostgresError } from '../../bolts/postgres/errors.js';
import { defaultSqlDir, runMigrations } from '../../bolts/postgres/migrate.js';
import { createPool } from '../../bolts/postgres/pool.js';
import { ScoredFlowWriter, type WriteBatchResult } from '../../bolts/postgres/scored-flow-writer.js';
import { makeFlow } from '../helpers/make-flow.js';
import { eventually, recordingLogger, requirePostgres, withTestSchema } from '../helpers/postgres.js';

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
      expect(await writer.writeBatch([conversation, makeFlow({ id: 44, flags: null })])).toEqual({ written: 2, upgraded: 0, duplicates: 0, otherFlowIds: [] });

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
      expect(await writer.writeBatch(batch)).toEqual({ written: 10, upgraded: 0, duplicates: 0, otherFlowIds: [] });
      const before = await counts(pool);
      expect(before).toEqual({ flows: 10, details: 5 * 3 + 5 * 1 });

      expect(await writer.writeBatch(batch)).toEqual({ written: 0, upgraded: 0, duplicates: 10, otherFlowIds: [] });
      expect(await counts(pool)).toEqual(before);

      // A replay mixed with new flows writes only the new ones.
      expect(await writer.writeBatch([...batch.slice(0, 3), ...flows(2, 11)])).toEqual({ written: 2, upgraded: 0, duplicates: 3, otherFlowIds: [] });
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
      expect(await writer.writeBatch([paired, makeFlow({ id: 7 })])).toEqual({ written: 1, upgraded: 1, duplicates: 0, otherFlowIds: [] });
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
      expect(await writer.writeBatch([makeFlow({ id: 5, tags: [SSH] })])).toEqual({ written: 0, upgraded: 0, duplicates: 1, otherFlowIds: [] });
      expect(await writer.writeBatch([makeFlow({ id: 5, pairId: 9, matched: true, tags: [SSH] })])).toEqual({ written: 0, upgraded: 0, duplicates: 1, otherFlowIds: [] });
      expect(await row()).toEqual(upgradedRow);
      expect(await tags()).toEqual(upgradedTags);
      // The other flows' tags are untouched.
      const six = await pool.query('SELECT score_category FROM scored_flow_detail WHERE flow_id = 6');
      expect(six.rows).toEqual([{ score_category: 'BRUTE_FORCE' }]);
    });
  });

  describe('one row per flow, whatever the order a crash leaves the records in (issue 13)', () => {
    // The split of the issue: flows 5 and 6 are one conversation; a crash committed them alone
    // (released unmatched) and the replay pairs them as row 5 with pair_flow_id 6.
    const lone5 = makeFlow({ id: 5, tags: [SSH] });
    const lone6 = makeFlow({ id: 6, srcIp: '192.0.2.10', dstIp: '198.51.100.7', srcPort: 443, dstPort: 51515, tags: [COUNTRY] });
    const conversation = makeFlow({ id: 5, pairId: 6, matched: true, packetsRecv: 4, tags: [HOSTED_GOOD] });
    const CONVERSATION_ROW = [{ id: 5, pair_flow_id: 6, matched: true, packets_recv: 4 }];

    async function rowsByFlow(pool: import('pg').Pool) {
      const rows = await pool.query('SELECT id::integer, pair_flow_id::integer, matched, packets_recv::integer FROM scored_flow ORDER BY id');
      const tags = await pool.query('SELECT flow_id::integer, score_category FROM scored_flow_detail ORDER BY flow_id, score_category');
      // Every flow id the rows hold, with how many rows hold it.
      const held = await pool.query(
        `SELECT flow_id::integer, count(*)::integer AS rows FROM (
           SELECT id AS flow_id FROM scored_flow UNION ALL SELECT pair_flow_id FROM scored_flow WHERE pair_flow_id IS NOT NULL) f
         GROUP BY flow_id ORDER BY flow_id`,
      );
      const members = await pool.query('SELECT flow_id::integer, row_id::integer FROM scored_flow_member ORDER BY flow_id');
      return { rows: rows.rows, tags: tags.rows, held: held.rows, members: members.rows };
    }
    const ONE_CONVERSATION = {
      rows: CONVERSATION_ROW,
      tags: [{ flow_id: 5, score_category: 'HOSTED_SERVICES' }],
      held: [
        { flow_id: 5, rows: 1 },
        { flow_id: 6, rows: 1 },
      ],
      members: [
        { flow_id: 5, row_id: 5 },
        { flow_id: 6, row_id: 5 },
      ],
    };

    const orders: Array<[string, Flow[][], WriteBatchResult]> = [
      ['both lone rows, then the conversation, in separate batches', [[lone5], [lone6], [conversation]], { written: 0, upgraded: 1, duplicates: 0, otherFlowIds: [] }],
      ['the partner\'s lone row (the split of the issue), then the conversation', [[lone6], [conversation]], { written: 0, upgraded: 1, duplicates: 0, otherFlowIds: [] }],
      ['its own lone row, then the conversation', [[lone5], [conversation]], { written: 0, upgraded: 1, duplicates: 0, otherFlowIds: [] }],
      ['both lone records and the conversation in one batch', [[lone6, lone5, conversation]], { written: 1, upgraded: 0, duplicates: 2, otherFlowIds: [] }],
      ['the conversation, then late lone replays of either flow', [[conversation], [lone6], [lone5, lone6]], { written: 0, upgraded: 0, duplicates: 2, otherFlowIds: [] }],
      ['the conversation twice, and the same conversation from the other side', [[conversation], [conversation, makeFlow({ id: 6, pairId: 5, matched: true })]], { written: 0, upgraded: 0, duplicates: 2, otherFlowIds: [] }],
      ['duplicates of the lone rows, then duplicates of the conversation', [[lone6, lone6], [lone6, lone5], [conversation, conversation]], { written: 0, upgraded: 1, duplicates: 1, otherFlowIds: [] }],
    ];
    for (const [order, batches, last] of orders) {
      it(`keeps the conversation row alone: ${order}`, async () => {
        await withTestSchema(async ({ schema, pool }) => {
          await runMigrations(pool, { schema });
          const writer = new ScoredFlowWriter(pool);
          let result;
          for (const batch of batches) result = await writer.writeBatch(batch);
          expect(result).toEqual(last);
          expect(await rowsByFlow(pool)).toEqual(ONE_CONVERSATION);
        });
      });
    }

    it('keeps other flows\' rows and their tags when a conversation replaces lone rows', async () => {
      await withTestSchema(async ({ schema, pool }) => {
        await runMigrations(pool, { schema });
        const writer = new ScoredFlowWriter(pool);
        await writer.writeBatch([lone6, makeFlow({ id: 7, tags: [SSH] })]);
        expect(await writer.writeBatch([conversation, makeFlow({ id: 8 })])).toEqual({ written: 1, upgraded: 1, duplicates: 0, otherFlowIds: [] });
        const state = await rowsByFlow(pool);
        expect(state.rows.map((r: { id: number }) => r.id)).toEqual([5, 7, 8]);
        expect(state.tags).toEqual([
          { flow_id: 5, score_category: 'HOSTED_SERVICES' },
          { flow_id: 7, score_category: 'BRUTE_FORCE' },
        ]);
        expect(state.held.every((h: { rows: number }) => h.rows === 1)).toBe(true);
        expect(state.members).toEqual([
          { flow_id: 5, row_id: 5 },
          { flow_id: 6, row_id: 5 },
          { flow_id: 7, row_id: 7 },
          { flow_id: 8, row_id: 8 },
        ]);
      });
    });

    it('fails the batch for replay, retriable, when a concurrent write committed a row of its flows after it read them', async () => {
      await withTestSchema(async ({ schema, pool }) => {
        await runMigrations(pool, { schema });
        const writer = new ScoredFlowWriter(pool);
        const other = await pool.connect();
        try {
          // Another thread's batch writes lone6 and has not committed yet.
          await other.query('BEGIN');
          await other.query(
            `INSERT INTO scored_flow (id, src_ip, dst_ip, good_score, bad_score, start_time, protocol, src_port, dst_port, matched, initiator,
                                      packets_sent, bytes_sent, packets_recv, bytes_recv)
             VALUES (6, '192.0.2.10', '198.51.100.7', 0, 0, now(), 6, 443, 51515, false, 'src', 1, 1, 0, 0)`,
          );
          await other.query('INSERT INTO scored_flow_member (flow_id, row_id) VALUES (6, 6)');
          const write = writer.writeBatch([conversation]).catch((e: unknown) => e);
          // The conversation's statement waits on flow 6's member until the other batch commits.
          await eventually('the write waits for the other transaction', async () => {
            const r = await pool.query<{ n: number }>(
              "SELECT count(*)::integer AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%WITH input AS%'",
            );
            return r.rows[0]!.n > 0;
          });
          await other.query('COMMIT');
          expect(await write).toMatchObject({ code: 'THEMIS_PG', retriable: true, sqlState: '40001' });
        } finally {
          other.release();
        }
        // The replay sees the committed lone row and replaces it.
        expect(await writer.writeBatch([conversation])).toEqual({ written: 0, upgraded: 1, duplicates: 0, otherFlowIds: [] });
        expect(await rowsByFlow(pool)).toEqual(ONE_CONVERSATION);
      });
    });

    it('writes a flow again once an operator deleted its row (a purge of old flows)', async () => {
      await withTestSchema(async ({ schema, pool }) => {
        await runMigrations(pool, { schema });
        const writer = new ScoredFlowWriter(pool);
        await writer.writeBatch([conversation]);
        await pool.query('DELETE FROM scored_flow WHERE id = 5');
        expect((await rowsByFlow(pool)).members).toEqual([]);
        expect(await writer.writeBatch([lone6])).toEqual({ written: 1, upgraded: 0, duplicates: 0, otherFlowIds: [] });
      });
    });

    it('repairs rows written before the migration: the lone row of a conversation\'s partner goes', async () => {
      await withTestSchema(async ({ schema, pool }) => {
        const dir = await mkdtemp(join(tmpdir(), 'themis-sql-'));
        try {
          // Apply 001 and 002 only, write the split as the old writer left it, then apply 003.
          for (const name of ['001_configuration_lists.sql', '002_scored_flows.sql']) await copyFile(join(defaultSqlDir(), name), join(dir, name));
          await runMigrations(pool, { schema, sqlDir: dir });
          await pool.query(
            `INSERT INTO scored_flow (id, src_ip, dst_ip, good_score, bad_score, start_time, protocol, src_port, dst_port, pair_flow_id, matched, initiator,
                                      packets_sent, bytes_sent, packets_recv, bytes_recv)
             VALUES (5, '198.51.100.7', '192.0.2.10', 0, 0, now(), 6, 51515, 443, 6, true, 'src', 1, 1, 4, 1),
                    (6, '192.0.2.10', '198.51.100.7', 0, 0, now(), 6, 443, 51515, NULL, false, 'src', 1, 1, 0, 0)`,
          );
          await runMigrations(pool, { schema });
          const state = await rowsByFlow(pool);
          expect(state.rows).toEqual(CONVERSATION_ROW);
          expect(state.members).toEqual(ONE_CONVERSATION.members);
          expect(await new ScoredFlowWriter(pool).writeBatch([lone6])).toEqual({ written: 0, upgraded: 0, duplicates: 1, otherFlowIds: [] });
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    });
  });

  it('never lets two different flows share a row: a record whose id another flow\'s row holds is refused and reported', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const writer = new ScoredFlowWriter(pool);
      const first = makeFlow({ id: 11, dstPort: 443 });
      const sameIdOtherFlow = makeFlow({ id: 11, dstPort: 22 });
      expect(await writer.writeBatch([first])).toEqual({ written: 1, upgraded: 0, duplicates: 0, otherFlowIds: [] });
      expect(await writer.writeBatch([sameIdOtherFlow])).toEqual({ written: 0, upgraded: 0, duplicates: 0, otherFlowIds: [11] });
      // Nor as the pair of a conversation, nor within one batch.
      const conversationOverOther = makeFlow({ id: 12, pairId: 11, matched: true, dstPort: 25 });
      expect(await writer.writeBatch([conversationOverOther, makeFlow({ id: 13 }), makeFlow({ id: 13, protocol: 17 })])).toEqual({
        written: 1,
        upgraded: 0,
        duplicates: 0,
        otherFlowIds: [13, 12],
      });
      const rows = await pool.query('SELECT id::integer, dst_port, protocol FROM scored_flow ORDER BY id');
      expect(rows.rows).toEqual([
        { id: 11, dst_port: 443, protocol: 6 },
        { id: 13, dst_port: 443, protocol: 6 },
      ]);
    });
  });

  it('stores 64-bit counters at and above 2^32, up to 2^53 - 1', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const big = makeFlow({ id: 2, pairId: 3, matched: true, bytesSent: 2 ** 32, packetsSent: 2 ** 32 + 1, bytesRecv: Number.MAX_SAFE_INTEGER, packetsRecv: 2 ** 40 });
      await new ScoredFlowWriter(pool).writeBatch([big]);
      const r = await pool.query('SELECT bytes_sent::text, packets_sent::text, bytes_recv::text, packets_recv::text FROM scored_flow');
      expect(r.rows).toEqual([{ bytes_sent: '4294967296', packets_sent: '4294967297', bytes_recv: '9007199254740991', packets_recv: '1099511627776' }]);
    });
  });

  it('keeps the paired occurrence of a flow id repeated within one batch', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const result = await new ScoredFlowWriter(pool).writeBatch([makeFlow({ id: 3, tags: [SSH] }), makeFlow({ id: 3, pairId: 4, matched: true, tags: [COUNTRY] })]);
      expect(result).toEqual({ written: 1, upgraded: 0, duplicates: 1, otherFlowIds: [] });
      expect((await pool.query('SELECT pair_flow_id::integer FROM scored_flow')).rows).toEqual([{ pair_flow_id: 4 }]);
    });
  });

  it('keeps the first occurrence of a flow id repeated within one batch', async () => {
    await withTestSchema(async ({ schema, pool }) => {
      await runMigrations(pool, { schema });
      const result = await new ScoredFlowWriter(pool).writeBatch([makeFlow({ id: 9, tags: [SSH] }), makeFlow({ id: 9, tags: [COUNTRY] })]);
      expect(result).toEqual({ written: 1, upgraded: 0, duplicates: 1, otherFlowIds: [] });
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
      expect(await writer.writeBatch(batch)).toEqual({ written: 5_000, upgraded: 0, duplicates: 0, otherFlowIds: [] });
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
