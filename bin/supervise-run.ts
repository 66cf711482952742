import { describeCollector } from '../spouts/collector/collector-metrics.js';
import type { FlowInput, Progress, ThemisRun } from '../topology/run-themis.js';
import type { StdinFifo } from './stdin-fifo.js';

/** Exit code of a run stopped by a signal before every flow it had read was finished. */
const EXIT_UNFINISHED = 3;

const PROGRESS_EVERY_MS = 2000;

interface SuperviseOptions {
  readonly input: FlowInput;
  /** Standard input's FIFO when the input is standard input. */
  readonly stdin: StdinFifo | null;
  /** When the run started (ms), for its rate. */
  readonly startedAtMs: number;
  /** How long the flows read may take to finish after a stop signal (the message timeout). */
  readonly stopTimeoutSecs: number;
  /** Printed after the summary of a finite run (where its outputs are), if any. */
  readonly outputsNote: string | null;
  readonly log: (message: string) => void;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function progressLine(p: Progress, prev: Progress | null, secs: number): string {
  const rate = prev ? (p.linesIn - prev.linesIn) / secs : 0;
  return `flows in ${fmt(p.linesIn)} (${fmt(rate)}/s), scored ${fmt(p.scored)}, discarded ${fmt(p.discarded)}, invalid ${fmt(p.invalid)}, failed ${fmt(p.failed)}, replayed ${fmt(p.replays)}`;
}

function summary(p: Progress, started: number, log: (m: string) => void, finished = Date.now()): void {
  const secs = (finished - started) / 1000;
  log(
    `themis: done in ${secs.toFixed(1)} s: ${fmt(p.linesIn)} lines (${fmt(p.linesIn / secs)}/s), ${fmt(p.invalid)} invalid, ${fmt(p.failed)} failed every retry, ` +
      `${fmt(p.discarded)} discarded, ${fmt(p.scored)} scored records, ${fmt(p.scanCandidateRecords)} scan-candidate records, ${fmt(p.replays)} replays (${fmt(p.timedOut)} timeouts)`,
  );
}

/** A Kafka topic read with no end, or exporters sending to the collector: it runs until a stop signal. */
function isEndless(input: FlowInput): boolean {
  return (input.kind === 'kafka' && input.stopAtEndOffsets !== true) || input.kind === 'collector';
}

/** Calls `handler` with the name of each SIGINT or SIGTERM. */
function onStopSignal(handler: (sig: NodeJS.Signals) => void): void {
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/**
 * Watches a started run to its end and gives the exit code: prints progress, stops on a signal,
 * ends the process with the run when a worker thread dies (the promise rejects), and prints the
 * summary.
 *
 * File or standard input ends at the end of its input, a Kafka topic read with stopAtEndOffsets at
 * the offsets seen at start; a Kafka stream runs until a signal. A first SIGINT or SIGTERM ends
 * any input now: the spouts emit no more, and the flows read are finished, held ones released
 * unmatched as at the end of the input (for Kafka, the offsets are then committed past every
 * finished flow, and the messages fetched but not emitted stay uncommitted). A second signal, or
 * the stop timeout, stops at once. Exit 0 when every flow read was finished, EXIT_UNFINISHED
 * (saying how many were not) otherwise.
 */
export async function superviseRun(run: ThemisRun, o: SuperviseOptions): Promise<number> {
  let prev: Progress | null = null;
  let prevAt = Date.now();
  const ticker = setInterval(() => {
    const p = run.progress();
    const now = Date.now();
    o.log(`themis: ${progressLine(p, prev, (now - prevAt) / 1000)}`);
    for (const reading of run.collectorReadings()) o.log(`themis: collector: ${describeCollector(reading)}`);
    prev = p;
    prevAt = now;
  }, PROGRESS_EVERY_MS);
  // A dead worker thread ends the run (exit 1, so a supervisor restarts it and the input that was
  // in flight is replayed) instead of leaving a process that does nothing.
  const crashed = run.topology.crashed().then((err) => {
    clearInterval(ticker);
    throw err;
  });

  let stoppedBy: NodeJS.Signals | null = null;
  let stopTimer: NodeJS.Timeout | undefined;
  let stopNow!: () => void;
  let signalled!: () => void;
  const stoppedNow = new Promise<false>((resolve) => (stopNow = () => resolve(false)));
  const firstSignal = new Promise<void>((resolve) => (signalled = resolve));
  onStopSignal((sig) => {
    if (stoppedBy !== null) {
      o.log(`themis: ${sig} again: stopping now`);
      stopNow();
      return;
    }
    stoppedBy = sig;
    o.log(`themis: ${sig}: reading no more input; finishing the flows read (${sig} again stops at once)`);
    o.stdin?.close();
    run.topology.stopInput();
    signalled();
    stopTimer = setTimeout(() => {
      o.log(`themis: the flows read were not finished within ${o.stopTimeoutSecs} s (the message timeout): stopping now`);
      stopNow();
    }, o.stopTimeoutSecs * 1000);
  });
  // A stream never ends by itself: nothing to poll for until a signal (or a dead worker).
  if (isEndless(o.input)) await Promise.race([firstSignal, crashed]);
  const drained = await Promise.race([run.topology.waitUntilDone().then(() => true), stoppedNow, crashed]);
  const finished = Date.now();
  clearTimeout(stopTimer);
  clearInterval(ticker);
  o.stdin?.close();
  const code = await finish(run, o, finished, stoppedBy, drained ? undefined : 0);
  // Standard input may still be open, and the Kafka clients' sockets, and would keep the process alive.
  if (stoppedBy !== null) process.exit(code);
  return code;
}

/** Closes a finite run, prints its summary, and gives its exit code. */
async function finish(run: ThemisRun, o: SuperviseOptions, finishedAtMs: number, stoppedBy: NodeJS.Signals | null, drainTimeoutMs?: number): Promise<number> {
  await run.stop(drainTimeoutMs);
  const final = run.progress(); // every thread reports its metrics as it closes
  summary(final, o.startedAtMs, o.log, finishedAtMs);
  for (const reading of run.collectorReadings()) o.log(`themis: collector: ${describeCollector(reading)}`);
  if (o.outputsNote !== null) o.log(o.outputsNote);
  if (final.unfinished > 0) {
    const fate = o.input.kind === 'kafka' ? 'their offsets were not committed, so the next run under this instance name reads them again' : 'they are in no output';
    process.stderr.write(
      `themis-topology: stopped by ${stoppedBy ?? 'a signal'}: ${fmt(final.unfinished)} flow(s) read were not finished (in flight, held for their reverse, or failed): ${fate}\n`,
    );
    return EXIT_UNFINISHED;
  }
  // A stream's consumer that crashed and rejoined lost nothing: what it had not finished is read again.
  if (final.spoutErrors > 0 && !(o.input.kind === 'kafka' && isEndless(o.input))) {
    process.stderr.write(`themis-topology: the input could not be read completely (${final.spoutErrors} error(s) above)\n`);
    return 1;
  }
  return 0;
}
