/**
 * The whole Themis topology, file to file (and, with --kafka, Kafka topic to Kafka topics), on a
 * realistic generated flow mix with realistic-size block lists, against the same rules called in
 * one plain loop on one thread. Prints a table and writes bench/results/themis.json.
 *
 *   npm run bench:themis [-- --flows 1000000 --offered 20000 --latency-flows 300000 --kafka 127.0.0.1:9092 --worker-heap-mb 1024 --config FILE]
 *
 * `--config FILE`: the topology's config for every run, as `themis-topology --config` takes it
 * (deploy/profiles/evidence-first.json: the evidence stage on); the plain loop stays the rules alone.
 *
 * Runs:
 *   plain loop:         before and after the file max-rate run; the baseline is their mean.
 *   side by side:       the plain loop run on as many worker threads as the topology's, a whole
 *                       copy on each, all at once, nothing shared: what this machine's cores give
 *                       the same work with no engine, the ceiling of any topology on them. The
 *                       efficiency target assumes that ceiling is threads x plain loop.
 *   file, max rate:     the whole file as fast as it goes; flows/s, latency, peak RSS.
 *   file, 20,000/s:     the spout offers 20,000 flows/s; latency p50/p99 of the record that
 *                       completes a conversation, from its arrival to its output write, in the
 *                       steady state: the first --warmup seconds (default 3: JIT and the data
 *                       sources' first use, while the spout already offers the full rate) are
 *                       left out of p50/p99 and reported with the rest as p99WholeRunMs.
 *   kafka (--kafka):    produced to a fresh topic first, then consumed to the end (lib/kafka-bench).
 *   page (--page-rounds N): the file max-rate run 2N times more, with /metrics served, the live
 *                       page closed and open in a headless Chromium alternately (lib/page-cost):
 *                       each side's flows/s and their difference (issue 16: at most 3 %).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ThemisArgs } from '../bolts/components/themis-args.js';
import { defaultConfig, validateConfig } from '../bolts/themis-config.js';
import { DEFAULT_WORKER_HEAP_MB, type FlowInput } from '../topology/run-themis.js';
import { prepareBenchInput } from './lib/bench-data.js';
import { writeFlowsFile } from './lib/flow-generator.js';
import { runPlainLoop } from './lib/plain-loop.js';
import { runPlainLoopsSideBySide } from './lib/plain-loop-parallel.js';
import { benchArgs, printTable, resultsFile, writeResults } from './lib/report.js';
import { runKafkaBench } from './lib/kafka-bench.js';
import type { ThemisRun } from './lib/measure.js';
import { runThemisFile } from './lib/file-run.js';
import { measurePageCost, STEADY_AFTER_SECS, type PageCost, type PageHook } from './lib/page-cost.js';

const argv = benchArgs();
const flows = Number(argv.get('flows') ?? 1_000_000);
const offered = Number(argv.get('offered') ?? 20_000);
const latencyFlows = Number(argv.get('latency-flows') ?? 300_000);
const workers = Number(argv.get('workers') ?? 2);
const kafka = argv.get('kafka');
const warmupSecs = Number(argv.get('warmup') ?? 3);
/** Old-generation cap per worker thread, MB (the CLI's --worker-heap-mb); unset: the CLI's default, DEFAULT_WORKER_HEAP_MB; 0: V8's own limit. */
const workerHeapMb = argv.has('worker-heap-mb') ? Number(argv.get('worker-heap-mb')) : undefined;
/** `--only page`: the page comparison alone (default 3 rounds), written to bench/results/themis-page.json. */
const only = argv.get('only');
const configFile = argv.get('config');
const config = (() => {
  if (configFile === undefined) return defaultConfig();
  const validated = validateConfig(JSON.parse(readFileSync(resolve(configFile), 'utf8')));
  if ('errors' in validated) throw new Error(`--config ${configFile}: ${validated.errors.join('; ')}`);
  return validated.config;
})();
if (only !== undefined && only !== 'page') throw new Error(`--only (${only}) must be page, or left out for every run`);
const pageRounds = Number(argv.get('page-rounds') ?? (only === 'page' ? 3 : 0));
if (!Number.isInteger(pageRounds) || pageRounds < 0 || (only === 'page' && pageRounds < 1)) {
  throw new Error(`--page-rounds (${argv.get('page-rounds')}) must be a whole number of rounds: 0 for none, at least 1 with --only page`);
}

