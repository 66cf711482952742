#!/usr/bin/env node
/**
 * themis-ingest: sends flows to the Themis input topic. Replaces the original's nfdump → MySQL
 * import and Python producer (reference §12.2-12.3, defects §15.9).
 *
 *   themis-ingest json <file|->                 JSON lines in the input schema (§4.2), `-` = stdin
 *   themis-ingest nfdump <nfcapd-file|dir...>   runs `nfdump -r <file> -o json` per file (TZ=UTC)
 *   themis-ingest nfdump --nfdump-json <file>   a ready `nfdump -o json` export (`-` = stdin)
 *
 * Common options: --brokers (default $THEMIS_KAFKA_BROKERS, else 127.0.0.1:9092), --topic
 * (netflow-json), --batch (1000 messages per sendBatch), --in-flight (4 batches awaiting acks).
 * --output <file|-> writes the flows as JSON lines instead of sending them, exactly the message
 * values that would be sent, in input order (no broker needed; the summary then goes to stderr
 * when the flows go to stdout). It excludes --brokers, --topic and --in-flight.
 *
 * A file given as one format that plainly holds another (nfdump JSON or an nfcapd file to `json`,
 * JSON lines or nfdump JSON as an nfcapd file, ...) is refused with one line naming the command
 * that reads it (input-format.ts), before anything is read.
 *
 * JSON lines: each line is checked with the topology's parseFlowLine. A bad line is reported with
 * its line number and reason, counted, and by default NOT sent: the report here names the file and
 * line, which the topology can no longer do. --send-invalid sends bad lines too (unkeyed), so the
 * topology's ignored-flows output records them as well.
 *
 * nfdump: records carry no flow id, so ids are assigned in order from --first-id. The default is
 * the start time in epoch milliseconds × 1000 (about 1.8e15, safe up to the year 2255): one run
 * uses 1000 ids per millisecond it has been running, so runs one after another never collide as
 * long as they stay under a million flows per second. Runs at the same time need disjoint
 * --first-id ranges. The summary prints the range used.
 *
 * nfdump prints times in its own local zone; nfcapd files are read with TZ=UTC, and for a ready
 * export --nfdump-utc-offset gives the zone it was made in (default +00:00, i.e. made with
 * `TZ=UTC nfdump -r <file> -o json`).
 *
 * Progress goes to stderr: a one-line bar redrawn in place on a terminal, a line every 5 s
 * otherwise; the summary goes to stdout. Exit codes: 0 every record read was handled (invalid ones
 * reported), 1 Kafka or the --output file failed, nfdump is missing, or an input could not be read
 * completely, 2 bad options or arguments, or a file in another format than the command reads
 * (nothing sent or written). Ctrl-C stops reading, sends what was read, and prints the
 * summary.
 */
import { createReadStream, createWriteStream, openSync, statSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { Command } from 'commander';
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_INGEST_TOPIC,
  DEFAULT_MAX_BATCHES_IN_FLIGHT,
  ingest,
  ingestToFile,
  ingestToLines,
  LINES_HIGH_WATER_MARK,
  type IngestOptions,
  type IngestProgress,
  type IngestSummary,
} from '../spouts/ingest/ingest.js';
import { IngestError } from '../spouts/ingest/errors.js';
import { checkFileFormat, type InputFormat } from '../spouts/ingest/input-format.js';
import {
  jsonLinesSource,
  listNfcapdFiles,
  nfcapdSource,
  nfdumpJsonSource,
  nfdumpVersion,
  type IdCounter,
  type SourceItem,
} from '../spouts/ingest/sources.js';
import { parseUtcOffset } from './nfdump-options.js';
import { parseFirstId } from './option-values.js';
import { isEntryPoint } from './is-entry-point.js';
import { checkTopicName, parseBatchesInFlight, parseBatchSize, parseBrokerList } from './kafka-options.js';
import { parseProgram } from './parse-program.js';

