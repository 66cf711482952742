#!/usr/bin/env node
/**
 * themis-intel: feeds threat intel to the scorer.
 *
 *   themis-intel load [file|-] [--redis <url>] [--db <n>] [--key-prefix <p>] [--data-timeout <secs>] [--batch <n>]
 *
 * Reads IntelMQ events as IntelMQ's file output writes them (one JSON object per line; from the
 * file, or stdin for `-` or no file) and stores them in the original's Redis layout (reference
 * §10) with the original output bot's de-duplication and expiry (§11, via applyIntelEvent), so an
 * IntelMQ installation needs no custom bot: its file output piped here is enough. Loading the same
 * events again is harmless (equal content is merged), so a failed load can simply be rerun.
 *
 * Redis comes from --redis, else THEMIS_REDIS_URL, else redis://127.0.0.1:6379; the db from --db,
 * else the URL's path, else 14. Exit codes: 0 done (skipped lines included), 1 the input or Redis
 * failed, 2 invalid options.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Command, CommanderError } from 'commander';
import { Redis } from 'ioredis';
import { describeCause, IntelError, redisError } from '../bolts/intel/errors.js';
import { canonicalIpText } from '../bolts/intel/file-intel-lookup.js';
import {
  applyIntelEvent,
  DEFAULT_INTEL_DATA_TIMEOUT_SECS,
  intelKey,
  intelRecordFromLine,
  type IntelRecord,
} from '../bolts/intel/intelmq-aggregate.js';
import { DEFAULT_INTEL_REDIS_URL, parseIntelRedisUrl, type IntelRedisTarget } from '../bolts/intel/redis-intel-lookup.js';
import { isEntryPoint } from './is-entry-point.js';

const URL_ENV = 'THEMIS_REDIS_URL';
const EXIT_FAILED = 1;
const EXIT_INVALID_OPTIONS = 2;
export const DEFAULT_LOAD_BATCH = 1_000;
const MAX_LOAD_BATCH = 100_000;
/** Bad lines printed one by one; the rest are counted in the summary. */
const SHOWN_BAD_LINES = 10;
const PROGRESS_EVERY_MS = 1_000;

// ---------------------------------------------------------------------------------------------
// The load itself (also called directly by tests and other tools).

export interface IntelLoadSettings {
  /** Put before every key, as RedisIntelLookup's keyPrefix. */
  readonly keyPrefix: string;
  readonly dataTimeoutSecs: number;
  /** Events per Redis round trip pair (one HGETALL pipeline, one write pipeline). */
  readonly batchSize: number;
  /** Arrival time stamped on a batch's entries (epoch seconds), as the bot stamps each event. */
  readonly nowSecs: () => number;
  /** Every line that is not stored, with why. */
  readonly onSkippedLine?: (lineNumber: number, reason: string) => void;
  /** After every batch. */
  readonly onProgress?: (stats: IntelLoadStats) => void;
}

export interface IntelLoadStats {
  /** Lines read, blank ones included. */
  lines: number;
  /** Events written to Redis. */
  stored: number;
  skipped: number;
  /** Skipped lines per kind of reason (`no source.ip`, `invalid JSON`...). */
  readonly skippedByReason: Map<string, number>;
  /** One per IP per batch: the hash writes sent. */
  keyWrites: number;
  /** Fields removed: older than the data timeout, or replaced by the same content seen again. */
  fieldsRemoved: number;
}

interface PendingEvent {
  readonly ip: string;
  readonly record: IntelRecord;
  readonly lineNumber: number;
}

/**
 * Reads every line, applies events in batches, and resolves with the totals. Redis failures reject
 * with IntelError (THEMIS_REDIS); events of batches already written stay written. `lines` is first
 * iterated after an await: a source that emits before being iterated (a readline interface made
 * beforehand) loses lines, so wrap such a source as readLines does.
 */