function runFile(args: ThemisArgs, input: FlowInput & { kind: 'file' }, count: number, plain: number, page?: PageHook): Promise<ThemisRun & { pageUpdates: number }> {
  return runThemisFile({ args, input, count, workers, ...(workerHeapMb !== undefined ? { workerHeapMb } : {}), warmupSecs, plainLoopFlowsPerSec: plain, ...(page ? { page } : {}) });
}

/** The same run as the first (file, max rate) with the page closed and open, `pageRounds` rounds. */
async function runPageCost(args: (out: string) => ThemisArgs, inputPath: string, plain: number): Promise<PageCost> {
  let n = 0;
  const run = (hook: PageHook) =>
    runThemisFile({
      args: args(`out-page-${n++}`),
      input: { kind: 'file', path: inputPath, maxRetries: 5 },
      count: flows,
      workers,
      ...(workerHeapMb !== undefined ? { workerHeapMb } : {}),
      warmupSecs,
      plainLoopFlowsPerSec: plain,
      page: hook,
      steadyAfterSecs: STEADY_AFTER_SECS,
    });
  return measurePageCost(pageRounds, run, (line) => console.error(line));
}

const work = mkdtempSync(join(tmpdir(), 'themis-bench-'));
try {
  const { dataDir, inputPath } = await prepareBenchInput(work, flows);
  const args = (out: string): ThemisArgs => ({ config, dataDir, outputDir: join(work, out), instance: 'bench', services: {} });
  if (only === 'page') {
    const pageCost = await runPageCost(args, inputPath, 0);
    printPageCost(pageCost);
    const { runs: pageRuns, ...summary } = pageCost;
    writeResults(resultsFile('themis-page.json'), [...pageRuns], { flows, workers, workerHeapMb: workerHeapMb ?? DEFAULT_WORKER_HEAP_MB, pageCost: summary });
  } else {
    const latencyPath = join(work, 'flows-latency.jsonl');
    writeFlowsFile(latencyPath, { count: latencyFlows, seed: 7 });
    await allRuns(args, dataDir, inputPath, latencyPath);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

function printPageCost(cost: PageCost): void {
  console.log('');
  printTable(cost.runs as unknown as Array<Record<string, unknown>>);
  console.log(
    `\nlive page: ${cost.openMeanFlowsPerSec.toLocaleString('en-US')} flows/s open against ${cost.closedMeanFlowsPerSec.toLocaleString('en-US')} closed ` +
      `(mean of ${cost.rounds} runs each, file to file on ${workers} threads): ${cost.differencePct > 0 ? '+' : ''}${cost.differencePct} % over the whole run, its load included; ` +
      `from ${STEADY_AFTER_SECS} s on, the page loaded: ${cost.openSteadyMeanFlowsPerSec.toLocaleString('en-US')} against ${cost.closedSteadyMeanFlowsPerSec.toLocaleString('en-US')}, ` +
      `${cost.steadyDifferencePct > 0 ? '+' : ''}${cost.steadyDifferencePct} % (target: within 3 %)`,
  );
}

async function allRuns(args: (out: string) => ThemisArgs, dataDir: string, inputPath: string, latencyPath: string): Promise<void> {
  console.error('bench: plain loop (one thread, same rules, no engine)');
  await runPlainLoop(args('warm'), latencyPath); // warm-up
  const plainBefore = await runPlainLoop(args('plain'), inputPath);
  console.error(`bench: plain loop ${plainBefore.flowsPerSec.toLocaleString('en-US')} flows/s`);

  const runs: ThemisRun[] = [];
  console.error('bench: topology, file to file, max rate');
  const { pageUpdates: _fileRunPage, ...fileRun } = await runFile(args('out-max'), { kind: 'file', path: inputPath, maxRetries: 5 }, flows, 0);
  // The plain loop again, right after: a shared VM's speed drifts over minutes, so the baseline is
  // the mean of the runs either side of the topology's, and both are reported.
  const plainAfter = await runPlainLoop(args('plain-after'), inputPath);
  console.error(`bench: plain loop again ${plainAfter.flowsPerSec.toLocaleString('en-US')} flows/s`);
  const plain = { flowsPerSec: Math.round((plainBefore.flowsPerSec + plainAfter.flowsPerSec) / 2) };
  console.error(`bench: the plain loop on ${workers} threads side by side`);
  const sideBySide = await runPlainLoopsSideBySide(workers, (i) => args(`side-${i}`), inputPath);
  console.error(`bench: side by side ${sideBySide.flowsPerSec.toLocaleString('en-US')} flows/s (${sideBySide.perThreadFlowsPerSec.map((r) => r.toLocaleString('en-US')).join(' + ')})`);
  runs.push({ ...fileRun, plainLoopFlowsPerSec: plain.flowsPerSec });
  console.error(`bench: topology, file to file, ${offered.toLocaleString('en-US')} flows/s offered`);
  const { pageUpdates: _rateRunPage, ...rateRun } = await runFile(args('out-rate'), { kind: 'file', path: latencyPath, maxRetries: 5, ratePerSec: offered }, latencyFlows, plain.flowsPerSec);
  runs.push(rateRun);
  if (kafka) {
    console.error('bench: topology, Kafka topic to Kafka topics');
    runs.push(await runKafkaBench({ brokers: kafka.split(','), dataDir, inputPath, flows, workers, plainLoopFlowsPerSec: plain.flowsPerSec, config, ...(workerHeapMb !== undefined ? { workerHeapMb } : {}) }));
  }
  printTable(runs as unknown as Array<Record<string, unknown>>);
  const best = runs[0]!;
  console.log(
    `\nfile to file: ${best.flowsPerSec.toLocaleString('en-US')} flows/s on ${workers} threads (target 100,000); ` +
      `engine efficiency ${(best.flowsPerSec / (workers * plain.flowsPerSec)).toFixed(2)} of ${workers} x plain loop (target 0.8; plain loop ${plainBefore.flowsPerSec.toLocaleString('en-US')} before and ${plainAfter.flowsPerSec.toLocaleString('en-US')} after the topology run); ` +
      `${(best.flowsPerSec / sideBySide.flowsPerSec).toFixed(2)} of the plain loop on ${workers} threads side by side (${sideBySide.flowsPerSec.toLocaleString('en-US')} flows/s, ${(sideBySide.flowsPerSec / (workers * plain.flowsPerSec)).toFixed(2)} of ${workers} x plain loop); ` +
      `p99 at ${offered.toLocaleString('en-US')}/s offered: ${runs[1]!.p99Ms} ms after a ${warmupSecs} s warm-up, ${runs[1]!.p99WholeRunMs} ms over the whole run (target 50)`,
  );
  let pageCost: PageCost | undefined;
  if (pageRounds > 0) {
    console.error(`bench: the live page's cost, ${pageRounds} rounds of file to file with the page closed and open`);
    pageCost = await runPageCost(args, inputPath, plain.flowsPerSec);
    printPageCost(pageCost);
  }
  writeResults(resultsFile('themis.json'), runs, {
    config: configFile ?? null,
    flows,
    offered,
    latencyFlows,
    warmupSecs,
    workerHeapMb: workerHeapMb ?? DEFAULT_WORKER_HEAP_MB,
    plainLoopRunsFlowsPerSec: [plainBefore.flowsPerSec, plainAfter.flowsPerSec],
    sideBySide,
    ...(pageCost ? { pageCost } : {}),
  });
}