const DEFAULT_BROKERS = '127.0.0.1:9092';
const BROKERS_ENV = 'THEMIS_KAFKA_BROKERS';
const EXIT_FAILED = 1;
const EXIT_INVALID_OPTIONS = 2;
const TTY_PROGRESS_MS = 200;
const LOG_PROGRESS_MS = 5_000;
/** Invalid records printed one by one; the rest are only counted. */
const INVALID_PRINTED = 100;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Raw stderr write for the in-place progress bar. */
  readonly writeErr: (text: string) => void;
  readonly isErrTty: boolean;
  readonly stdin: Readable;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly nowMs: () => number;
  readonly setExitCode: (code: number) => void;
  /** Aborted on Ctrl-C; absent in tests. */
  readonly signal?: AbortSignal;
  /** Where `--output -` writes the flows (default: process.stdout). */
  readonly stdout?: Writable;
}

interface CommonFlags {
  brokers?: string;
  topic?: string;
  batch?: string;
  inFlight?: string;
  output?: string;
}

interface JsonFlags extends CommonFlags {
  sendInvalid?: boolean;
}

interface NfdumpFlags extends CommonFlags {
  nfdumpJson?: string;
  nfdumpUtcOffset?: string;
  firstId?: string;
  nfdump?: string;
}

/** Where the flows go, once every flag has been checked: the topic, or lines in a file or stdout. */
type Destination =
  | ({ kind: 'kafka' } & Pick<IngestOptions, 'brokers' | 'topic' | 'maxBatchesInFlight'>)
  | { kind: 'lines'; path: string; fd: number | null };

/** Options shared by both commands once every flag has been checked. */
interface CommonConfig {
  batchSize: number;
  destination: Destination;
}

export function createProgram(io: CliIo): Command {
  const program = new Command('themis-ingest')
    .description('send NetFlow records to the Themis input topic, or write them as JSON lines (--output)')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) });

  addCommonOptions(program.command('json'))
    .description('send JSON lines in the Themis input schema; bad lines are reported and not sent')
    .argument('<file>', 'file of JSON lines, or - for stdin')
    .option('--send-invalid', 'also send lines that fail parsing (unkeyed), so ignored-flows records them')
    .action(async (file: string, flags: JsonFlags) => {
      const problems: string[] = [];
      const common = parseCommonFlags(flags, io.env, problems);
      if (file !== '-') checkReadableFile(file, '<file>', problems);
      if (file !== '-') checkFormat(file, 'jsonl', problems);
      if (common !== undefined && problems.length === 0) openOutput(common.destination, problems);
      if (common === undefined || problems.length > 0) return rejectOptions('json', problems, io);
      const input = file === '-' ? io.stdin : createReadStream(file);
      const name = file === '-' ? 'stdin' : file;
      await runIngest(jsonLinesSource(input, name), { ...common, sendInvalid: flags.sendInvalid === true }, io);
    });

  addCommonOptions(program.command('nfdump'))
    .description('send the flows of nfcapd files (read with nfdump) or of a ready nfdump JSON export')
    .argument('[paths...]', 'nfcapd files, or directories searched for nfcapd.* files')
    .option('--nfdump-json <file>', 'read a ready `nfdump -o json` export instead (- for stdin)')
    .option('--nfdump-utc-offset <offset>', 'zone the export printed its times in, as +hh:mm or -hh:mm (default +00:00)')
    .option('--first-id <n>', 'id of the first flow (default: epoch milliseconds at start × 1000)')
    .option('--nfdump <command>', 'nfdump executable (default: nfdump on PATH)')
    .action(async (paths: string[], flags: NfdumpFlags) => {
      await runNfdumpCommand(paths, flags, io);
    });
  return program;
}

