/**
 * Where themis-ingest reads flows: JSON lines, nfdump JSON (a ready export or nfdump's stdout),
 * and nfcapd files through nfdump. Each source is an async generator, so the producer's
 * back-pressure reaches the file or the nfdump child through the pipe.
 */
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { IngestError } from './errors.js';
import { convertNfdumpRecord, JsonObjectSplitter, NFDUMP_NO_FLOWS, type NfdumpConversionOptions } from './nfdump-json.js';

/**
 * What a source yields: a candidate flow line (checked by parseFlowLine before sending), a record
 * already rejected by the source (an nfdump record that does not convert, with its text: compact
 * JSON when it parsed), or a problem with the input itself (nfdump failed on a file), which ends
 * that input but not the run.
 */
export type SourceItem =
  | { kind: 'line'; location: string; text: string }
  | { kind: 'invalid'; location: string; reason: string; text: string }
  | { kind: 'source-error'; source: string; message: string }
  /** A live source (the collector) has nothing more for now: what is batched is sent without waiting for a full batch. */
  | { kind: 'flush' };

/**
 * One candidate flow per line of `input`, located as `name:line` (1-based). Blank lines are
 * skipped without a count: a trailing newline or a spacer is not a bad flow.
 */
export async function* jsonLinesSource(input: Readable, name: string): AsyncGenerator<SourceItem> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    const text = lineNumber === 1 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
    if (text.trim().length === 0) continue;
    yield { kind: 'line', location: `${name}:${lineNumber}`, text };
  }
}

/** Ids for flows converted from nfdump records; shared across the files of one run. */
export interface IdCounter {
  next: number;
}

/**
 * The flows in one stream of nfdump JSON (a ready export, or nfdump's stdout), located as
 * `name record N` (1-based). Text other than JSON objects is reported as a source error, except
 * nfdump's own "No matching flows"; so is a stream that ends inside an object.
 */
export async function* nfdumpJsonSource(
  input: Readable,
  name: string,
  ids: IdCounter,
  conversion: NfdumpConversionOptions,
): AsyncGenerator<SourceItem> {
  const splitter = new JsonObjectSplitter();
  let recordNumber = 0;
  input.setEncoding('utf8');
  const strayItems = (stray: string[]): SourceItem[] =>
    stray
      .filter((text) => text !== NFDUMP_NO_FLOWS)
      .map((text) => ({ kind: 'source-error', source: name, message: `unexpected text in nfdump JSON: ${text.slice(0, 200)}` }));
  for await (const chunk of input as AsyncIterable<string>) {
    const { objects, stray } = splitter.push(chunk);
    yield* strayItems(stray);
    for (const text of objects) {
      recordNumber++;
      const location = `${name} record ${recordNumber}`;
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch (error) {
        yield { kind: 'invalid', location, reason: `invalid JSON: ${(error as Error).message}`, text };
        continue;
      }
      const converted = convertNfdumpRecord(record, ids.next, conversion);
      if (!converted.ok) {
        yield { kind: 'invalid', location, reason: converted.reason, text: JSON.stringify(record) };
        continue;
      }
      ids.next += converted.flows.length;
      for (const flow of converted.flows) yield { kind: 'line', location, text: JSON.stringify(flow) };
    }
  }
  const { stray, isTruncated } = splitter.end();
  yield* strayItems(stray);
  if (isTruncated) yield { kind: 'source-error', source: name, message: `nfdump JSON ends inside record ${recordNumber + 1}` };
}

export interface NfdumpCommand {
  /** The nfdump executable: a name looked up on PATH, or a path. */
  command: string;
  /** Environment of the child; TZ is always replaced by UTC so nfdump prints UTC times. */
  env: Readonly<Record<string, string | undefined>>;
}

const STDERR_LINES_KEPT = 20;

