import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMmdbFromCsvFile } from '../../data_sources/tools/network-csv.js';
import { runCli } from '../helpers/cli.js';

// The lab of issue 14 (test/fixtures/lab/README.md): real nmap, sshd + sshpass and curl traffic
// between network namespaces, exported by softflowd, collected by nfcapd, printed by nfdump and
// labelled from the tools' own logs by scripts/lab/make-lab-traffic.sh. Here the current rules
// score it (embedded mode, empty suspect-country list as shipped), and the exact outcome per label
// is the baseline the evidence stage is to improve on. Needs no root and no network tool: only the
// committed fixture.

const root = fileURLToPath(new URL('../..', import.meta.url));
const lab = join(root, 'test/fixtures/lab');
const ATTACKS = ['port-scan', 'address-scan', 'slow-scan', 'password-guessing'];
const BENIGN = ['good-login', 'benign-web'];

interface FlowLabel {
  id: number;
  label: string;
  source_ip: string | null;
  tool: string | null;
}
interface ScoredFlow {
  flow_id: number;
  pair_flow_id: number | null;
  badness: number;
  goodness: number;
  tags: string[];
}
interface IgnoredFlow {
  flow_id: number | null;
  reason: string;
}
interface LabelSummary {
  flows: number;
  conversations: number;
  ignored: Record<string, number>;
  /** Conversations carrying each tag; `(none)` counts those with no tag. */
  tags: Record<string, number>;
  badness: { min: number; max: number };
}

const readLines = <T>(file: string): T[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as T);

let dir: string;
let labels: FlowLabel[];
let scored: ScoredFlow[];
let ignored: IgnoredFlow[];
let labelOf: Map<number, string>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'themis-lab-'));
  // The shipped data sources, but with the lab's two networks as "ours" (AS64500) and outside
  // (AS64511), and the server's addresses as active hosts; otherwise every flow is discarded as
  // of unknown direction.
  const data = join(dir, 'data');
  cpSync(join(root, 'data_sources'), data, { recursive: true });
  for (const [csv, out] of [['lab-asn.csv', 'GeoIPASNum.dat'], ['lab-active-hosts.csv', 'active_hosts.dat']] as const) {
    const built = buildMmdbFromCsvFile(join(lab, csv), join(data, out), { buildEpochSecs: 0 });
    if (!built.ok) throw new Error(`building ${out} from ${csv}: ${built.errors.join('; ')}`);
  }
  const out = join(dir, 'out');
  const run = await runCli(
    'themis-topology',
    ['submit', '1', '1', '20000', '0', 'lab', '--input', join(lab, 'flows.jsonl'), '--output-dir', out, '--data-dir', data, '--workers', '1', '--no-metrics-port', '--quiet'],
    { timeoutMs: 120_000 },
  );
  if (run.code !== 0) throw new Error(`themis-topology exited ${run.code}: ${run.stderr.slice(-2000)}`);
  labels = (JSON.parse(readFileSync(join(lab, 'labels.json'), 'utf8')) as { flows: FlowLabel[] }).flows;
  labelOf = new Map(labels.map((l) => [l.id, l.label]));
  scored = readLines<ScoredFlow>(join(out, 'scored-flows.jsonl'));
  ignored = readLines<IgnoredFlow>(join(out, 'ignored-flows.jsonl'));
}, 180_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** A conversation's label: that of its flow, and its pair's must agree. */
function conversationLabel(record: ScoredFlow): string {
  const label = labelOf.get(record.flow_id);
  const pair = record.pair_flow_id === null ? label : labelOf.get(record.pair_flow_id);
  if (label === undefined || label !== pair) throw new Error(`flow ${record.flow_id} (${label}) paired with ${record.pair_flow_id} (${pair})`);
  return label;
}

function summarise(): Record<string, LabelSummary> {
  const summary: Record<string, LabelSummary> = {};
  const entry = (label: string): LabelSummary =>
    (summary[label] ??= { flows: 0, conversations: 0, ignored: {}, tags: {}, badness: { min: Infinity, max: -Infinity } });
  for (const l of labels) entry(l.label).flows++;
  for (const record of scored) {
    const s = entry(conversationLabel(record));
    s.conversations++;
    for (const tag of record.tags.length === 0 ? ['(none)'] : record.tags) s.tags[tag] = (s.tags[tag] ?? 0) + 1;
    s.badness.min = Math.min(s.badness.min, record.badness);
    s.badness.max = Math.max(s.badness.max, record.badness);
  }
  for (const record of ignored) {
    const s = entry(labelOf.get(record.flow_id ?? -1) ?? 'not in the fixture');
    s.ignored[record.reason] = (s.ignored[record.reason] ?? 0) + 1;
  }
  return summary;
}

