import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import type { Pool } from 'pg';
import { createPool } from '../../bolts/postgres/pool.js';
import { createTopics } from '../../spouts/kafka/create-topics.js';
import { runCli, type CliResult } from './cli.js';
import { deleteGroupsEventually, requireKafka, uniqueTopic } from './kafka.js';
import { recordingLogger, requirePostgres, TEST_POSTGRES_URL } from './postgres.js';
import { requireRedis, TEST_REDIS_URL, testRedisClient } from './redis.js';

/**
 * One production-mode deployment of Themis for one test: its own five topics, PostgreSQL schema
 * (migrated and seeded from the shipped CSV lists), Redis key prefix in the test db, consumer
 * group and --config file, all named after one unique instance name and removed by
 * teardownDeployment.
 */

export const TEST_BROKERS = ['127.0.0.1:9092'];
const testRedis = new URL(TEST_REDIS_URL);
/** The test db of TEST_REDIS_URL (15 by default) apart from the server, as the topology takes it (--redis, --redis-db) and themis-intel (--redis, --db). */
export const TEST_REDIS_BASE_URL = `${testRedis.protocol}//${testRedis.host}`;
export const TEST_REDIS_DB = Number(testRedis.pathname.slice(1) || '15');

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DATA_SOURCES = join(ROOT, 'data_sources');

export interface TestTopics {
  readonly input: string;
  readonly ignored: string;
  readonly scored: string;
  readonly scoredDetail: string;
  readonly scanCandidates: string;
}

export interface TestDeployment {
  /** The topology's instance name (its consumer group is `themis-<name>`), and the prefix of every topic and key. */
  readonly name: string;
  /** The broker its topics are on (TEST_BROKERS unless the test runs a broker of its own). */
  readonly brokers: readonly string[];
  readonly topics: TestTopics;
  readonly schema: string;
  readonly postgresUrl: string;
  /** Connections with the schema as search_path. */
  readonly pool: Pool;
  /** Redis keys of the intel live under it (config redis.intelKeyPrefix). */
  readonly intelKeyPrefix: string;
  /** Whether the test uses Redis, so teardown deletes the keys under intelKeyPrefix. */
  readonly usesRedis: boolean;
  /** A temporary directory for the test's files; removed on teardown. */
  readonly dir: string;
  /** `--config` of the topology: topics.* and redis.intelKeyPrefix of this deployment. */
  readonly configPath: string;
}

/** Fails naming every service that does not answer (Kafka, PostgreSQL, Redis); nothing is skipped. */
export async function requireProductionServices({ redis = true }: { redis?: boolean } = {}): Promise<void> {
  const checks = [requireKafka(TEST_BROKERS), requirePostgres(TEST_POSTGRES_URL), ...(redis ? [requireRedis(`${TEST_REDIS_BASE_URL}/${TEST_REDIS_DB}`)] : [])];
  const failures = (await Promise.allSettled(checks)).flatMap((r) => (r.status === 'rejected' ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : []));
  if (failures.length > 0) throw new Error(`production-mode tests need every service running:\n  ${failures.join('\n  ')}`);
}

/** Runs one of our programs and fails with its output unless it exits 0. */
export async function runCliOk(program: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const result = await runCli(program, args, options);
  if (result.code !== 0) {
    throw new Error(`${program} ${args.join(' ')} exited ${result.code}\n--- stdout\n${result.stdout.slice(-3000)}\n--- stderr\n${result.stderr.slice(-3000)}`);
  }
  return result;
}