export async function loadIntelEvents(lines: AsyncIterable<string>, redis: Redis, settings: IntelLoadSettings): Promise<IntelLoadStats> {
  const target = describeClient(redis);
  const stats: IntelLoadStats = { lines: 0, stored: 0, skipped: 0, skippedByReason: new Map(), keyWrites: 0, fieldsRemoved: 0 };
  const skip = (lineNumber: number, kind: string, reason: string) => {
    stats.skipped++;
    stats.skippedByReason.set(kind, (stats.skippedByReason.get(kind) ?? 0) + 1);
    settings.onSkippedLine?.(lineNumber, reason);
  };
  try {
    await redis.script('LOAD', APPLY_LUA);
  } catch (cause) {
    throw redisError('load the intel write script', target, cause);
  }

  let batch: PendingEvent[] = [];
  const flush = async () => {
    await storeBatch(redis, target, batch, settings, stats, skip);
    batch = [];
    settings.onProgress?.(stats);
  };
  for await (const raw of lines) {
    const lineNumber = ++stats.lines;
    const result = intelRecordFromLine(raw);
    if (result.kind === 'blank') continue;
    if (result.kind === 'skipped') {
      skip(lineNumber, skipKind(result.reason), result.reason);
      continue;
    }
    batch.push({ ip: canonicalIpText(result.ip)!, record: result.record, lineNumber });
    if (batch.length >= settings.batchSize) await flush();
  }
  if (batch.length > 0) await flush();
  return stats;
}

/** intelRecordFromLine's reasons, without the value that differs from line to line. */
function skipKind(reason: string): string {
  if (reason.startsWith('invalid JSON')) return 'invalid JSON';
  return reason.startsWith('source.ip ') ? 'source.ip is not an IP address' : reason;
}

/**
 * One batch: HGETALL of its distinct IPs in one pipeline, the bot's rule applied in memory to each
 * IP's events in order (so two events for one IP in a batch both count), then one pipeline with
 * one script call per IP writing the net change atomically.
 *
 * Between the read and the write another writer (the original bot, a second load) may add a field;
 * the script only deletes the fields named and adds ours, so nothing is lost, and at worst an equal
 * entry of the other writer stays until the next event for that IP prunes it.
 */
async function storeBatch(
  redis: Redis,
  target: string,
  batch: readonly PendingEvent[],
  settings: IntelLoadSettings,
  stats: IntelLoadStats,
  skip: (lineNumber: number, kind: string, reason: string) => void,
): Promise<void> {
  const byIp = new Map<string, PendingEvent[]>();
  for (const event of batch) {
    const events = byIp.get(event.ip);
    if (events === undefined) byIp.set(event.ip, [event]);
    else events.push(event);
  }
  const ips = [...byIp.keys()];
  const keys = ips.map((ip) => `${settings.keyPrefix}${intelKey(ip)}`);
  const reads = await execPipeline(target, `read ${keys.length} intel keys`, redis.pipeline(keys.map((key) => ['hgetall', key])));

  const nowSecs = settings.nowSecs();
  const writes: WriteCall[] = [];
  for (let i = 0; i < ips.length; i++) {
    const [err, hash] = reads[i]!;
    const events = byIp.get(ips[i]!)!;
    if (err !== null) {
      if (!err.message.startsWith('WRONGTYPE')) throw redisError(`HGETALL ${keys[i]}`, target, err);
      for (const event of events) skip(event.lineNumber, 'key holds a non-hash value', `${keys[i]} holds a non-hash value; event not stored`);
      continue;
    }
    const plan = planIntelWrite(hash as Record<string, string>, events, nowSecs, settings.dataTimeoutSecs);
    writes.push({ key: keys[i]!, args: [String(plan.keyTtlSecs), String(plan.deleteFields.length), ...plan.deleteFields, ...plan.setFields.flat()] });
    stats.stored += events.length;
    stats.fieldsRemoved += plan.deleteFields.length;
  }
  await writeAll(redis, target, writes);
  stats.keyWrites += writes.length;
}

