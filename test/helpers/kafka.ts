import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';

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
