import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import type { ExpectedIgnored, ExpectedScan, ExpectedScored } from '../helpers/sample-expectations.js';

/**
 * The embedded default end to end: `themis-topology submit` on the shipped sample flows, no
 * services, file outputs. Every expectation comes from test/fixtures/sample-flows-expected.json,
 * worked out by hand from the rules and the sample universe (see data_sources/sample-flows.md).
 */
interface Expected {
  scored: ExpectedScored[];
  ignored: ExpectedIgnored[];
  scanCandidates: ExpectedScan[];
}

const root = new URL('../..', import.meta.url).pathname;
const expected = JSON.parse(readFileSync(join(root, 'test/fixtures/sample-flows-expected.json'), 'utf8')) as Expected;
const inputLines = readFileSync(join(root, 'data_sources/sample-flows.jsonl'), 'utf8').split('\n');

type Row = Record<string, unknown>;
const readJsonl = (path: string): Row[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Row);

let out: string;
let result: CliResult;
let scored: Row[];
let details: Row[];
let scans: Row[];
let ignored: Row[];

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'themis-e2e-'));
  result = await runCli('themis-topology', ['submit', '2', '2', '1000', '1', 'e2e', '--output-dir', out, '--no-metrics-port', '--workers', '2'], { timeoutMs: 90_000 });
  scored = readJsonl(join(out, 'scored-flows.jsonl'));
  details = readJsonl(join(out, 'scored-flows-detail.jsonl'));
  scans = readJsonl(join(out, 'scan-candidates.jsonl'));
  ignored = readJsonl(join(out, 'ignored-flows.jsonl'));
}, 120_000);

describe('themis-topology submit on the sample flows (embedded default)', () => {
  it('exits 0 once the input is consumed and prints a summary', () => {
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/themis: done in [\d.]+ s: \d+ lines/);
  });

  it('writes one scored record per conversation or lone flow, with the expected ids', () => {
    expect(scored.map((s) => s.flow_id).sort()).toEqual(expected.scored.map((s) => s.flow_id).sort());
  });

  it.each(expected.scored.map((e) => [e.flow_id, e] as const))('scores flow %i with exactly the expected tags, totals and orientation', (_id, e) => {
    const s = scored.find((r) => r.flow_id === e.flow_id)!;
    expect(s).toBeDefined();
    expect({
      pair_flow_id: s.pair_flow_id,
      matched: s.matched,
      flow_direction: s.flow_direction,
      initiator: s.initiator,
      protocol: s.protocol,
      src_ip: s.src_ip,
      dst_ip: s.dst_ip,
      src_port: s.src_port,
      dst_port: s.dst_port,
      packets_sent: s.packets_sent,
      bytes_sent: s.bytes_sent,
      packets_recv: s.packets_recv,
      bytes_recv: s.bytes_recv,
      goodness: s.goodness,
      badness: s.badness,
    }).toEqual({
      pair_flow_id: e.pair_flow_id,
      matched: e.matched,
      flow_direction: e.flow_direction,
      initiator: e.initiator,
      protocol: e.protocol,
      src_ip: e.src_ip,
      dst_ip: e.dst_ip,
      src_port: e.src_port,
      dst_port: e.dst_port,
      packets_sent: e.packets_sent,
      bytes_sent: e.bytes_sent,
      packets_recv: e.packets_recv,
      bytes_recv: e.bytes_recv,
      goodness: e.goodness,
      badness: e.badness,
    });
    expect([...(s.tags as string[])].sort()).toEqual(e.tags.map((t) => t.tag).sort());
    // One detail record per tag, with the tag's polarity and score.
    const mine = details
      .filter((d) => d.flow_id === e.flow_id)
      .map((d) => (d.bad_score_tag !== null ? { tag: d.bad_score_tag, polarity: 'bad', score: d.bad_score } : { tag: d.good_score_tag, polarity: 'good', score: d.good_score }));
    const byTag = (a: { tag: unknown }, b: { tag: unknown }) => String(a.tag).localeCompare(String(b.tag));
    expect(mine.sort(byTag)).toEqual([...e.tags].sort(byTag));
    // Totals are the sums of the tag set.
    expect(s.goodness).toBe(e.tags.filter((t) => t.polarity === 'good').reduce((n, t) => n + t.score, 0));
    expect(s.badness).toBe(e.tags.filter((t) => t.polarity === 'bad').reduce((n, t) => n + t.score, 0));
  });

  it('sends every invalid line and every discarded flow to ignored-flows with its reason', () => {
    expect(ignored).toHaveLength(expected.ignored.length);
    for (const e of expected.ignored) {
      const r =
        e.stage === 'discard'
          ? ignored.find((x) => x.stage === 'discard' && x.flow_id === e.flow_id)
          : ignored.find((x) => x.stage === 'parse' && x.line === inputLines[e.line! - 1]);
      expect(r, `ignored record for ${JSON.stringify(e)}`).toBeDefined();
      if (e.reason !== undefined) expect(r!.reason).toBe(e.reason);
      if (e.reasonPattern !== undefined) expect(r!.reason).toMatch(new RegExp(e.reasonPattern));
      if (e.stage === 'discard' && e.flow_direction !== undefined) expect(r!.flow_direction).toBe(e.flow_direction);
    }
  });

  it('writes the three scan-candidate records of every candidate, scanner on the left', () => {
    expect(scans).toHaveLength(expected.scanCandidates.reduce((n, e) => n + e.records.length, 0));
    for (const e of expected.scanCandidates) {
      const mine = scans.filter((r) => r.id === e.flow_id);
      expect(mine.map((r) => ({ type: r.type, key: r.key })).sort((a, b) => String(a.type).localeCompare(String(b.type)))).toEqual(
        [...e.records].sort((a, b) => a.type.localeCompare(b.type)),
      );
      for (const r of mine) {
        expect({ src_ip: r.src_ip, dst_ip: r.dst_ip, dst_port: r.dst_port, packets_sent: r.packets_sent }).toEqual({
          src_ip: e.scanner,
          dst_ip: e.target,
          dst_port: e.port,
          packets_sent: e.packets_sent,
        });
      }
    }
  });
});

describe('themis-topology submit on the sample flows, deployed so that flows cross threads', () => {
  it('scores every flow with the same tags when the branches reach the join from another thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'themis-e2e-cross-'));
    // One join task and one scoring task per test: copies from both threads' splitters meet on one
    // thread, through the flow codec, with each branch's tags beside the shared flow.
    const single = Object.fromEntries(['join-streams', 'score-dark-ip', 'score-syn-only', 'score-udp-hosted-service'].map((id) => [id, { executors: 1, tasks: 1 }]));
    const file = join(dir, 'parallelism.json');
    writeFileSync(file, JSON.stringify(single));
    const cross = await runCli('themis-topology', ['submit', '2', '2', '1000', '1', 'e2e-cross', '--output-dir', join(dir, 'out'), '--parallelism', file, '--no-metrics-port', '--workers', '2'], {
      timeoutMs: 90_000,
    });
    expect(cross.code, cross.stderr).toBe(0);
    const got = readJsonl(join(dir, 'out', 'scored-flows.jsonl'));
    const byId = (rows: Row[]) => Object.fromEntries(rows.map((r) => [r.flow_id, { tags: [...(r.tags as string[])].sort(), goodness: r.goodness, badness: r.badness }]));
    expect(byId(got)).toEqual(byId(scored));
    expect(got).toHaveLength(expected.scored.length);
  }, 120_000);
});
