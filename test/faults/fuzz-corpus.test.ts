import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFlowLine } from '../../bolts/parse/parse-flow.js';
import { runCli } from '../helpers/cli.js';
import { BAD_KINDS, writeFuzzCorpus, type BadKind } from '../helpers/fuzz-corpus.js';
import { cachedFlowInputs } from '../helpers/generated-flows.js';

/**
 * Issue 13's fuzz corpus through `themis-topology` file input (embedded mode): 100,000 bad lines
 * of every kind (test/helpers/fuzz-corpus.ts) and one of 5 MB, mixed with 20,000 valid flows.
 * No crash (exit 0); every bad line in ignored-flows exactly once, at its line, with a reason;
 * and the valid lines scored exactly as a run of them alone scores them: the same scored,
 * detail, scan-candidate and discard records.
 */

const VALID_FLOWS = 20_000;
const VALID_SEED = 20_261_213;
const BAD_LINES = 100_000;
const CORPUS_SEED = 13;
const RUN_TIMEOUT_MS = 180_000;
const OUTPUTS = ['scored-flows', 'scored-flows-detail', 'scan-candidates', 'ignored-flows'] as const;

interface RunOutputs {
  readonly code: number | null;
  readonly stderr: string;
  /** Each output's lines, sorted, with ignored-flows split into its parse-stage records and the rest. */
  readonly records: Record<string, string[]>;
  readonly refused: ReadonlyArray<{ reason: string; origin: string }>;
}

async function runOn(input: string, dataDir: string, out: string): Promise<RunOutputs> {
  const result = await runCli(
    'themis-topology',
    ['submit', '2', '2', '5000', '0', 'fuzz', '--input', input, '--output-dir', out, '--data-dir', dataDir, '--workers', '2', '--no-metrics-port'],
    { timeoutMs: RUN_TIMEOUT_MS },
  );
  const records: Record<string, string[]> = {};
  const refused: Array<{ reason: string; origin: string }> = [];
  for (const name of OUTPUTS) {
    const lines = readFileSync(join(out, `${name}.jsonl`), 'utf8').split('\n').filter((l) => l.length > 0);
    if (name !== 'ignored-flows') {
      records[name] = lines.sort();
      continue;
    }
    const kept: string[] = [];
    for (const l of lines) {
      if (l.startsWith('{"type":"ignored_flow","stage":"parse"')) refused.push(JSON.parse(l) as { reason: string; origin: string });
      else kept.push(l);
    }
    records[name] = kept.sort();
  }
  return { code: result.code, stderr: result.stderr, records, refused };
}

describe('a fuzz corpus of 100,000 bad lines and a 5 MB line among valid flows, from a file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'themis-fuzz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0, sends each bad line to ignored-flows once with a reason, and scores the valid lines as it does alone', async () => {
    const inputs = await cachedFlowInputs(VALID_FLOWS, VALID_SEED);
    const corpus = writeFuzzCorpus(join(dir, 'corpus.jsonl'), inputs.flowsFile, { seed: CORPUS_SEED, badCount: BAD_LINES });
    console.log(`fuzz corpus: ${corpus.badLines.size} bad lines ${JSON.stringify(corpus.byKind)}, ${corpus.validLines} valid, ${(corpus.bytes / 1e6).toFixed(1)} MB`);
    expect(corpus.badLines.size).toBeGreaterThanOrEqual(BAD_LINES);
    for (const kind of BAD_KINDS) expect(corpus.byKind[kind], `bad lines of kind ${kind}`).toBeGreaterThan(0);

    // The corpus itself: each line as the file spout hands it over (its CR dropped) is refused by the parser when bad, taken when valid.
    const lines = readFileSync(corpus.path).toString('utf8').split('\n');
    const misjudged: string[] = [];
    lines.forEach((raw, i) => {
      if (raw.length === 0) return;
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      const isBad = corpus.badLines.has(i + 1);
      let verdict: string;
      try {
        verdict = parseFlowLine(line, 0).ok ? 'taken' : 'refused';
      } catch (err) {
        verdict = `a throw (${(err as Error).message})`;
      }
      if (verdict !== (isBad ? 'refused' : 'taken')) misjudged.push(`line ${i + 1} (${corpus.badLines.get(i + 1) ?? 'valid'}) met ${verdict}: ${line.slice(0, 120)}`);
    });
    expect(misjudged.slice(0, 10), `${misjudged.length} corpus lines not what they claim to be`).toEqual([]);

    const startedAt = Date.now();
    const mixed = await runOn(corpus.path, inputs.dataDir, join(dir, 'mixed'));
    const mixedMs = Date.now() - startedAt;
    expect(mixed.code, mixed.stderr.slice(-3000)).toBe(0);
    const alone = await runOn(inputs.flowsFile, inputs.dataDir, join(dir, 'alone'));
    expect(alone.code, alone.stderr.slice(-3000)).toBe(0);

    // Every bad line once, at its own line, with a reason; nothing else refused.
    const refusedAt = new Map<number, number>();
    const withoutReason: string[] = [];
    for (const r of mixed.refused) {
      const lineNo = Number(r.origin.slice(r.origin.lastIndexOf(':') + 1));
      refusedAt.set(lineNo, (refusedAt.get(lineNo) ?? 0) + 1);
      if (typeof r.reason !== 'string' || r.reason.trim().length === 0) withoutReason.push(r.origin);
    }
    const missing: Array<[number, BadKind]> = [...corpus.badLines].filter(([no]) => !refusedAt.has(no));
    const twice = [...refusedAt].filter(([, n]) => n > 1).map(([no]) => no);
    const validRefused = [...refusedAt.keys()].filter((no) => !corpus.badLines.has(no));
    console.log(`fuzz run: ${mixed.refused.length} refused records for ${corpus.badLines.size} bad lines in ${mixedMs} ms; valid alone: ${alone.records['scored-flows']!.length} scored records`);
    expect({ missing: missing.slice(0, 10), twice: twice.slice(0, 10), validRefused: validRefused.slice(0, 10), withoutReason: withoutReason.slice(0, 10) }).toEqual({
      missing: [],
      twice: [],
      validRefused: [],
      withoutReason: [],
    });
    expect(alone.refused).toEqual([]);

    // The valid lines, scored as alone: every output record for record.
    for (const name of OUTPUTS) {
      const got = mixed.records[name]!;
      const want = alone.records[name]!;
      expect(got.length, `${name} records`).toBe(want.length);
      const differing = got.filter((line, i) => line !== want[i]);
      expect(differing.slice(0, 3), `${name}: ${differing.length} records differ from the run of the valid lines alone`).toEqual([]);
    }
  }, 420_000);
});
