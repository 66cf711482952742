/**
 * Resident memory of the Themis topology over a long file-to-file run: is it bounded, and flat?
 * Prints a table and writes bench/results/memory.json.
 *
 *   npm run bench:memory [-- --flows 10000000 --max-pending 20000 --worker-heap-mb 448]
 *
 * The flows are generated to a temporary file first (about 230 bytes a flow). The process's RSS
 * (main thread and workers together) is sampled every second while the topology runs; the result
 * gives the peak, and the mean of each fifth of the run, so growth shows as a rising series.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../bolts/themis-config.js';
import { startThemis } from '../topology/run-themis.js';
import { buildBenchData } from './lib/bench-data.js';
import { writeFlowsFile } from './lib/flow-generator.js';
import { printTable, writeResults } from './lib/report.js';

const argv = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) argv.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const flows = Number(argv.get('flows') ?? 10_000_000);
const maxPending = Number(argv.get('max-pending') ?? 20_000);
const workers = Number(argv.get('workers') ?? 2);
const workerHeapMb = argv.has('worker-heap-mb') ? Number(argv.get('worker-heap-mb')) : undefined;

const work = mkdtempSync(join(tmpdir(), 'themis-memory-'));
try {
  console.error(`bench: building realistic-size data sources in ${work}`);
  const dataDir = await buildBenchData(join(work, 'data'));
  const inputPath = join(work, 'flows.jsonl');
  console.error(`bench: generating ${flows.toLocaleString('en-US')} flows`);
  writeFlowsFile(inputPath, { count: flows, seed: 42 });

  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(Math.round(process.memoryUsage().rss / (1024 * 1024))), 1000);
  const run = await startThemis({
    submit: { executors: workers, tasks: workers, maxPending, extraMatch: 0, name: 'memory' },
    args: { config: defaultConfig(), dataDir, outputDir: join(work, 'out'), instance: 'memory', services: {} },
    input: { kind: 'file', path: inputPath, maxRetries: 5 },
    workers,
    ...(workerHeapMb !== undefined ? { workerHeapMb } : {}),
    metricsPort: null,
  });
  const t0 = performance.now();
  // The output files would take several GB: they are truncated as the run goes (the sink appends
  // with O_APPEND, so it writes on at the new end).
  const out = join(work, 'out');
  const truncate = setInterval(() => {
    if (existsSync(out)) for (const f of readdirSync(out)) truncateSync(join(out, f), 0);
  }, 5_000);
  await run.topology.waitUntilDone(5);
  const secs = (performance.now() - t0) / 1000;
  clearInterval(truncate);
  clearInterval(sampler);
  await run.stop();

  const fifth = (k: number) => {
    const part = samples.slice(Math.floor((k * samples.length) / 5), Math.floor(((k + 1) * samples.length) / 5));
    return part.length === 0 ? null : Math.round(part.reduce((a, b) => a + b, 0) / part.length);
  };
  const result = {
    flows,
    maxPending,
    workers,
    workerHeapMb: workerHeapMb ?? null,
    flowsPerSec: Math.round(flows / secs),
    peakRssMb: Math.max(...samples),
    rssMbByFifth: [0, 1, 2, 3, 4].map(fifth),
  };
  printTable([{ ...result, rssMbByFifth: result.rssMbByFifth.join(' / ') }]);
  writeResults(new URL('./results/memory.json', import.meta.url).pathname.replace('/dist/bench/', '/bench/'), [{ ...result, rssMbEverySecond: samples }]);
} finally {
  rmSync(work, { recursive: true, force: true });
}
