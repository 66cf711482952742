import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../../runtime/index.js';
import { FileIntelLookup } from '../intel/file-intel-lookup.js';
import { loadAsnListFile, loadPortListFile, loadProtocolListFile } from '../lists/integer-list.js';
import { loadKnownHostServicesFile } from '../lists/known-host-services.js';
import { ListFileError } from '../lists/list-file-error.js';
import { loadSuspectCountriesFile } from '../lists/suspect-countries.js';
import { MmdbReader } from '../lookup/mmdb-reader.js';
import type { ThemisConfig } from '../themis-config.js';

/**
 * What `submit` checks in the main thread before any worker starts (issue 13): the output
 * directory and every data file the run will open, each loaded by the loader its bolt uses, so a
 * file that passes here is one the workers can use. Each problem is one line naming the file and
 * what is wrong; `cause` keeps the original error for --verbose.
 */
export interface StartProblem {
  readonly line: string;
  readonly cause?: unknown;
}

/** Bad lines of one list file reported before "... and N more". */
const MAX_LINES_PER_FILE = 5;

const quietLog: Logger = { info() {}, warn() {}, error() {} };

/**
 * The output directory of the file outputs: created if missing (the run would create it), then
 * it must be a writable directory. (The output files in it are checked when the run starts them.)
 */
export function checkOutputDir(dir: string): StartProblem[] {
  const made = makeDirectory(dir);
  if (made !== null) return [made];
  try {
    accessSync(dir, constants.W_OK);
  } catch (cause) {
    return [{ line: `--output-dir ${dir}: not writable (${errorCode(cause)})`, cause }];
  }
  return [];
}

/**
 * Creates `dir` and its missing parents one at a time. Not mkdirSync's `recursive`: where mkdir
 * answers ENOENT for a parent that exists (under /proc), Node's recursive mkdir retries forever.
 */
function makeDirectory(dir: string): StartProblem | null {
  const missing: string[] = [];
  let p = dir;
  for (;;) {
    let stat;
    try {
      stat = statSync(p, { throwIfNoEntry: false });
    } catch (cause) {
      // ENOTDIR: a file stands where a parent directory should be; found on the way up.
      if (errorCode(cause) !== 'ENOTDIR') return { line: `--output-dir ${dir}: cannot read ${p} (${errorCode(cause)})`, cause };
    }
    if (stat !== undefined) {
      if (!stat.isDirectory()) return { line: `--output-dir ${dir}: ${p === dir ? 'is' : `${p} is`} a file, not a directory` };
      break;
    }
    if (dirname(p) === p) break;
    missing.unshift(p);
    p = dirname(p);
  }
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (cause) {
      return { line: `--output-dir ${dir}: cannot create ${m === dir ? 'it' : m} (${errorCode(cause)})`, cause };
    }
  }
  return null;
}

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
}

/**
 * Every data file the run reads under `dataDir`: the MaxMind databases (ASN, city, and the
 * IP lists), the integer lists, and the lists and intel a service does not replace (known host
 * services and suspect countries come from PostgreSQL with --postgres, intel from Redis with
 * --redis).
 */
export async function checkDataFiles(
  dataDir: string,
  f: ThemisConfig['files'],
  replacedBy: { readonly postgres: boolean; readonly redis: boolean },
): Promise<StartProblem[]> {
  const path = (name: string) => join(dataDir, name);
  const checks: Array<Promise<unknown>> = [];
  const problems: StartProblem[][] = [];
  const check = (load: () => unknown) => {
    const slot: StartProblem[] = [];
    problems.push(slot);
    checks.push(
      Promise.resolve()
        .then(load)
        .catch((cause: unknown) => slot.push(...describe(cause))),
    );
  };
  for (const name of [f.geoAsn, f.geoCity, f.activeHosts, f.emergingThreats, f.alienVault, f.ndpiGood]) check(() => MmdbReader.open(path(name)));
  check(() => loadAsnListFile(path(f.asns)));
  check(() => loadProtocolListFile(path(f.validProtocols)));
  for (const name of [f.honeypotPorts, f.tcpInsecurePorts, f.udpInsecurePorts, f.tcpKnownPorts, f.udpKnownPorts]) check(() => loadPortListFile(path(name)));
  if (!replacedBy.postgres) {
    check(() => loadKnownHostServicesFile(path(f.knownHostServices)));
    check(() => loadSuspectCountriesFile(path(f.suspectCountries)));
  }
  if (!replacedBy.redis) check(() => FileIntelLookup.load(path('intelmq-events.jsonl'), { nowSecs: Math.floor(Date.now() / 1000), log: quietLog }));
  await Promise.all(checks);
  return problems.flat();
}

/** One line per problem: a list file's bad lines each (the first few), anything else its message. */
function describe(cause: unknown): StartProblem[] {
  if (cause instanceof ListFileError && cause.problems.length > 0) {
    const lines: StartProblem[] = cause.problems
      .slice(0, MAX_LINES_PER_FILE)
      .map((p) => ({ line: `${cause.file}${p.line > 0 ? `:${p.line}` : ''}: ${p.reason}${p.text === '' ? '' : `: ${JSON.stringify(p.text)}`}`, cause }));
    const more = cause.problems.length - MAX_LINES_PER_FILE;
    if (more > 0) lines.push({ line: `${cause.file}: and ${more} more bad line${more === 1 ? '' : 's'}` });
    return lines;
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return [{ line: message.split('\n')[0]!, cause }];
}
