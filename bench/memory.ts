/**
 * Resident memory of the Themis topology over a long file-to-file run: is it bounded, and flat?
 * Prints a table and writes bench/results/memory.json.
 *
 *   npm run bench:memory [-- --flows 10000000 --max-pending 20000 --worker-heap-mb 1024 --config FILE]
 *
 * `--config` is passed to the CLI: deploy/profiles/evidence-first.json measures the evidence stage.
 *
 * Without --worker-heap-mb the CLI's default cap applies (DEFAULT_WORKER_HEAP_MB); 0 is V8's own limit.
 *
 * The flows are generated to a temporary file first (about 230 bytes a flow), then
 * `themis-topology submit` runs on it in a process of its own; that process's RSS (main thread and
 * workers together) is sampled every second. The result gives the peak, and the mean of each fifth
 * of the run, so growth shows as a rising series. Flows/s includes start-up and the final drain.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareBenchInput } from './lib/bench-data.js';
import { benchArgs, printTable, resultsFile, writeResults } from './lib/report.js';
import { DEFAULT_WORKER_HEAP_MB } from '../topology/run-themis.js';

const argv = benchArgs();
const flows = Number(argv.get('flows') ?? 10_000_000);
const maxPending = Number(argv.get('max-pending') ?? 20_000);
const workers = Number(argv.get('workers') ?? 2);
const workerHeapMb = argv.has('worker-heap-mb') ? Number(argv.get('worker-heap-mb')) : undefined;

const work = mkdtempSync(join(tmpdir(), 'themis-memory-'));
try {
  const { dataDir, inputPath } = await prepareBenchInput(work, flows);

  // The topology runs as the operator runs it, in its own process (the CLI), so that the
  // generator's garbage in this one does not count; its resident size is read from /proc.
  const out = join(work, 'out');
  const cli = fileURLToPath(new URL('../bin/themis-topology.js', import.meta.url));
  const args = ['submit', String(workers), String(workers), String(maxPending), '0', 'memory', '--workers', String(workers)];
  args.push('--input', inputPath, '--data-dir', dataDir, '--output-dir', out, '--no-metrics-port', '--quiet');
  if (workerHeapMb !== undefined) args.push('--worker-heap-mb', String(workerHeapMb));
  if (argv.has('config')) args.push('--config', resolve(argv.get('config')!));
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  const samples: number[] = [];
  const sampler = setInterval(() => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) samples.push(Math.round(Number(m[1]) / 1024));
    } catch {
      // the child has just exited
    }
  }, 1000);
  // The output files would take several GB: they are truncated as the run goes (the sink appends
  // with O_APPEND, so it writes on at the new end).
  const truncate = setInterval(() => {
    if (existsSync(out)) for (const f of readdirSync(out)) truncateSync(join(out, f), 0);
  }, 5_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const secs = (performance.now() - t0) / 1000;
  clearInterval(truncate);
  clearInterval(sampler);
  if (code !== 0) throw new Error(`themis-topology exited with ${code}`);

  const fifth = (k: number) => {
    const part = samples.slice(Math.floor((k * samples.length) / 5), Math.floor(((k + 1) * samples.length) / 5));
    return part.length === 0 ? null : Math.round(part.reduce((a, b) => a + b, 0) / part.length);
  };
  const result = {
    flows,
    maxPending,
    workers,
    workerHeapMb: workerHeapMb ?? DEFAULT_WORKER_HEAP_MB,
    flowsPerSec: Math.round(flows / secs),
    peakRssMb: Math.max(...samples),
    rssMbByFifth: [0, 1, 2, 3, 4].map(fifth),
  };
  printTable([{ ...result, rssMbByFifth: result.rssMbByFifth.join(' / ') }]);
  writeResults(resultsFile('memory.json'), [{ ...result, rssMbEverySecond: samples }]);
} finally {
  rmSync(work, { recursive: true, force: true });
}