interface IntelWritePlan {
  readonly deleteFields: string[];
  readonly setFields: [string, string][];
  readonly keyTtlSecs: number;
}

/** The net effect of `events`, in order, on a hash whose fields are `current`. */
function planIntelWrite(current: Record<string, string>, events: readonly PendingEvent[], nowSecs: number, dataTimeoutSecs: number): IntelWritePlan {
  const hash = new Map(Object.entries(current));
  let keyTtlSecs = dataTimeoutSecs;
  for (const { record } of events) {
    const change = applyIntelEvent(hash, record, nowSecs, dataTimeoutSecs);
    for (const field of change.deleteFields) hash.delete(field);
    hash.set(change.setField[0], change.setField[1]);
    keyTtlSecs = change.keyTtlSecs;
  }
  return {
    deleteFields: Object.keys(current).filter((field) => !hash.has(field)),
    setFields: [...hash].filter(([field, value]) => current[field] !== value),
    keyTtlSecs,
  };
}

/**
 * KEYS[1] the intel hash; ARGV[1] its TTL in seconds; ARGV[2] how many fields to delete (n);
 * ARGV[3 .. 2+n] those fields; the rest field/value pairs to set. Arguments go to HDEL/HSET in
 * slices of 500 because unpack() is bounded by Lua's C stack (~8000 values).
 */
const APPLY_LUA = `
local n = tonumber(ARGV[2])
for i = 3, 2 + n, 500 do
  redis.call('HDEL', KEYS[1], unpack(ARGV, i, math.min(i + 499, 2 + n)))
end
for i = 3 + n, #ARGV, 500 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return n
`;
const APPLY_SHA = createHash('sha1').update(APPLY_LUA).digest('hex');

interface WriteCall {
  readonly key: string;
  readonly args: string[];
}

/** One pipeline of EVALSHA; if Redis lost the script meanwhile (SCRIPT FLUSH, failover), loads it and resends those calls once. */
async function writeAll(redis: Redis, target: string, writes: readonly WriteCall[], isRetry = false): Promise<void> {
  if (writes.length === 0) return;
  const replies = await execPipeline(
    target,
    `write ${writes.length} intel keys`,
    redis.pipeline(writes.map((w) => ['evalsha', APPLY_SHA, '1', w.key, ...w.args])),
  );
  const lost: WriteCall[] = [];
  for (let i = 0; i < writes.length; i++) {
    const err = replies[i]![0];
    if (err === null) continue;
    if (!isRetry && err.message.startsWith('NOSCRIPT')) lost.push(writes[i]!);
    else throw redisError(`write ${writes[i]!.key}`, target, err);
  }
  if (lost.length === 0) return;
  try {
    await redis.script('LOAD', APPLY_LUA);
  } catch (cause) {
    throw redisError('load the intel write script', target, cause);
  }
  await writeAll(redis, target, lost, true);
}

async function execPipeline(target: string, operation: string, pipeline: ReturnType<Redis['pipeline']>): Promise<[Error | null, unknown][]> {
  let replies: [Error | null, unknown][] | null;
  try {
    replies = await pipeline.exec();
  } catch (cause) {
    throw redisError(operation, target, cause);
  }
  if (replies === null) throw redisError(operation, target, new Error('the pipeline returned no replies'));
  return replies;
}

function describeClient(redis: Redis): string {
  return `${redis.options.host ?? '?'}:${redis.options.port ?? '?'}/${redis.options.db ?? 0}`;
}

// ---------------------------------------------------------------------------------------------
// The command line.