async function runNfdumpCommand(paths: string[], flags: NfdumpFlags, io: CliIo): Promise<void> {
  const problems: string[] = [];
  const common = parseCommonFlags(flags, io.env, problems);
  const firstId = parseFirstId(flags.firstId, io.nowMs(), problems);
  const utcOffsetMinutes = parseUtcOffset(flags.nfdumpUtcOffset, problems);
  if (flags.nfdumpUtcOffset !== undefined && flags.nfdumpJson === undefined) {
    problems.push('--nfdump-utc-offset applies only to --nfdump-json: nfcapd files are always read with TZ=UTC');
  }
  if (flags.nfdumpJson !== undefined && paths.length > 0) {
    problems.push(`give nfcapd files or --nfdump-json, not both (got ${paths.join(' ')} and --nfdump-json ${flags.nfdumpJson})`);
  }
  if (flags.nfdumpJson === undefined && paths.length === 0) {
    problems.push('give one or more nfcapd files or directories, or --nfdump-json <file>');
  }
  if (flags.nfdumpJson !== undefined && flags.nfdumpJson !== '-') {
    checkReadableFile(flags.nfdumpJson, '--nfdump-json', problems);
    checkFormat(flags.nfdumpJson, 'nfdump-json', problems);
  }
  const listed = await listNfcapdFiles(paths);
  problems.push(...listed.problems.map((problem) => `<paths> ${problem}`));
  for (const file of listed.files) checkFormat(file, 'nfcapd', problems);
  if (common !== undefined && problems.length === 0) openOutput(common.destination, problems);
  if (common === undefined || firstId === undefined || utcOffsetMinutes === undefined || problems.length > 0) {
    return rejectOptions('nfdump', problems, io);
  }

  const ids: IdCounter = { next: firstId };
  let source: AsyncIterable<SourceItem>;
  if (flags.nfdumpJson !== undefined) {
    const isStdin = flags.nfdumpJson === '-';
    const input = isStdin ? io.stdin : createReadStream(flags.nfdumpJson);
    source = nfdumpJsonSource(input, isStdin ? 'stdin' : flags.nfdumpJson, ids, { utcOffsetMinutes });
  } else {
    const nfdump = { command: flags.nfdump ?? 'nfdump', env: io.env };
    try {
      await nfdumpVersion(nfdump);
    } catch (error) {
      if (!(error instanceof IngestError)) throw error;
      io.err(`themis-ingest nfdump: ${error.message} [${error.code}]`);
      io.setExitCode(EXIT_FAILED);
      return;
    }
    io.err(`themis-ingest: ${listed.files.length} nfcapd file(s): ${listed.files.join(' ')}`);
    source = nfcapdSource(listed.files, nfdump, ids);
  }
  const summary = await runIngest(source, { ...common, sendInvalid: false }, io);
  if (summary !== undefined) {
    const assigned = ids.next - firstId;
    reportLine(common, io)(
      assigned === 0 ? 'ids: none assigned' : `ids: ${firstId} to ${ids.next - 1} (${assigned} assigned; next run may use --first-id ${ids.next})`,
    );
  }
}

/** The command that reads a file of each format, for the error on a file given as another. */
const COMMAND_FOR: Readonly<Record<InputFormat, (file: string) => string>> = {
  jsonl: (file) => `themis-ingest json ${file}`,
  'nfdump-json': (file) => `themis-ingest nfdump --nfdump-json ${file}`,
  nfcapd: (file) => `themis-ingest nfdump ${file}`,
};

function checkFormat(file: string, given: InputFormat, problems: string[]): void {
  const wrong = checkFileFormat(file, given);
  if (wrong !== null) problems.push(`${file}: ${wrong.mismatch}; read it with: ${COMMAND_FOR[wrong.detected](file)}`);
}

/** The summary goes to stdout, but to stderr when the flows do. */
function reportLine(common: CommonConfig, io: CliIo): (line: string) => void {
  return common.destination.kind === 'lines' && common.destination.path === '-' ? io.err : io.out;
}

function addCommonOptions(command: Command): Command {
  return command
    .option('--brokers <list>', `comma-separated host:port list (default: $${BROKERS_ENV}, else ${DEFAULT_BROKERS})`)
    .option('--topic <name>', `topic to produce to (default: ${DEFAULT_INGEST_TOPIC})`)
    .option('--batch <n>', `messages per sendBatch (default: ${DEFAULT_BATCH_SIZE})`)
    .option('--in-flight <n>', `batches awaiting acknowledgement before reading pauses (default: ${DEFAULT_MAX_BATCHES_IN_FLIGHT})`)
    .option('--output <file|->', 'write the flows as JSON lines (- for stdout) instead of sending them; no broker needed');
}