/** Creates the topics (4 partitions each), the migrated and seeded schema, and the config file. */
export async function provisionDeployment(
  label: string,
  { config = {}, redis = true, brokers = TEST_BROKERS }: { config?: Record<string, unknown>; redis?: boolean; brokers?: readonly string[] } = {},
): Promise<TestDeployment> {
  const name = uniqueTopic(label);
  const topics: TestTopics = {
    input: `${name}-netflow-json`,
    ignored: `${name}-ignored-flows`,
    scored: `${name}-scored-flows`,
    scoredDetail: `${name}-scored-flows-detail`,
    scanCandidates: `${name}-scan-candidates`,
  };
  const schema = name.replace(/[^a-z0-9]/g, '_');
  const intelKeyPrefix = `${name}-intel-mq-`;
  const dir = mkdtempSync(join(tmpdir(), `${label}-`));
  const configPath = join(dir, 'themis-config.json');
  writeFileSync(configPath, JSON.stringify({ topics, redis: { intelKeyPrefix }, ...config }, null, 2));
  const { log } = recordingLogger();
  const deployment: TestDeployment = { name, brokers, topics, schema, postgresUrl: TEST_POSTGRES_URL, pool: createPool(TEST_POSTGRES_URL, { schema, max: 2, log }), intelKeyPrefix, usesRedis: redis, dir, configPath };
  try {
    await createTopics({ brokers: [...brokers], topics: Object.values(topics), clientId: 'themis-test-deployment' });
    await runCliOk('themis-topology', ['db', 'migrate', '--postgres', TEST_POSTGRES_URL, '--schema', schema]);
    await runCliOk('themis-topology', [
      'db',
      'seed-config',
      '--postgres',
      TEST_POSTGRES_URL,
      '--schema',
      schema,
      '--services',
      join(DATA_SOURCES, 'known_host_services.csv'),
      '--countries',
      join(DATA_SOURCES, 'suspect_countries.csv'),
    ]);
  } catch (error) {
    try {
      await teardownDeployment(deployment);
    } catch (cleanupError) {
      throw new AggregateError([error, cleanupError], `provisioning deployment ${name} failed, and so did its cleanup`, { cause: cleanupError });
    }
    throw error;
  }
  return deployment;
}

/**
 * Deletes the topics and the consumer groups of the instance, drops the schema, deletes the Redis
 * keys under the prefix and removes the directory. Every step is tried; the failures are thrown
 * together at the end. The topology must have exited (a group with members cannot be deleted).
 */
export async function teardownDeployment(d: TestDeployment): Promise<void> {
  const failures: unknown[] = [];
  const step = async (what: string, work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (cause) {
      failures.push(new Error(`cleanup of ${d.name}: ${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause }));
    }
  };
  const admin = new Kafka({ clientId: 'themis-test-deployment', brokers: [...d.brokers], logLevel: logLevel.NOTHING }).admin();
  await step('connecting to Kafka', () => admin.connect());
  await step('deleting the topics', () => admin.deleteTopics({ topics: Object.values(d.topics), timeout: 10_000 }));
  await step('deleting the consumer groups', async () => {
    const { groups } = await admin.listGroups();
    const mine = groups.map((g) => g.groupId).filter((g) => g === `themis-${d.name}` || g.startsWith(d.name));
    await deleteGroupsEventually(admin, mine);
  });
  await step('disconnecting from Kafka', () => admin.disconnect());
  await step('closing the pool', () => d.pool.end());
  const { log } = recordingLogger();
  const adminPool = createPool(TEST_POSTGRES_URL, { max: 1, log });
  await step(`dropping schema ${d.schema}`, () => adminPool.query(`DROP SCHEMA IF EXISTS ${d.schema} CASCADE`));
  await step('closing the admin pool', () => adminPool.end());
  if (d.usesRedis) await step(`deleting Redis keys ${d.intelKeyPrefix}*`, () => deleteRedisKeys(`${d.intelKeyPrefix}*`));
  await step(`removing ${d.dir}`, async () => rmSync(d.dir, { recursive: true, force: true }));
  if (failures.length > 0) throw new AggregateError(failures, failures.map((f) => (f as Error).message).join('\n'));
}

/** Keys of the test db matching `pattern`. */
export async function redisKeys(pattern: string): Promise<string[]> {
  const redis = testRedisClient(`${TEST_REDIS_BASE_URL}/${TEST_REDIS_DB}`);
  await redis.connect();
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return keys;
  } finally {
    redis.disconnect();
  }
}

async function deleteRedisKeys(pattern: string): Promise<void> {
  const keys = await redisKeys(pattern);
  if (keys.length === 0) return;
  const redis = testRedisClient(`${TEST_REDIS_BASE_URL}/${TEST_REDIS_DB}`);
  await redis.connect();
  try {
    await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
