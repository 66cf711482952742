/**
 * The cost of the evidence stage (issue 14): the whole topology file to file, at max rate and at
 * 20,000 flows/s offered, with the stage off and on, alternately in one run (a shared VM's speed
 * drifts over minutes). Prints a table and writes bench/results/evidence.json.
 *
 *   npm run bench:evidence [-- --flows 1000000 --offered 20000 --latency-flows 300000 --rounds 2]
 *
 * The generated flows' event time runs at 1,000 flows a second, so at 20,000/s offered the
 * stage's event-time hold (300 s) passes in 15 s of wall time: a held conversation (a probe, a
 * failed contact or a short login-service connection from a source with no alert) waits about
 * that long unless an alert on its source releases it first. Its wait is on purpose, like that of
 * a flow released unmatched: p50/p99 are of the records that went at once, and `heldShare` and
 * `holdP99Ms` (themis_evidence_hold_seconds) say how many were held and for how long.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ThemisArgs } from '../bolts/components/themis-args.js';
import { EVIDENCE_HOLD } from '../bolts/components/evidence-bolt.js';
import { defaultConfig, validateConfig } from '../bolts/themis-config.js';
import { componentHistogram, type WorkerMetricsSnapshot } from '../runtime/index.js';
import { EVIDENCE } from '../topology/themis-topology.js';
import { prepareBenchInput } from './lib/bench-data.js';
import { runThemisFile } from './lib/file-run.js';
import { writeFlowsFile } from './lib/flow-generator.js';
import { latencyCounts, percentileOfCounts, type ThemisRun } from './lib/measure.js';
import { benchArgs, printTable, resultsFile, writeResults } from './lib/report.js';

const argv = benchArgs();
const flows = Number(argv.get('flows') ?? 1_000_000);
const offered = Number(argv.get('offered') ?? 20_000);
const latencyFlows = Number(argv.get('latency-flows') ?? 300_000);
const rounds = Number(argv.get('rounds') ?? 2);
const workers = Number(argv.get('workers') ?? 2);
const warmupSecs = Number(argv.get('warmup') ?? 3);

function config(evidence: boolean) {
  if (!evidence) return defaultConfig();
  const validated = validateConfig({ evidence: { enabled: true } });
  if ('errors' in validated) throw new Error(validated.errors.join('; '));
  return validated.config;
}

/** The share of scored records the evidence stage held, and the p99 of their hold. */
function holds(snapshots: ReadonlyArray<WorkerMetricsSnapshot | undefined>): Record<string, unknown> {
  const held = componentHistogram(snapshots, EVIDENCE, (t) => t.customHistograms[EVIDENCE_HOLD]).counts;
  const heldCount = held.reduce((a, b) => a + b, 0);
  const immediate = latencyCounts(snapshots).reduce((a, b) => a + b, 0);
  return { heldShare: heldCount + immediate === 0 ? 0 : Math.round((heldCount / (heldCount + immediate)) * 1000) / 1000, holdP99Ms: percentileOfCounts(held, 0.99) };
}

const work = mkdtempSync(join(tmpdir(), 'themis-bench-evidence-'));
try {
  const { dataDir, inputPath } = await prepareBenchInput(work, flows);
  const latencyPath = join(work, 'flows-latency.jsonl');
  writeFlowsFile(latencyPath, { count: latencyFlows, seed: 7 });
  const args = (evidence: boolean, out: string): ThemisArgs => ({ config: config(evidence), dataDir, outputDir: join(work, out), instance: 'bench', services: {} });
  const runs: Array<ThemisRun & { evidence: boolean; round: number }> = [];
  for (let round = 1; round <= rounds; round++) {
    for (const evidence of [false, true]) {
      const stage = evidence ? 'on' : 'off';
      console.error(`bench: round ${round}, evidence ${stage}: file to file, max rate`);
      const max = await runThemisFile({ args: args(evidence, `max-${stage}-${round}`), input: { kind: 'file', path: inputPath, maxRetries: 5 }, count: flows, workers, warmupSecs, plainLoopFlowsPerSec: 0, extra: holds });
      runs.push({ ...max, evidence, round });
      console.error(`bench: round ${round}, evidence ${stage}: ${offered.toLocaleString('en-US')} flows/s offered`);
      const rated = await runThemisFile({
        args: args(evidence, `rate-${stage}-${round}`),
        input: { kind: 'file', path: latencyPath, maxRetries: 5, ratePerSec: offered },
        count: latencyFlows,
        workers,
        warmupSecs,
        plainLoopFlowsPerSec: 0,
        extra: holds,
      });
      runs.push({ ...rated, evidence, round });
    }
  }
  printTable(runs as unknown as Array<Record<string, unknown>>);
  const mean = (evidence: boolean, rated: boolean, key: 'flowsPerSec' | 'p99Ms') => {
    const values = runs.filter((r) => r.evidence === evidence && (r.offeredPerSec !== null) === rated).map((r) => r[key] ?? NaN);
    return values.reduce((a, b) => a + b, 0) / values.length;
  };
  const off = mean(false, false, 'flowsPerSec');
  const on = mean(true, false, 'flowsPerSec');
  console.log(
    `\nfile to file, mean of ${rounds}: ${Math.round(off).toLocaleString('en-US')} flows/s with the evidence stage off, ${Math.round(on).toLocaleString('en-US')} on ` +
      `(${((1 - on / off) * 100).toFixed(1)} % slower; target 100,000); p99 at ${offered.toLocaleString('en-US')}/s offered: ${mean(false, true, 'p99Ms')} ms off, ${mean(true, true, 'p99Ms')} ms on (target 50)`,
  );
  writeResults(resultsFile('evidence.json'), runs, { flows, offered, latencyFlows, rounds, warmupSecs });
} finally {
  rmSync(work, { recursive: true, force: true });
}