async function runIngest(
  source: AsyncIterable<SourceItem>,
  options: CommonConfig & { sendInvalid: boolean },
  io: CliIo,
): Promise<IngestSummary | undefined> {
  const destination = options.destination;
  const progress = new ProgressLine(io, destination.kind === 'kafka' ? 'sent' : 'written');
  let printedInvalid = 0;
  const pumpOptions = {
    batchSize: options.batchSize,
    sendInvalid: options.sendInvalid,
    now: io.nowMs,
    progressIntervalMs: io.isErrTty ? TTY_PROGRESS_MS : LOG_PROGRESS_MS,
    onProgress: (snapshot: IngestProgress) => progress.show(snapshot),
    onInvalid: (record: { location: string; reason: string }) => {
      if (printedInvalid++ >= INVALID_PRINTED) return;
      progress.clear();
      io.err(`${record.location}: ${record.reason}${options.sendInvalid ? ` (${destination.kind === 'kafka' ? 'sent' : 'written'} anyway)` : ''}`);
      if (printedInvalid === INVALID_PRINTED) io.err(`(further invalid records are counted, not printed)`);
    },
    onSourceError: (message: string) => {
      progress.clear();
      io.err(`error: ${message}`);
    },
    ...(io.signal !== undefined ? { signal: io.signal } : {}),
  };
  try {
    const summary = destination.kind === 'kafka' ? await ingest(source, { ...pumpOptions, ...destination }) : await writeLines(source, destination, pumpOptions, io);
    progress.clear();
    printSummary(summary, options, io);
    if (summary.sourceErrors.length > 0) io.setExitCode(EXIT_FAILED);
    return summary;
  } catch (error) {
    progress.clear();
    if (error instanceof IngestError) {
      io.err(`themis-ingest: ${error.message} [${error.code}]`);
      if (error.code === 'THEMIS_INGEST_KAFKA') {
        io.err(`  is the broker running? Locally: npm run kafka:up. Elsewhere: set --brokers or ${BROKERS_ENV}, or write a file with --output.`);
      }
    } else if (destination.kind === 'lines' && isSystemError(error)) {
      io.err(`themis-ingest: writing ${destination.path === '-' ? 'stdout' : destination.path} failed: ${error.message}`);
    } else {
      throw error;
    }
    io.setExitCode(EXIT_FAILED);
    return undefined;
  }
}

function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

/** Writes to the file opened by parseCommonFlags (closed at the end) or to stdout (left open). */
async function writeLines(
  source: AsyncIterable<SourceItem>,
  destination: Extract<Destination, { kind: 'lines' }>,
  options: Parameters<typeof ingestToLines>[2],
  io: CliIo,
): Promise<IngestSummary> {
  if (destination.fd === null) return ingestToLines(source, io.stdout ?? process.stdout, options);
  return ingestToFile(source, createWriteStream('', { fd: destination.fd, highWaterMark: LINES_HIGH_WATER_MARK }), options);
}

function printSummary(summary: IngestSummary, options: CommonConfig & { sendInvalid: boolean }, io: CliIo): void {
  const report = reportLine(options, io);
  const destination = options.destination;
  const verb = destination.kind === 'kafka' ? 'sent' : 'written';
  const invalidNote = summary.invalid === 0 ? '' : options.sendInvalid ? ` (${summary.invalidSent} ${verb} anyway)` : ` (not ${verb})`;
  report(destination.kind === 'kafka' ? `topic: ${destination.topic}` : `output: ${destination.path === '-' ? 'stdout' : destination.path}`);
  report(`read: ${summary.read}, ${verb}: ${summary.sent}, invalid: ${summary.invalid}${invalidNote}`);
  report(`elapsed: ${(summary.elapsedMs / 1000).toFixed(1)} s, rate: ${Math.round(summary.flowsPerSec)} flows/s`);
  if (summary.isInterrupted) report('interrupted: the input was not read to the end');
  if (summary.sourceErrors.length > 0) report(`inputs with errors: ${summary.sourceErrors.length} (see stderr)`);
}

/** The `\r` bar on a terminal, a plain line per interval otherwise. */
class ProgressLine {
  private isShown = false;

  constructor(
    private readonly io: CliIo,
    private readonly verb: 'sent' | 'written',
  ) {}

