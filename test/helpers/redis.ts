import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { describeCause } from '../../bolts/intel/errors.js';
import { parseIntelRedisUrl } from '../../bolts/intel/redis-intel-lookup.js';

/** Db 15 of the machine's Redis (db 14 is Themis's default); THEMIS_TEST_REDIS_URL overrides it. */
export const TEST_REDIS_URL = process.env['THEMIS_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379/15';

/** A client of the test db that fails at once instead of reconnecting. */
export function testRedisClient(url = TEST_REDIS_URL): Redis {
  const client = new Redis({ ...parseIntelRedisUrl(url).connection, lazyConnect: true, connectTimeout: 3_000, retryStrategy: () => null });
  // The same failure rejects the pending connect or command, which is where a test sees it; without
  // a listener ioredis would also print it as an unhandled error event.
  client.on('error', () => undefined);
  return client;
}

/**
 * Fails the run when Redis does not answer: integration tests need the real server, and a missing
 * one is named rather than skipped.
 */
export async function requireRedis(url = TEST_REDIS_URL): Promise<void> {
  const client = testRedisClient(url);
  try {
    await client.connect();
    await client.ping();
  } catch (cause) {
    throw new Error(
      `Redis is not reachable at ${url} (${describeCause(cause)}). ` +
        'Start it (redis-server, listening on 127.0.0.1:6379), or set THEMIS_TEST_REDIS_URL, then run the tests again.',
      { cause },
    );
  } finally {
    client.disconnect();
  }
}

export interface TestKeys {
  /** A prefix no other test or run uses; every key a test writes starts with it. */
  readonly prefix: string;
  /** Connected to the test db. */
  readonly redis: Redis;
  readonly url: string;
}

/** Runs `test` with its own key prefix and deletes every key under it afterwards, whatever the outcome. */
export async function withTestKeys<T>(test: (t: TestKeys) => Promise<T>, url = TEST_REDIS_URL): Promise<T> {
  const prefix = `themis-test-${process.pid}-${randomBytes(4).toString('hex')}:`;
  const redis = testRedisClient(url);
  await redis.connect();
  try {
    return await test({ prefix, redis, url });
  } finally {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
  }
}

/**
 * A TCP proxy in front of the real Redis that shows whether a client pipelines. Once `hold(n)` is
 * called it stops passing replies to the client until the client has sent `n` commands (or until
 * `giveUpMs` passes): a client that waits for a reply between commands cannot reach `n`, so
 * `sentBeforeFirstReply` reveals how many commands went out in the first round trip.
 */
export class RoundTripProxy {
  /** Commands (RESP arrays) received from clients since the proxy started. */
  commands = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private holding: { until: number; replies: { socket: Socket; data: Buffer }[]; timer: NodeJS.Timeout } | undefined;
  private releasedAt: number | undefined;
  private heldFrom = 0;

  private constructor(private readonly target: { host: string; port: number }) {}

  static async start(url = TEST_REDIS_URL): Promise<{ proxy: RoundTripProxy; url: string }> {
    const { connection } = parseIntelRedisUrl(url);
    const proxy = new RoundTripProxy({ host: connection.host!, port: connection.port! });
    const server = createServer((client) => proxy.pipe(client));
    proxy.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    return { proxy, url: `redis://127.0.0.1:${port}/${connection.db}` };
  }

  /** Holds replies until `n` more commands have arrived. */
  hold(n: number, giveUpMs = 2_000): void {
    this.heldFrom = this.commands;
    this.releasedAt = undefined;
    this.holding = { until: this.commands + n, replies: [], timer: setTimeout(() => this.release(), giveUpMs) };
  }

  /** Commands received between hold() and the first reply passed on. */
  get sentBeforeFirstReply(): number {
    return (this.releasedAt ?? this.commands) - this.heldFrom;
  }

  async close(): Promise<void> {
    this.release();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }

  private pipe(client: Socket): void {
    const upstream = connect(this.target);
    this.sockets.add(client).add(upstream);
    let tail = '';
    client.on('data', (data) => {
      // A RESP command starts with `*<argc>\r\n`; keys and values here never contain that sequence.
      // `tail` (the end of the previous chunk) finds a command start split between two chunks; the
      // starts inside it were counted with that chunk.
      const text = tail + data.toString('latin1');
      this.commands += countCommandStarts(text) - countCommandStarts(tail);
      tail = text.slice(-16);
      upstream.write(data);
      if (this.holding !== undefined && this.commands >= this.holding.until) this.release();
    });
    upstream.on('data', (data) => {
      if (this.holding === undefined) client.write(data);
      else this.holding.replies.push({ socket: client, data });
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }

  private release(): void {
    if (this.holding === undefined) return;
    clearTimeout(this.holding.timer);
    this.releasedAt = this.commands;
    const { replies } = this.holding;
    this.holding = undefined;
    for (const { socket, data } of replies) socket.write(data);
  }
}

const COMMAND_START = /(?:^|\r\n)\*\d+\r\n/g;

function countCommandStarts(text: string): number {
  return text.match(COMMAND_START)?.length ?? 0;
}
