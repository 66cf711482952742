import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BackgroundCli } from '../helpers/background-cli.js';
import { TEST_REDIS_BASE_URL, TEST_REDIS_DB } from '../helpers/deployment.js';
import { feed, icmpLine, jsonLines, startStreamTopology, summaryWithoutReplays, tempDir, type Feed } from '../helpers/flow-stream.js';
import { eventually } from '../helpers/postgres.js';
import { requireRedis, testRedisClient } from '../helpers/redis.js';

/**
 * Issue 13: Redis paused (CLIENT PAUSE 10000 ALL: every client of the server waits) while the
 * topology scores a stream of flows with intel from Redis. The intel bolt must hold its batches
 * under its circuit breaker (opened when a read has no answer within a quarter of the message
 * timeout, before any root could time out) and score them once Redis answers: every flow scored
 * once, none ignored, no replay (the message timeout is a fifth of the pause). Every flow has a
 * remote address of its own, so the intel cache cannot answer for Redis.
 */

const PAUSE_MS = 10_000;
const FLOWS = 1_500;
const FLOWS_PER_SEC = 100;
const FIRST_ID = 2_000_000;
const WAIT_MS = 45_000;
const REDIS_URL = `${TEST_REDIS_BASE_URL}/${TEST_REDIS_DB}`;

describe('Redis paused while flows stream in (intel from Redis)', () => {
  let topology: BackgroundCli | undefined;
  let dir: string | undefined;

  afterAll(async () => {
    if (topology && topology.child.exitCode === null && topology.child.signalCode === null) await topology.stop('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('scores every flow once after the pause: nothing failed, ignored or replayed, the breaker logged open then closed', async () => {
    await requireRedis(REDIS_URL);
    dir = tempDir('themis-redis-pause');
    const config = { redis: { intelKeyPrefix: `themis-test-pause-${randomBytes(4).toString('hex')}:` } };
    const started = startStreamTopology('redis-pause', dir, config, ['--redis', TEST_REDIS_BASE_URL, '--redis-db', String(TEST_REDIS_DB)]);
    const running = (topology = started.topology);
    const scoredFile = join(started.out, 'scored-flows.jsonl');
    let flows: Feed | undefined;
    try {
      flows = feed(running.child.stdin!, FLOWS, FLOWS_PER_SEC, (n) => icmpLine(FIRST_ID + n, `45.${(n >> 8) & 255}.${n & 255}.7`));
      await eventually('the first flows are scored', () => jsonLines(scoredFile).length >= 200, WAIT_MS, 100);
      const admin = testRedisClient(REDIS_URL);
      await admin.connect();
      try {
        await admin.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL');
      } finally {
        admin.disconnect();
      }
      await eventually('the topology logs its breaker open', () => /circuit breaker open.*"dependency":"redis"/.test(running.stderr()), WAIT_MS, 100);
      expect(flows.sent(), 'flows sent by the time the breaker opened: the stream spans the pause').toBeLessThan(FLOWS);
      await eventually('the topology logs its breaker closed', () => /circuit breaker closed.*"dependency":"redis"/.test(running.stderr()), WAIT_MS, 100);
      await flows.done;
      running.child.stdin!.end();
      const result = await running.waitForExit(WAIT_MS);
      expect({ code: result.code, signal: result.signal }, result.stderr.slice(-3000)).toEqual({ code: 0, signal: null });
      expect(result.stderr, result.stderr.slice(-2000)).toMatch(summaryWithoutReplays(FLOWS));
    } finally {
      await flows?.done.catch(() => undefined);
    }

    const ids = jsonLines(scoredFile).map((r) => r.flow_id as number);
    expect(ids.length, 'scored records').toBe(FLOWS);
    expect(new Set(ids)).toEqual(new Set(Array.from({ length: FLOWS }, (_, i) => FIRST_ID + i)));
    expect(jsonLines(join(started.out, 'ignored-flows.jsonl')), 'ignored-flows records').toEqual([]);
  }, 120_000);
});