  show(progress: IngestProgress): void {
    const text =
      `read ${progress.read.toLocaleString('en-US')}  ${this.verb} ${progress.sent.toLocaleString('en-US')}  ` +
      `invalid ${progress.invalid.toLocaleString('en-US')}  ${Math.round(progress.flowsPerSec).toLocaleString('en-US')} flows/s  ` +
      `${(progress.elapsedMs / 1000).toFixed(1)} s`;
    if (this.io.isErrTty) {
      this.io.writeErr(`\r${text}\x1b[K`);
      this.isShown = true;
    } else {
      this.io.err(`themis-ingest: ${text}`);
    }
  }

  clear(): void {
    if (!this.isShown) return;
    this.io.writeErr('\r\x1b[K');
    this.isShown = false;
  }
}

function rejectOptions(command: string, problems: string[], io: CliIo): void {
  for (const problem of problems) io.err(`themis-ingest ${command}: ${problem}`);
  io.setExitCode(EXIT_INVALID_OPTIONS);
}

/** Checks the flags both commands share; adds one message per problem and returns undefined if any. */
function parseCommonFlags(flags: CommonFlags, env: CliIo['env'], problems: string[]): CommonConfig | undefined {
  const before = problems.length;
  if (flags.output !== undefined) {
    const batchSize = parseBatchSize(flags.batch, problems);
    const kafkaOnly = (['--brokers', '--topic', '--in-flight'] as const).filter((_, i) => [flags.brokers, flags.topic, flags.inFlight][i] !== undefined);
    if (kafkaOnly.length > 0) {
      problems.push(`--output writes the flows to ${flags.output === '-' ? 'stdout' : 'a file'} instead of Kafka: give it or ${kafkaOnly.join(', ')}, not both`);
    }
    if (flags.output.length === 0) problems.push('--output is empty; give a file name, or - for stdout');
    if (problems.length > before || batchSize === undefined) return undefined;
    return Object.freeze({ batchSize, destination: { kind: 'lines' as const, path: flags.output, fd: null } });
  }
  const brokersSource = flags.brokers !== undefined ? '--brokers' : env[BROKERS_ENV] ? BROKERS_ENV : 'default';
  const brokers = parseBrokerList(flags.brokers ?? (env[BROKERS_ENV] || DEFAULT_BROKERS), brokersSource, problems);
  const topic = flags.topic ?? DEFAULT_INGEST_TOPIC;
  checkTopicName(topic, '--topic', problems);
  const batchSize = parseBatchSize(flags.batch, problems);
  const maxBatchesInFlight = parseBatchesInFlight(flags.inFlight, problems);
  if (problems.length > before || batchSize === undefined || maxBatchesInFlight === undefined) return undefined;
  return Object.freeze({ batchSize, destination: { kind: 'kafka' as const, brokers: Object.freeze(brokers), topic, maxBatchesInFlight } });
}

/**
 * Opens the --output file (created or emptied), once every other check passed: a refused run
 * writes nothing. A problem opening it is one more refused option.
 */
function openOutput(destination: Destination, problems: string[]): void {
  if (destination.kind !== 'lines' || destination.path === '-') return;
  try {
    destination.fd = openSync(destination.path, 'w');
  } catch (error) {
    problems.push(`--output ${destination.path}: cannot write it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

function checkReadableFile(path: string, option: string, problems: string[]): void {
  try {
    if (!statSync(path).isFile()) problems.push(`${option} ${path} is not a file`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(`${option} ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
}

/** Runs the program; commander's own errors (unknown option, missing argument) give exit 2. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<void> {
  await parseProgram(createProgram(io), argv, io.setExitCode);
}

if (isEntryPoint(import.meta.url)) {
  const interrupt = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('\nthemis-ingest: interrupted; sending what was read (Ctrl-C again to quit at once)\n');
    interrupt.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  await runCli(process.argv.slice(2), {
    stdout: process.stdout,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    writeErr: (text) => process.stderr.write(text),
    isErrTty: process.stderr.isTTY === true,
    stdin: process.stdin,
    env: process.env,
    nowMs: () => Date.now(),
    setExitCode: (code) => {
      process.exitCode = code;
    },
    signal: interrupt.signal,
  });
}
