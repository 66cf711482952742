/**
 * `themis-topology submit --input <path> --input-format nfcapd|nfdump-json|jsonl`: nfdump data
 * scored with no broker (issue 15).
 *
 * Why a spool file: nfcapd files and nfdump JSON are converted, before the topology starts, into one
 * file of Themis JSON lines (by the sources and the record conversion themis-ingest uses, so the
 * flows and their ids are the ones `themis-ingest` would send), and the file spout replays that file
 * as it replays any other. The file spout's guarantees then hold unchanged: a reader per thread
 * takes its conversations' lines, and a failed line is read back by its offset and replayed, which
 * a stream from nfdump could not give without keeping every flow in flight in memory or running
 * nfdump once per thread. The cost is a pass over the data before scoring starts and the spool's
 * disk space (about 230 bytes a flow), in a directory under $TMPDIR removed at exit.
 *
 * A record that does not convert (or whose flow parseFlowLine refuses) is written to the spool as
 * an unconverted-record line with its reason and origin (`<file> record <n>`), which json-to-tuple
 * sends to the ignored output: nothing is lost unseen, and it reaches the ignored output whether
 * that is a file or a Kafka topic. Problems with an input itself (nfdump failing on a file, text
 * that is not JSON) are printed, and the run exits 1 after scoring what was read.
 *
 * A file given as a format it plainly is not (input-format.ts) is refused with one line naming the
 * right --input-format, before anything is read or started (exit 2).
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { unconvertedLine } from '../bolts/parse/unconverted-record.js';
import { ingestToLines, LINES_HIGH_WATER_MARK, type IngestSummary } from '../spouts/ingest/ingest.js';
import { checkFileFormat, detectInputFormat, INPUT_FORMATS, readFileHead, type InputFormat } from '../spouts/ingest/input-format.js';
import { listNfcapdFiles, nfcapdSource, nfdumpJsonSource, nfdumpVersion, type IdCounter, type NfdumpCommand, type SourceItem } from '../spouts/ingest/sources.js';
import { parseUtcOffset } from './nfdump-options.js';
import { parseFirstId } from './option-values.js';

export interface FileInputFlags {
  readonly input: string;
  readonly inputFormat?: string;
  readonly firstId?: string;
  readonly nfdumpUtcOffset?: string;
}

/** What the input is, once checked: JSON lines read as they are, or nfdump data to convert first. */
export type FileInputPlan =
  | { readonly format: 'jsonl'; readonly path: string }
  | { readonly format: 'nfdump-json'; readonly path: string; readonly firstId: number; readonly utcOffsetMinutes: number }
  | { readonly format: 'nfcapd'; readonly path: string; readonly files: readonly string[]; readonly firstId: number };

/** Checks the input options and the input's format; one line per problem, undefined if any. */
export async function planFileInput(flags: FileInputFlags, nowMs: number, problems: string[]): Promise<FileInputPlan | undefined> {
  const before = problems.length;
  const path = flags.input;
  const given = flags.inputFormat;
  if (given !== undefined && !(INPUT_FORMATS as readonly string[]).includes(given)) {
    problems.push(`--input-format ${given}: must be one of ${INPUT_FORMATS.join(', ')}`);
    return undefined;
  }
  const info = path === '-' ? undefined : statSync(path, { throwIfNoEntry: false });
  if (path !== '-' && info === undefined) {
    problems.push(`--input ${path}: no such file or directory`);
    return undefined;
  }
  const format = given === undefined ? formatOf(path, info) : (given as InputFormat);
  if (path === '-' && format === 'nfcapd') problems.push('--input -: nfcapd data must be a file or a directory (nfdump reads files, not standard input)');
  if (info?.isDirectory() === true && format !== 'nfcapd') {
    problems.push(`--input ${path}: a directory is read as nfcapd files; give --input-format nfcapd or leave it out`);
  }
  if (info !== undefined && !info.isDirectory() && !info.isFile()) problems.push(`--input ${path}: not a file or a directory`);
  if (given !== undefined && info?.isFile() === true) {
    const wrong = checkFileFormat(path, format);
    if (wrong !== null) problems.push(`--input ${path}: ${wrong.mismatch}; use --input-format ${wrong.detected}${wrong.detected === 'jsonl' ? ' or leave it out' : ''}`);
  }
  if (format === 'jsonl') {
    for (const [flag, value] of [['--first-id', flags.firstId], ['--nfdump-utc-offset', flags.nfdumpUtcOffset]] as const) {
      if (value !== undefined) problems.push(`${flag} applies only to nfcapd and nfdump JSON input, and --input ${path} is read as JSON lines`);
    }
    return problems.length > before ? undefined : { format, path };
  }
  const firstId = parseFirstId(flags.firstId, nowMs, problems);
  if (format === 'nfdump-json') {
    const utcOffsetMinutes = parseUtcOffset(flags.nfdumpUtcOffset, problems);
    if (problems.length > before || firstId === undefined || utcOffsetMinutes === undefined) return undefined;
    return { format, path, firstId, utcOffsetMinutes };
  }
  if (flags.nfdumpUtcOffset !== undefined) problems.push('--nfdump-utc-offset applies only to nfdump JSON: nfcapd files are always read with TZ=UTC');
  if (problems.length > before || path === '-') return undefined;
  const listed = await listNfcapdFiles([path]);
  problems.push(...listed.problems.map((problem) => `--input ${problem}`));
  // Each file of a directory too: one that is not nfcapd data would only fail in nfdump later.
  for (const file of info?.isDirectory() === true ? listed.files : []) {
    const wrong = checkFileFormat(file, 'nfcapd');
    if (wrong !== null) problems.push(`--input ${path}: ${file}: ${wrong.mismatch}`);
  }
  if (problems.length > before || firstId === undefined) return undefined;
  return { format, path, files: listed.files, firstId };
}

