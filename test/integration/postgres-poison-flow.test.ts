import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { runCliOk } from '../helpers/deployment.js';
import { icmpLine, jsonLines, OUTAGE_WINDOWS, summaryWithoutReplays, tempDir } from '../helpers/flow-stream.js';
import { requirePostgres, withTestSchema } from '../helpers/postgres.js';

/**
 * Issue 13, the other side: a flow PostgreSQL refuses as bad data (here a check constraint the
 * test adds to its own schema) is a poison flow. Only it goes to ignored-flows, with stage
 * `persist` and PostgreSQL's error; the other flows of its batch are written once; nothing is
 * replayed (a replay would be refused the same way).
 */

const FLOWS = 40;
const FIRST_ID = 3_000_000;
const POISON_ID = FIRST_ID + 17;

describe('a flow PostgreSQL refuses as bad data (--persist)', () => {
  let dir: string | undefined;
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('goes alone to ignored-flows with stage persist and the error; the rest of its batch is written', async () => {
    await requirePostgres();
    await withTestSchema(async ({ schema, pool, url }) => {
      await runCliOk('themis-topology', ['db', 'migrate', '--postgres', url, '--schema', schema]);
      await pool.query(`ALTER TABLE scored_flow ADD CONSTRAINT test_refuses_one_flow CHECK (id <> ${POISON_ID})`);
      dir = tempDir('themis-pg-poison');
      const input = join(dir, 'flows.jsonl');
      writeFileSync(input, Array.from({ length: FLOWS }, (_, i) => `${icmpLine(FIRST_ID + i, '198.51.100.10')}\n`).join(''));
      const config = join(dir, 'config.json');
      writeFileSync(config, JSON.stringify({ windows: OUTAGE_WINDOWS }));
      const out = join(dir, 'out');
      const result = await runCli(
        'themis-topology',
        ['submit', '1', '1', '200', '0', 'pg-poison', '--input', input, '--config', config, '--output-dir', out, '--no-metrics-port', '--workers', '2', '--postgres', url, '--postgres-schema', schema, '--persist'],
        { timeoutMs: 60_000 },
      );
      expect(result.code, result.stderr.slice(-3000)).toBe(0);
      expect(result.stderr).toMatch(summaryWithoutReplays(FLOWS));

      const rows = await pool.query<{ id: string }>('SELECT id::text AS id FROM scored_flow ORDER BY id');
      expect(rows.rows.map((r) => Number(r.id))).toEqual(Array.from({ length: FLOWS }, (_, i) => FIRST_ID + i).filter((id) => id !== POISON_ID));
      const ignored = jsonLines(join(out, 'ignored-flows.jsonl'));
      expect(ignored).toHaveLength(1);
      expect(ignored[0]).toMatchObject({ type: 'ignored_flow', flow_id: POISON_ID, stage: 'persist' });
      expect(ignored[0]!.reason).toMatch(/test_refuses_one_flow.*SQLSTATE 23514/);
      // The poison flow's scored record was written before PostgreSQL refused it: the file sink took it.
      expect(jsonLines(join(out, 'scored-flows.jsonl')).map((r) => r.flow_id)).toContain(POISON_ID);
    });
  }, 90_000);
});
