import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { assertEveryIdAtLeastOnce, checkDeliveries, describeDeliveries } from '../helpers/at-least-once.js';
import { startCli, type BackgroundCli } from '../helpers/background-cli.js';
import { runCli } from '../helpers/cli.js';
import { cachedFlowInputs, expectedScoredRecords, ID_FIELD, inputIds } from '../helpers/generated-flows.js';
import { provisionDeployment, requireProductionServices, runCliOk, teardownDeployment, TEST_BROKERS, type TestDeployment } from '../helpers/deployment.js';
import { readTopicToEnd, topicSize } from '../helpers/read-topic.js';

/**
 * The proof of at-least-once: kill -9 the topology in the middle of a stream of 200,000
 * flows, start it again under the same instance name (so the same consumer group resumes from the
 * offsets it committed), and show that every input flow id comes out — scored alone, scored in
 * its conversation's record (`pair_flow_id`), or ignored — and that PostgreSQL holds exactly one
 * row per scored flow. Duplicates are allowed and reported.
 *
 * The flows come from bench/lib/flow-generator.ts (no bad lines, so every line has an id and
 * reaches Kafka) and are scored against bench/lib/bench-data.ts, where every generated address
 * resolves. Both are deterministic and cached in the temp directory, keyed by their sources.
 */

const FLOWS = 200_000;
const SEED = 20_240_312;
/** Kill once this share of the scored records the run will write has appeared. */
const KILL_AT_SHARE = 0.3;


