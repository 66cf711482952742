import { Redis, type RedisOptions } from 'ioredis';
import type { Logger, MetricCounter } from '../../runtime/index.js';
import type { IntelEntry, IntelLookup } from '../stores.js';
import { describeCause, IntelError, redisError } from './errors.js';
import { canonicalIpText } from './file-intel-lookup.js';
import { intelEntriesFromHash, intelKey } from './intelmq-aggregate.js';

/**
 * Production intel store: the original's Redis layout (reference §10), hash `intel-mq-<ip>` in
 * db 14, written by `themis-intel load` or the original IntelMQ bot.
 *
 * lookupMany sends one HGETALL per distinct address of the batch that the cache cannot answer, all
 * in one pipeline: one round trip per batch, whatever its size. Answers, empty ones included, are
 * kept for `cacheTtlMs` (default 10 s), so a busy remote address costs one read per 10 s; intel
 * therefore reaches the scorer up to that late. A value the scorer cannot read is logged and
 * counted, its good neighbours are used (fixes §15 item 22); a failed read is an IntelError
 * (THEMIS_REDIS, retriable): the bolt keeps the batch and asks again with backoff (IntelMqBolt).
 */

export const DEFAULT_INTEL_REDIS_DB = 14;
export const DEFAULT_INTEL_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_CACHE_TTL_MS = 10_000;
export const DEFAULT_CACHE_MAX_ENTRIES = 50_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

export interface IntelRedisTarget {
  /** ioredis connection settings: host, port, db, credentials, TLS for rediss:. */
  readonly connection: RedisOptions;
  /** host:port/db, for messages (no credentials). */
  readonly target: string;
}

/**
 * Reads `redis://[user:password@]host[:port][/db]` (or rediss:). `db` overrides the URL's db; with
 * neither, db 14 as in the original.
 */
export function parseIntelRedisUrl(url: string, db?: number): IntelRedisTarget {
  const fail = (why: string) =>
    new IntelError(`Redis URL ${JSON.stringify(url)} ${why}`, { code: 'THEMIS_INTEL_CONFIG', operation: 'read Redis URL', retriable: false });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw fail('is not a URL (expected redis://host:port/db)');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw fail('must start with redis:// or rediss://');
  if (parsed.hostname === '') throw fail('names no host');
  const path = parsed.pathname.replace(/^\/|\/$/g, '');
  if (path !== '' && !/^\d{1,5}$/.test(path)) throw fail(`has db ${JSON.stringify(path)}; the db must be a number (redis://host:port/14)`);
  if (db !== undefined && !(Number.isInteger(db) && db >= 0)) throw fail(`db ${db} must be a whole number >= 0`);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const dbNumber = db ?? (path === '' ? DEFAULT_INTEL_REDIS_DB : Number(path));
  return {
    connection: {
      host,
      port,
      db: dbNumber,
      ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
      ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
      ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    },
    target: `${parsed.host}/${dbNumber}`,
  };
}

export interface RedisIntelLookupOptions {
  /** Overrides the URL's db; default 14. */
  readonly db?: number;
  /** Put before every key (`<prefix>intel-mq-<ip>`); default none, as the original. */
  readonly keyPrefix?: string;
  readonly cacheTtlMs?: number;
  /** Addresses cached at most; the soonest to expire is dropped first. */
  readonly cacheMaxEntries?: number;
  /** A read taking longer fails (and the batch is replayed). */
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly log: Logger;
  /** Counts hash values the scorer cannot read. */
  readonly badValues?: MetricCounter;
  /** Epoch milliseconds; the cache's clock. */
  readonly nowMs?: () => number;
}

export class RedisIntelLookup implements IntelLookup {
  readonly target: string;
  private readonly client: Redis;
  private readonly keyPrefix: string;
  private readonly cache: TtlCache<readonly IntelEntry[]>;
  private readonly log: Logger;
  private readonly badValues: MetricCounter | undefined;
  private readonly nowMs: () => number;
  /** The connection error last logged; reconnect attempts repeat it, and it is logged once. */
  private lastConnectionError: string | undefined;