export interface CliIo {
  readonly err: (line: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: Readable & { readonly isTTY?: boolean };
  readonly nowMs: () => number;
  readonly setExitCode: (code: number) => void;
}

const processIo: CliIo = {
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  stdin: process.stdin,
  nowMs: () => Date.now(),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

interface LoadFlags {
  redis?: string;
  db?: string;
  keyPrefix?: string;
  dataTimeout?: string;
  batch?: string;
}

interface LoadConfig {
  /** Undefined: stdin. */
  readonly file: string | undefined;
  readonly redis: IntelRedisTarget;
  readonly keyPrefix: string;
  readonly dataTimeoutSecs: number;
  readonly batchSize: number;
}

export function createProgram(io: CliIo = processIo): Command {
  const program = new Command('themis-intel').description('Feed threat intel to the Themis scorer');
  // Commander exits on its own for bad usage; the exit code is ours to choose (2), see main.
  program.exitOverride().configureOutput({ writeErr: (text) => io.err(text.trimEnd()) });
  program
    .command('load')
    .description('store IntelMQ events (JSON lines, as its file output writes them) in Redis for the scorer')
    .argument('[file]', 'events file; - or nothing for stdin')
    .option('--redis <url>', `redis://host:port[/db] (default: $${URL_ENV}, else ${DEFAULT_INTEL_REDIS_URL})`)
    .option('--db <n>', "Redis db, overriding the URL's (default: the URL's, else 14)")
    .option('--key-prefix <p>', 'put before every key, as the scorer is configured (default: none)')
    .option('--data-timeout <secs>', `entries older than this are pruned, and keys expire this long after their last write (default: ${DEFAULT_INTEL_DATA_TIMEOUT_SECS})`)
    .option('--batch <n>', `events per Redis round trip (default: ${DEFAULT_LOAD_BATCH}, at most ${MAX_LOAD_BATCH})`)
    .action(async (file: string | undefined, flags: LoadFlags) => {
      const { config, problems } = parseLoadFlags(file, flags, io);
      if (config === undefined) {
        for (const problem of problems) io.err(`themis-intel load: ${problem}`);
        io.setExitCode(EXIT_INVALID_OPTIONS);
        return;
      }
      await runLoad(config, io);
    });
  return program;
}

/** Checks every flag and reports all problems together. */
function parseLoadFlags(file: string | undefined, flags: LoadFlags, io: CliIo): { config?: LoadConfig; problems: string[] } {
  const problems: string[] = [];
  const whole = (flag: string, text: string | undefined, fallback: number, min: number, max: number): number => {
    if (text === undefined) return fallback;
    const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
    if (!(value >= min && value <= max)) problems.push(`${flag} (${text}) must be a whole number from ${min} to ${max}`);
    return value;
  };
  const db = flags.db === undefined ? undefined : whole('--db', flags.db, 0, 0, 1_000_000);
  const dataTimeoutSecs = whole('--data-timeout', flags.dataTimeout, DEFAULT_INTEL_DATA_TIMEOUT_SECS, 1, 2 ** 31 - 1);
  const batchSize = whole('--batch', flags.batch, DEFAULT_LOAD_BATCH, 1, MAX_LOAD_BATCH);

  const urlSource = flags.redis !== undefined ? '--redis' : io.env[URL_ENV] ? URL_ENV : undefined;
  const url = flags.redis ?? (io.env[URL_ENV] || DEFAULT_INTEL_REDIS_URL);
  let redis: IntelRedisTarget | undefined;
  try {
    redis = parseIntelRedisUrl(url, Number.isNaN(db) ? undefined : db);
  } catch (err) {
    if (!(err instanceof IntelError)) throw err;
    problems.push(`${urlSource ?? 'default Redis URL'}: ${err.message}`);
  }

  const input = file === undefined || file === '-' ? undefined : file;
  if (input === undefined && io.stdin.isTTY === true) {
    problems.push('no input: name an events file, or pipe events into stdin');
  }
  if (problems.length > 0 || redis === undefined) return { problems };
  return { config: { file: input, redis, keyPrefix: flags.keyPrefix ?? '', dataTimeoutSecs, batchSize }, problems };
}

async function runLoad(config: LoadConfig, io: CliIo): Promise<void> {
  const say = (line: string) => io.err(`themis-intel load: ${line}`);
  const inputName = config.file ?? 'stdin';
  let input: Readable;
  try {
    input = config.file === undefined ? io.stdin : (await open(config.file, 'r')).createReadStream();
  } catch (cause) {
    say(`cannot open ${config.file}: ${describeCause(cause)}`);
    io.setExitCode(EXIT_FAILED);
    return;
  }

  const redis = new Redis({
    ...config.redis.connection,
    lazyConnect: true,
    connectTimeout: 5_000,
    // A load fails at once when Redis goes away; rerunning it is safe.
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  let connectionError: string | undefined;
  redis.on('error', (err: unknown) => {
    connectionError = describeCause(err);
  });
  try {
    await redis.connect();
  } catch (cause) {
    say(`Redis is not reachable at ${config.redis.target}: ${connectionError ?? describeCause(cause)}`);
    say(`  is it running? Set --redis or ${URL_ENV} to the right redis://host:port/db.`);
    input.destroy();
    io.setExitCode(EXIT_FAILED);
    return;
  }

  const startedMs = io.nowMs();
  let lastProgressMs = startedMs;
  let shownBadLines = 0;
  let stats: IntelLoadStats | undefined;
  let progress: IntelLoadStats | undefined;
  try {
    stats = await loadIntelEvents(readLines(input), redis, {
      keyPrefix: config.keyPrefix,
      dataTimeoutSecs: config.dataTimeoutSecs,
      batchSize: config.batchSize,
      nowSecs: () => Math.floor(io.nowMs() / 1000),
      onSkippedLine: (lineNumber, reason) => {
        if (++shownBadLines <= SHOWN_BAD_LINES) say(`${inputName} line ${lineNumber} skipped: ${reason}`);
      },
      onProgress: (current) => {
        progress = current;
        const now = io.nowMs();
        if (now - lastProgressMs < PROGRESS_EVERY_MS) return;
        lastProgressMs = now;
        say(`${describeStats(current)} ...`);
      },
    });
  } catch (err) {
    const done = progress === undefined ? '' : ` after ${describeStats(progress)}`;
    if (err instanceof IntelError) say(`${err.message}${done}; rerunning the load is safe`);
    else say(`cannot read ${inputName}: ${describeCause(err)}${done}`);
    io.setExitCode(EXIT_FAILED);
    return;
  } finally {
    input.destroy();
    redis.disconnect();
  }

  const secs = ((io.nowMs() - startedMs) / 1000).toFixed(1);
  say(`done in ${secs} s: ${describeStats(stats)}; ${stats.keyWrites} key writes, ${stats.fieldsRemoved} old or repeated fields removed`);
  if (shownBadLines > SHOWN_BAD_LINES) say(`${shownBadLines - SHOWN_BAD_LINES} more skipped lines not shown`);
  say(`stored in Redis ${config.redis.target}${config.keyPrefix === '' ? '' : ` under key prefix ${JSON.stringify(config.keyPrefix)}`}`);
}

/**
 * The lines of `input`. The reader is created on the first next(): a readline interface reads as
 * soon as it exists, and lines it emits before its iterator is taken are lost (with a pipe on
 * stdin, the whole input).
 */
async function* readLines(input: Readable): AsyncGenerator<string> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    yield* lines;
  } finally {
    lines.close();
  }
}

function describeStats(stats: IntelLoadStats): string {
  const reasons = [...stats.skippedByReason].map(([reason, count]) => `${reason}: ${count}`).join(', ');
  return `${stats.lines} lines read, ${stats.stored} events stored, ${stats.skipped} skipped${reasons === '' ? '' : ` (${reasons})`}`;
}

async function main(io: CliIo): Promise<void> {
  try {
    await createProgram(io).parseAsync(process.argv);
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    // Commander has printed the reason (unknown option, missing value) or the help.
    io.setExitCode(err.exitCode === 0 ? 0 : EXIT_INVALID_OPTIONS);
  }
}

if (isEntryPoint(import.meta.url)) {
  await main(processIo);
}