/** The input offsets the group has committed, summed over partitions. */
async function committedOffsets(groupId: string, topic: string): Promise<number> {
  const admin = new Kafka({ clientId: 'themis-test-crash', brokers: TEST_BROKERS, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (offsets?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

const secondsSince = (startMs: number) => ((Date.now() - startMs) / 1000).toFixed(1);

describe('crash recovery: kill -9 in the middle of a stream of 200,000 flows', () => {
  let d: TestDeployment | undefined;
  let first: BackgroundCli | undefined;

  afterAll(async () => {
    if (first && first.child.exitCode === null && first.child.signalCode === null) await first.stop('SIGKILL');
    if (d) await teardownDeployment(d);
  }, 60_000);

  it('after a restart every input flow is scored or ignored at least once, and PostgreSQL accounts for every scored flow in one row per id', async () => {
    const timings: string[] = [];
    let mark = Date.now();
    const time = (what: string) => {
      timings.push(`${what} ${secondsSince(mark)} s`);
      mark = Date.now();
    };
    await requireProductionServices({ redis: false });
    const inputs = await cachedFlowInputs(FLOWS, SEED);
    time(inputs.isBuilt ? 'building the flows and bench data' : 'flows and bench data from the cache');
    const ids = inputIds(inputs.flowsFile);
    expect(ids).toHaveLength(FLOWS);
    d = await provisionDeployment('themis-crash', { redis: false });
    const deployment = d;
    time('topics and schema');

    const ingest = await runCliOk('themis-ingest', ['json', inputs.flowsFile, '--topic', deployment.topics.input, '--brokers', TEST_BROKERS.join(',')], { timeoutMs: 120_000 });
    expect(ingest.stdout).toContain(`read: ${FLOWS}, sent: ${FLOWS}, invalid: 0`);
    time(`ingesting ${FLOWS} flows`);

    const submit = [
      'submit', '2', '2', '1000', '0', deployment.name,
      '--kafka', TEST_BROKERS.join(','),
      '--postgres', deployment.postgresUrl, '--postgres-schema', deployment.schema, '--persist',
      '--config', deployment.configPath,
      '--data-dir', inputs.dataDir,
      '--from-beginning', '--no-metrics-port',
    ];
    first = startCli('themis-topology', submit);
    const running = first;
    const killAt = Math.round(KILL_AT_SHARE * expectedScoredRecords(inputs.stats));
    const deadline = Date.now() + 120_000;
    while ((await topicSize(TEST_BROKERS, deployment.topics.scored)) < killAt) {
      if (running.child.exitCode !== null) throw new Error(`the first run exited (${running.child.exitCode}) before it was killed:\n${running.stderr().slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`fewer than ${killAt} scored records within 120 s of the first start:\n${running.stderr().slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const killed = await running.stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    const scoredAtKill = await topicSize(TEST_BROKERS, deployment.topics.scored);
    const committedAtKill = await committedOffsets(`themis-${deployment.name}`, deployment.topics.input);
    time(`first run until kill -9 at ${scoredAtKill} scored records, ${committedAtKill} input offsets committed`);
    // Killed in the middle: the input is far from committed. The commit point of a partition
    // stops at its oldest incomplete flow (a one-way flow stays parked in match-flows for the
    // whole match window); the commit's record of what completed after it spares the restart most
    // of the rest (kafka-group-recovery.test.ts bounds what is replayed).
    expect(committedAtKill).toBeLessThan(FLOWS);

    // The dead consumers stay in the group until their session times out, so the restart
    // first waits for that (kafkajs' default session timeout, 30 s).
    const secondStartMs = Date.now();
    const second = await runCli('themis-topology', [...submit, '--stop-at-end'], { timeoutMs: 180_000 });
    expect(second.code, second.stderr.slice(-3000)).toBe(0);
    const assignedAt = /\{"time":"([^"]+)","level":"info","msg":"Kafka partitions assigned"/.exec(second.stderr)?.[1];
    time(`second run with --stop-at-end (first partitions assigned after ${assignedAt === undefined ? '?' : ((Date.parse(assignedAt) - secondStartMs) / 1000).toFixed(1)} s)`);

    const [scoredMessages, ignoredMessages] = await Promise.all([
      readTopicToEnd(TEST_BROKERS, deployment.topics.scored, { timeoutMs: 120_000 }),
      readTopicToEnd(TEST_BROKERS, deployment.topics.ignored, { timeoutMs: 120_000 }),
    ]);
    time(`reading ${scoredMessages.length} scored and ${ignoredMessages.length} ignored records`);

    const deliveries: number[] = [];
    const scoredIds = new Set<number>();
    // Every input id a scored record accounts for: its own and its conversation's reverse flow.
    const coveredOnTopic = new Set<number>();
    // For each flow, the other flows of the conversation records it is in on the topic.
    const partnersOnTopic = new Map<number, number[]>();
    const addPartner = (id: number, partner: number) => partnersOnTopic.set(id, [...(partnersOnTopic.get(id) ?? []), partner]);
    for (const m of scoredMessages) {
      const r = JSON.parse(m.value) as { flow_id: number; pair_flow_id: number | null };
      deliveries.push(r.flow_id);
      scoredIds.add(r.flow_id);
      coveredOnTopic.add(r.flow_id);
      if (r.pair_flow_id !== null) {
        deliveries.push(r.pair_flow_id);
        coveredOnTopic.add(r.pair_flow_id);
        addPartner(r.flow_id, r.pair_flow_id);
        addPartner(r.pair_flow_id, r.flow_id);
      }
    }
    for (const m of ignoredMessages) {
      const r = JSON.parse(m.value) as { flow_id: number | null; line?: string };
      // A line the spout gave up on after its retries carries no parsed id; the raw line has it.
      const id = r.flow_id ?? (r.line === undefined ? null : Number(ID_FIELD.exec(r.line)?.[1]));
      if (id !== null && !Number.isNaN(id)) deliveries.push(id);
    }
    const report = checkDeliveries(ids, deliveries);

    const pgRows = (await deployment.pool.query<{ id: string; pair: string | null }>('SELECT id, pair_flow_id AS pair FROM scored_flow')).rows;
    const pg = { rows: pgRows.length, ids: new Set(pgRows.map((r) => r.id)).size };
    const coveredInPg = new Set<number>();
    for (const r of pgRows) {
      coveredInPg.add(Number(r.id));
      if (r.pair !== null) coveredInPg.add(Number(r.pair));
    }
    // Pairing depends on where the restart resumes and on the order flows reach match-flows, so a
    // flow scored alone before the kill may come back as the reverse side of a conversation whose
    // record carries the other id. Rows are per record id, so the comparison is of the input flows
    // each side accounts for. A conversation row is never replaced (scored-flow-writer.ts): when the
    // two runs pair the same flow F with different reverse flows of its conversation key, the
    // second record's other flow is on the topic only, whether F is that record's id or its
    // pair_flow_id (sql/003 holds every flow in one row, so the record adds nothing). That is the
    // one difference allowed, and it must be exactly that: a record (F, X) or (X, F) on the topic
    // while the row holding F pairs it with a flow other than X.
    const pgPartnerOf = new Map<number, number>();
    for (const r of pgRows) {
      if (r.pair === null) continue;
      pgPartnerOf.set(Number(r.id), Number(r.pair));
      pgPartnerOf.set(Number(r.pair), Number(r.id));
    }
    const onTopicOnly: number[] = [];
    const repairedOnReplay: number[] = [];
    for (const id of coveredOnTopic) {
      if (coveredInPg.has(id)) continue;
      const pairedElsewhere = (partnersOnTopic.get(id) ?? []).some((flow) => {
        const pgPartner = pgPartnerOf.get(flow);
        return pgPartner !== undefined && pgPartner !== id;
      });
      (pairedElsewhere ? repairedOnReplay : onTopicOnly).push(id);
    }
    const inPgOnly = [...coveredInPg].filter((id) => !coveredOnTopic.has(id));
    time('checking');
    console.log(
      `crash recovery: ${describeDeliveries(report)}; ${scoredMessages.length} scored records for ${scoredIds.size} distinct flow ids, ` +
        `${scoredMessages.length - scoredIds.size} duplicate scored records; PostgreSQL ${pg.rows} rows, ${pg.ids} distinct ids, accounting for ${coveredInPg.size} input flows; ${repairedOnReplay.length} flows on the topic only, their conversation partner paired differently on the replay\n  ${timings.join('\n  ')}`,
    );
    assertEveryIdAtLeastOnce(report, `after kill -9 and restart of ${deployment.name}`);
    expect(pg.rows, 'scored_flow rows').toBe(pg.ids);
    expect({ onTopicOnly: onTopicOnly.slice(0, 20), inPgOnly: inPgOnly.slice(0, 20) }, 'input flows scored on the topic but in no PostgreSQL row, and the reverse').toEqual({
      onTopicOnly: [],
      inPgOnly: [],
    });
    expect(scoredAtKill, 'scored records at the kill, against distinct scored flows at the end').toBeLessThan(scoredIds.size);
  }, 300_000);
});
