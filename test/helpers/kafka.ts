import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { Kafka, logLevel, type Admin } from 'kafkajs';

/**
 * Fails the run when no broker answers: integration tests need the real broker that
 * `npm run kafka:up` starts, and a missing one is named rather than skipped. One attempt with
 * short timeouts, so a stopped broker is reported within a few seconds.
 */
export async function requireKafka(brokers = ['127.0.0.1:9092']): Promise<void> {
  const admin = new Kafka({
    clientId: 'themis-test-require-kafka',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new Error(
      `Kafka broker is not running at ${brokers.join(',')} (${reason}). ` +
        'Start it with `npm run kafka:up`, then run the tests again.',
      { cause },
    );
  } finally {
    await admin.disconnect();
  }
}

/**
 * A topic name no other test or run uses: the prefix, this process and 6 random bytes.
 * Characters outside Kafka's topic alphabet in the prefix become "-".
 */
export function uniqueTopic(prefix: string): string {
  const safePrefix = prefix.replace(/[^a-zA-Z0-9._-]/g, '-');
  return `${safePrefix}-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/**
 * Deletes test consumer groups. A consumer that has just left may still be listed for a moment
 * (the broker answers NON_EMPTY_GROUP), so this retries for a few seconds. A group the broker no
 * longer knows is already gone. Cleanup that still fails is reported on stderr, not thrown: the
 * test's assertions have run, and the broker drops an empty group after its retention anyway.
 */
export async function deleteGroupsEventually(admin: import('kafkajs').Admin, groups: readonly string[]): Promise<void> {
  let pending = [...groups];
  for (let attempt = 0; pending.length > 0; attempt++) {
    try {
      await admin.deleteGroups(pending);
      return;
    } catch (err) {
      const perGroup = (err as { groups?: Array<{ groupId: string; errorCode: number; error?: { type?: string } }> }).groups ?? [];
      // 69: GROUP_ID_NOT_FOUND: nothing left to delete.
      const failed = perGroup.filter((g) => g.errorCode !== 0 && g.errorCode !== 69).map((g) => g.groupId);
      pending = perGroup.length > 0 ? failed : pending;
      if (pending.length === 0) return;
      if (attempt >= 20) {
        process.stderr.write(`test cleanup: cannot delete consumer groups ${pending.join(', ')}: ${(err as Error).message} ${JSON.stringify(perGroup.map((g) => g.error?.type ?? g.errorCode))}\n`);
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * A test file's Kafka cleanup: its consumer groups first (deleting a topic also drops the offsets
 * that keep an empty group in existence), then those of its topics that exist.
 */
export async function deleteTestTopicsAndGroups(admin: import('kafkajs').Admin, what: { topics: readonly string[]; groups?: readonly string[] }): Promise<void> {
  if (what.groups !== undefined && what.groups.length > 0) await deleteGroupsEventually(admin, what.groups);
  const present = new Set(await admin.listTopics());
  const topics = what.topics.filter((topic) => present.has(topic));
  if (topics.length > 0) await admin.deleteTopics({ topics });
}

/** What a Kafka integration test file gets from `useTestBroker`. */
export interface TestBroker {
  readonly brokers: string[];
  /** An admin client of the broker, connected before the file's first test. */
  readonly admin: Admin;
  /** A topic name no other test uses, deleted after the file's last test. */
  topic(prefix: string): string;
  /** A consumer group id no other test uses, deleted after the file's last test. */
  group(prefix: string): string;
}

/**
 * The broker set-up a Kafka integration test file shares, registered as its hooks: before the
 * first test, the broker must answer (`requireKafka`) and an admin client connects; after the
 * last, the groups and topics named through `topic` and `group` are deleted and the client
 * disconnects. A failed set-up is thrown again before every test, so a missing broker fails each
 * test of the file by name rather than leaving them skipped behind one failed hook.
 */
export function useTestBroker(clientId: string, brokers: readonly string[] = ['127.0.0.1:9092']): TestBroker {
  let admin: Admin | undefined;
  let setupError: unknown;
  const topics: string[] = [];
  const groups: string[] = [];
  beforeAll(async () => {
    try {
      await requireKafka([...brokers]);
      const client = new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
      await client.connect();
      admin = client;
    } catch (err) {
      setupError = err;
    }
  });
  beforeEach(() => {
    if (setupError !== undefined) throw setupError;
  });
  afterAll(async () => {
    if (admin === undefined) return;
    await deleteTestTopicsAndGroups(admin, { topics, groups });
    await admin.disconnect();
  });
  const named = (list: string[], prefix: string) => {
    const name = uniqueTopic(prefix);
    list.push(name);
    return name;
  };
  return {
    brokers: [...brokers],
    get admin(): Admin {
      if (admin === undefined) throw new Error('the Kafka admin client is connected in beforeAll; use it inside a test or hook');
      return admin;
    },
    topic: (prefix) => named(topics, prefix),
    group: (prefix) => named(groups, prefix),
  };
}