describe('the lab fixture (issue 14) under the current per-flow rules', () => {
  it('labels every flow of the fixture from the tools logs, none unlabelled', () => {
    const counts: Record<string, number> = {};
    for (const l of labels) counts[l.label] = (counts[l.label] ?? 0) + 1;
    expect(counts).toEqual(EXPECTED_FLOWS_PER_LABEL);
    expect(labels.filter((l) => l.label !== 'unlabelled' && (l.source_ip === null || l.tool === null))).toEqual([]);
  });

  it('scores or ignores (with a reason) every flow exactly once, and pairs only flows of one label', () => {
    const seen = new Map<number, number>();
    const count = (id: number | null) => id !== null && seen.set(id, (seen.get(id) ?? 0) + 1);
    for (const record of scored) {
      count(record.flow_id);
      count(record.pair_flow_id);
      conversationLabel(record);
    }
    for (const record of ignored) {
      expect(record.reason.length).toBeGreaterThan(0);
      count(record.flow_id);
    }
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(labels.map((l) => l.id).sort((a, b) => a - b));
    expect([...seen.values()].filter((n) => n !== 1)).toEqual([]);
  });

  it('gives each label the tags, scores and ignore reasons of the baseline', () => {
    const summary = summarise();
    expect(summary, `per-label summary: ${JSON.stringify(summary)}`).toEqual(EXPECTED_SUMMARY);
  });

  it('ranks attack conversations by badness against benign ones as the baseline does', () => {
    const badness = (labels: string[]) => scored.filter((r) => labels.includes(conversationLabel(r))).map((r) => r.badness);
    const topBenign = Math.max(...badness(BENIGN));
    const attacks = badness(ATTACKS);
    const below = attacks.filter((b) => b < topBenign).length;
    expect({ topBenign, attacks: attacks.length, attacksBelowTopBenign: below }, 'attack conversations ranked below the worst benign one').toEqual(EXPECTED_RANKING);
  });
});

// The fixture is committed, so these are exact. Remaking it (scripts/lab/make-lab-traffic.sh)
// changes them; the evidence stage changes EXPECTED_SUMMARY's tags and EXPECTED_RANKING.
const EXPECTED_FLOWS_PER_LABEL = {
  'port-scan': 1000,
  'address-scan': 60,
  'slow-scan': 30,
  'password-guessing': 80,
  'good-login': 10,
  'benign-web': 32,
};

// The baseline of issue 14: every GET but the 200 kB one is BRUTE_FORCE-HTTP (90), every SSH login
// is BRUTE_FORCE-SSH like every guess, a probe answered by RST is POSSIBLE_SCAN-SYN_ONLY (60), a
// probe answered by SYN-ACK (the horizontal scan of port 22, the open ports 22 and 80) gets no tag
// at all, and the probes to port 23 are discarded as honeypot traffic.
const EXPECTED_SUMMARY = {
  'port-scan': {
    flows: 1000,
    conversations: 499,
    ignored: { 'honeypot port 23': 2 },
    tags: { 'POSSIBLE_SCAN-SYN_ONLY': 497, '(none)': 2 },
    badness: { min: 0, max: 60 },
  },
  'address-scan': { flows: 60, conversations: 30, ignored: {}, tags: { '(none)': 30 }, badness: { min: 0, max: 0 } },
  'slow-scan': {
    flows: 30,
    conversations: 14,
    ignored: { 'honeypot port 23': 2 },
    tags: { 'POSSIBLE_SCAN-SYN_ONLY': 12, '(none)': 2 },
    badness: { min: 0, max: 60 },
  },
  'password-guessing': { flows: 80, conversations: 40, ignored: {}, tags: { 'BRUTE_FORCE-SSH': 40 }, badness: { min: 90, max: 90 } },
  'good-login': { flows: 10, conversations: 5, ignored: {}, tags: { 'BRUTE_FORCE-SSH': 5 }, badness: { min: 90, max: 90 } },
  'benign-web': { flows: 32, conversations: 16, ignored: {}, tags: { 'BRUTE_FORCE-HTTP': 15, '(none)': 1 }, badness: { min: 0, max: 90 } },
};

// 543 of the 583 attack conversations (every scan) rank below the worst benign ones (90); only the
// 40 guesses tie with them.
const EXPECTED_RANKING = { topBenign: 90, attacks: 583, attacksBelowTopBenign: 543 };