/**
 * The format of an input given without --input-format: a directory holds nfcapd files; standard
 * input (which cannot be read twice) is JSON lines, and so is anything else but a regular file
 * (never opened here: opening a FIFO would wait for its writer).
 */
function formatOf(path: string, info: Stats | undefined): InputFormat {
  if (info?.isDirectory() === true) return 'nfcapd';
  if (info?.isFile() !== true) return 'jsonl';
  let head: Buffer;
  try {
    head = readFileHead(path);
  } catch {
    return 'jsonl'; // the file spout reports why it cannot be read
  }
  const detected = detectInputFormat(head);
  return detected === 'unknown' ? 'jsonl' : detected;
}

/** A converted input: the spool the file spout reads, and what the conversion found. */
export interface ConvertedInput {
  readonly spoolPath: string;
  /** How the spout names the spool's lines: `<input> as JSON lines`. */
  readonly label: string;
  readonly summary: IngestSummary;
  /** The run's summary line for the conversion. */
  readonly note: string;
  /** Removes the spool; also done at process exit. */
  readonly remove: () => void;
}

export interface ConvertOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: Readable;
  readonly log: (message: string) => void;
  /** Printed as they happen: a file nfdump could not read, text that is not JSON. */
  readonly onSourceError: (message: string) => void;
  readonly signal: AbortSignal;
}

/**
 * Converts nfcapd files or nfdump JSON into a spool of JSON lines. Rejects with IngestError
 * (THEMIS_NFDUMP_MISSING) when nfdump cannot be run, and with the fs error when the spool cannot
 * be written.
 */
export async function convertToSpool(plan: Exclude<FileInputPlan, { format: 'jsonl' }>, o: ConvertOptions): Promise<ConvertedInput> {
  const ids: IdCounter = { next: plan.firstId };
  const nfdump: NfdumpCommand = { command: 'nfdump', env: o.env };
  if (plan.format === 'nfcapd') await nfdumpVersion(nfdump);
  const dir = mkdtempSync(join(tmpdir(), 'themis-input-'));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', remove);
  const spoolPath = join(dir, 'flows.jsonl');
  const name = plan.path === '-' ? 'stdin' : plan.path;
  o.log(`themis: converting ${name} (${plan.format}) into JSON lines in ${spoolPath} before scoring`);
  const source: AsyncIterable<SourceItem> =
    plan.format === 'nfcapd'
      ? nfcapdSource(plan.files, nfdump, ids)
      : nfdumpJsonSource(plan.path === '-' ? o.stdin : createReadStream(plan.path), name, ids, { utcOffsetMinutes: plan.utcOffsetMinutes });
  const spool = createWriteStream(spoolPath, { highWaterMark: LINES_HIGH_WATER_MARK });
  let summary: IngestSummary;
  try {
    summary = await ingestToLines(source, spool, {
      batchSize: 1000,
      sendInvalid: false,
      wrapInvalid: (record) => unconvertedLine({ reason: record.reason, origin: record.location, record: record.text }),
      onSourceError: o.onSourceError,
      signal: o.signal,
    });
  } finally {
    spool.end();
    await finished(spool).catch(() => undefined); // a write error was already thrown above
  }
  const what = plan.format === 'nfcapd' ? `nfcapd, ${plan.files.length} file${plan.files.length === 1 ? '' : 's'}` : 'nfdump JSON';
  const flows = summary.sent - summary.invalidSent;
  const assigned = ids.next - plan.firstId;
  const note =
    `themis: input ${name} (${what}): ${fmt(summary.read)} records read, ${fmt(flows)} flows converted, ` +
    `${fmt(summary.invalid)} not converted (to ignored-flows with their reason)` +
    (summary.sourceErrors.length > 0 ? `, ${summary.sourceErrors.length} input error(s)` : '') +
    (assigned === 0 ? '; no ids assigned' : `; ids ${plan.firstId} to ${ids.next - 1} (next run may use --first-id ${ids.next})`);
  return { spoolPath, label: `${plan.path === '-' ? 'stdin' : basename(resolve(plan.path))} as JSON lines`, summary, note, remove };
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}