  constructor(url: string, options: RedisIntelLookupOptions) {
    const { connection, target } = parseIntelRedisUrl(url, options.db);
    const cacheTtlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    const cacheMaxEntries = options.cacheMaxEntries ?? DEFAULT_CACHE_MAX_ENTRIES;
    if (!(cacheTtlMs >= 0) || !(Number.isInteger(cacheMaxEntries) && cacheMaxEntries >= 0)) {
      throw new IntelError(`cacheTtlMs (${cacheTtlMs}) and cacheMaxEntries (${cacheMaxEntries}) must be >= 0; 0 turns the cache off`, {
        code: 'THEMIS_INTEL_CONFIG',
        operation: 'create Redis intel lookup',
        retriable: false,
      });
    }
    this.target = target;
    this.keyPrefix = options.keyPrefix ?? '';
    this.cache = new TtlCache(cacheTtlMs, cacheMaxEntries);
    this.log = options.log;
    this.badValues = options.badValues;
    this.nowMs = options.nowMs ?? Date.now;
    this.client = new Redis({
      ...connection,
      connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      commandTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      // While Redis is away a read waits for one reconnect attempt, then rejects: the bolt's
      // breaker then holds the batch and retries it, instead of ioredis queueing it unseen.
      maxRetriesPerRequest: 1,
    });
    this.client.on('error', (err: unknown) => {
      const message = describeCause(err);
      if (message === this.lastConnectionError) return;
      this.lastConnectionError = message;
      this.log.warn('intel Redis connection failed; reconnecting', { target, error: message });
    });
    this.client.on('ready', () => {
      if (this.lastConnectionError === undefined) return;
      this.lastConnectionError = undefined;
      this.log.info('intel Redis connection restored', { target });
    });
  }

  /** Keyed by the texts asked for; an address without intel (or not an address) maps to []. */
  async lookupMany(ips: readonly string[]): Promise<Map<string, IntelEntry[]>> {
    const now = this.nowMs();
    const answer = new Map<string, IntelEntry[]>();
    /** canonical text -> the texts asked for that spell it */
    const misses = new Map<string, string[]>();
    for (const ip of ips) {
      if (answer.has(ip)) continue;
      const canonical = canonicalIpText(ip);
      const cached = canonical === null ? NO_ENTRIES : this.cache.get(canonical, now);
      if (cached !== undefined) {
        answer.set(ip, cached as IntelEntry[]);
        continue;
      }
      const spellings = misses.get(canonical!);
      if (spellings === undefined) misses.set(canonical!, [ip]);
      else spellings.push(ip);
      // Reserves the slot: a repeat of `ip` later in the batch is skipped by answer.has.
      answer.set(ip, NO_ENTRIES as IntelEntry[]);
    }
    if (misses.size === 0) return answer;

    const canonicals = [...misses.keys()];
    const pipeline = this.client.pipeline();
    for (const ip of canonicals) pipeline.hgetall(this.key(ip));
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await pipeline.exec();
    } catch (cause) {
      throw redisError(`look up ${canonicals.length} IPs`, this.target, cause);
    }
    if (replies === null || replies.length !== canonicals.length) {
      throw redisError(`look up ${canonicals.length} IPs`, this.target, new Error('the pipeline returned no replies'));
    }
    for (let i = 0; i < canonicals.length; i++) {
      const [err, hash] = replies[i]!;
      const entries = err === null ? this.entriesOf(canonicals[i]!, hash) : this.failedRead(canonicals[i]!, err);
      this.cache.set(canonicals[i]!, Object.freeze(entries), now);
      for (const ip of misses.get(canonicals[i]!)!) answer.set(ip, entries);
    }
    return answer;
  }

  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch (err) {
      // Already closed or unreachable: drop the socket instead of waiting for a goodbye.
      this.log.warn('intel Redis did not close cleanly; disconnecting', { target: this.target, error: describeCause(err) });
      this.client.disconnect();
    }
  }

  private key(ip: string): string {
    return `${this.keyPrefix}${intelKey(ip)}`;
  }

  private entriesOf(ip: string, hash: unknown): IntelEntry[] {
    const { entries, errors } = intelEntriesFromHash(hash as Record<string, string>);
    if (errors.length > 0) {
      this.badValues?.inc(errors.length);
      this.log.warn('intel hash values skipped', { target: this.target, key: this.key(ip), errors });
    }
    return entries;
  }

  /**
   * A key holding another type (WRONGTYPE) is someone else's data: a replay would fail the same
   * way, so it reads as "no intel" and is reported. Any other error fails the batch.
   */
  private failedRead(ip: string, err: Error): IntelEntry[] {
    if (!err.message.startsWith('WRONGTYPE')) throw redisError(`HGETALL ${this.key(ip)}`, this.target, err);
    this.badValues?.inc();
    this.log.warn('intel key is not a hash; ignored', { target: this.target, key: this.key(ip), error: err.message });
    return [];
  }
}

const NO_ENTRIES: readonly IntelEntry[] = Object.freeze([]);

/**
 * A Map in insertion order is a queue by expiry here: every entry lives the same `ttlMs` and a
 * refresh re-inserts, so the first entry is always the soonest to expire and the one to evict.
 */
class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAtMs: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get(key: string, nowMs: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs > nowMs) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, nowMs: number): void {
    if (this.ttlMs === 0 || this.maxEntries === 0) return;
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expiresAtMs: nowMs + this.ttlMs });
  }
}