/**
 * The flows of nfcapd files, read through `nfdump -r <file> -o json` one file at a time (nfdump
 * 1.7.1 reads a file as fast as we consume its output, so a slow broker pauses nfdump through the
 * pipe). Anything nfdump writes to stderr, or a non-zero exit, is a source error for that file:
 * nfdump 1.7.1 exits 0 on a file that is not an nfcapd file, saying only "Short read from file".
 */
export async function* nfcapdSource(
  files: readonly string[],
  nfdump: NfdumpCommand,
  ids: IdCounter,
): AsyncGenerator<SourceItem> {
  for (const file of files) {
    const child = spawn(nfdump.command, ['-r', file, '-o', 'json'], {
      env: { ...nfdump.env, TZ: 'UTC' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stderrLines: string[] = [];
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => {
      if (line.trim().length > 0 && stderrLines.length < STDERR_LINES_KEPT) stderrLines.push(line.trim());
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    let isFinished = false;
    try {
      yield* nfdumpJsonSource(child.stdout, file, ids, { utcOffsetMinutes: 0 });
      const result = await exited;
      isFinished = true;
      if (result.error !== undefined) {
        if ((result.error as NodeJS.ErrnoException).code === 'ENOENT') throw nfdumpMissing(nfdump.command, result.error);
        yield { kind: 'source-error', source: file, message: `running nfdump failed: ${result.error.message}` };
      } else if (result.code !== 0) {
        const how = result.signal !== null ? `was killed by ${result.signal}` : `exited with status ${result.code}`;
        yield { kind: 'source-error', source: file, message: `nfdump ${how}${stderrText(stderrLines)}` };
      } else if (stderrLines.length > 0) {
        yield { kind: 'source-error', source: file, message: `nfdump reported a problem${stderrText(stderrLines)}` };
      }
    } finally {
      // Reached early when the consumer stops (Kafka failed, interrupted): don't leave nfdump running.
      if (!isFinished) child.kill('SIGTERM');
    }
  }
}

function stderrText(lines: readonly string[]): string {
  return lines.length === 0 ? '' : `: ${lines.join(' | ')}`;
}

function nfdumpMissing(command: string, cause: unknown): IngestError {
  return new IngestError(
    `nfdump is not installed (command "${command}" not found); install it with: apt-get install nfdump`,
    { code: 'THEMIS_NFDUMP_MISSING', retriable: false, cause },
  );
}

/** Runs `nfdump -V` and returns its version line; throws THEMIS_NFDUMP_MISSING when it can't be run. */
export async function nfdumpVersion(nfdump: NfdumpCommand): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(nfdump.command, ['-V'], { env: { ...nfdump.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.once('error', (error) => reject(nfdumpMissing(nfdump.command, error)));
    child.once('close', (code) => {
      if (code === 0) resolve(output.trim());
      else reject(nfdumpMissing(nfdump.command, new Error(`"${nfdump.command} -V" exited with status ${code}: ${output.trim()}`)));
    });
  });
}

/**
 * The nfcapd files named by `paths`: a file as given, a directory as every file under it whose name
 * starts with `nfcapd.`, sorted by path (nfcapd names carry the time slot, so this is time order),
 * except `nfcapd.current.*`, which nfcapd is still writing. A directory without nfcapd files is an
 * error, not a silent no-op (the original looped over a literal glob, §15 item 53).
 */
export async function listNfcapdFiles(paths: readonly string[]): Promise<{ files: string[]; problems: string[] }> {
  const files: string[] = [];
  const problems: string[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      problems.push(`${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`);
      continue;
    }
    if (info.isFile()) {
      files.push(path);
      continue;
    }
    const found = (await readdir(path, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile() && entry.name.startsWith('nfcapd.') && !entry.name.startsWith('nfcapd.current.'))
      .map((entry) => join(entry.parentPath, entry.name))
      .sort();
    if (found.length === 0) problems.push(`${path}: directory holds no nfcapd.* files`);
    files.push(...found);
  }
  return { files, problems };
}
