import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { createTopics } from '../../spouts/kafka/create-topics.js';
import { assertEveryIdAtLeastOnce, checkDeliveries, describeDeliveries } from '../helpers/at-least-once.js';
import { startCli, type BackgroundCli } from '../helpers/background-cli.js';
import { runCli } from '../helpers/cli.js';
import { provisionDeployment, requireProductionServices, runCliOk, teardownDeployment, TEST_BROKERS, type TestDeployment } from '../helpers/deployment.js';
import { cachedFlowInputs, deliveredIds, expectedScoredRecords, inputIds } from '../helpers/generated-flows.js';
import { readTopicToEnd, topicSize } from '../helpers/read-topic.js';

/**
 * Issue 13: what a kill -9 or a member leaving the group replays. The README's bound (Production
 * mode, "Kafka in"): after a crash, the flows delivered again are at most those in flight
 * (spout tasks × max pending), the held reverse flows a conversation record of one of them
 * carries, and the flows completed since the last commit (one commit interval): at most
 * 2 × (tasks × maxPending + flows completed in one commit interval).
 *
 * Kafka in and out only (no PostgreSQL rows), small windows, a 6 s session timeout (the broker's
 * minimum) so that the dead members leave the group quickly.
 */

const SEED = 20_261_206;
const MAX_PENDING = 1_000;
const SPOUT_TASKS = 2;
const COMMIT_INTERVAL_MS = 500;
const CONFIG = {
  windows: { matchWindowMs: 5_000, joinWindowMs: 5_000, messageTimeoutSecs: 10, tickSecs: 1 },
  kafka: { commitIntervalMs: COMMIT_INTERVAL_MS, sessionTimeoutMs: 6_000 },
};
const WAIT_MS = 60_000;

/** The README's bound, for one process of `tasks` spout tasks writing `recordsPerSec` scored records (a record carries up to two flows). */
function replayBound(tasks: number, recordsPerSec: number): number {
  // A commit lands at most one interval, plus its round trip (allowed 1 s), before the kill.
  return 2 * (tasks * MAX_PENDING + Math.ceil(recordsPerSec * (COMMIT_INTERVAL_MS + 1_000) / 1000));
}

function submitArgs(d: TestDeployment, dataDir: string, extra: readonly string[] = []): string[] {
  return [
    'submit', String(SPOUT_TASKS), String(SPOUT_TASKS), String(MAX_PENDING), '0', d.name,
    '--kafka', TEST_BROKERS.join(','), '--config', d.configPath, '--data-dir', dataDir, '--from-beginning', '--no-metrics-port', '--quiet',
    ...extra,
  ];
}

/** Waits until the scored topic holds `records`; returns the records per second over the last second or so. */
async function waitForScored(topic: string, records: number, running: readonly BackgroundCli[]): Promise<number> {
  const samples: Array<[number, number]> = [];
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const size = await topicSize(TEST_BROKERS, topic);
    samples.push([Date.now(), size]);
    if (size >= records) break;
    for (const r of running) if (r.child.exitCode !== null || r.child.signalCode !== null) throw new Error(`a topology exited (${r.child.exitCode ?? r.child.signalCode}) before the kill:\n${r.stderr().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`fewer than ${records} scored records within ${WAIT_MS} ms (${size})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const [nowMs, nowSize] = samples[samples.length - 1]!;
  const [thenMs, thenSize] = samples.find(([t]) => t >= nowMs - 1_500) ?? samples[0]!;
  return nowMs > thenMs ? ((nowSize - thenSize) * 1000) / (nowMs - thenMs) : 0;
}

async function deliveries(d: TestDeployment): Promise<number[]> {
  const [scored, ignored] = await Promise.all([readTopicToEnd(TEST_BROKERS, d.topics.scored, { timeoutMs: WAIT_MS }), readTopicToEnd(TEST_BROKERS, d.topics.ignored, { timeoutMs: WAIT_MS })]);
  return deliveredIds(scored, ignored);
}

function duplicatesIn(ids: readonly number[], delivered: readonly number[]): number {
  return checkDeliveries(ids, delivered).duplicates;
}

interface Assignment {
  readonly atMs: number;
  readonly task: number;
  readonly partitions: readonly number[];
}

/** The "Kafka partitions assigned" log lines of a topology's stderr. */
function assignmentsIn(stderr: string): Assignment[] {
  const result: Assignment[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.includes('"msg":"Kafka partitions assigned"')) continue;
    const entry = JSON.parse(line) as { time: string; task: number; partitions: number[] };
    result.push({ atMs: Date.parse(entry.time), task: entry.task, partitions: entry.partitions });
  }
  return result;
}

describe('Kafka group recovery: commits that keep up, rebalances that move only what must move', () => {
  const deployments: TestDeployment[] = [];
  const children: BackgroundCli[] = [];
  const extraTopics: string[] = [];

  afterAll(async () => {
    for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) await c.stop('SIGKILL');
    for (const d of deployments) await teardownDeployment(d);
    if (extraTopics.length > 0) {
      const admin = new Kafka({ clientId: 'themis-test-2proc', brokers: TEST_BROKERS, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: extraTopics }).finally(() => admin.disconnect());
    }
  }, 60_000);

  it('after each of three kill -9s and restarts, the flows delivered again stay within the README bound, and every flow comes out', async () => {
    await requireProductionServices({ redis: false });
    const flows = 100_000;
    const inputs = await cachedFlowInputs(flows, SEED);
    const ids = inputIds(inputs.flowsFile);
    const d = await provisionDeployment('themis-crash3', { redis: false, config: CONFIG });
    deployments.push(d);
    await runCliOk('themis-ingest', ['json', inputs.flowsFile, '--topic', d.topics.input, '--brokers', TEST_BROKERS.join(',')], { timeoutMs: 120_000 });

    const expected = expectedScoredRecords(inputs.stats);
    const lines: string[] = [];
    let before = 0;
    let previousRate = 0;
    for (const share of [0.2, 0.45, 0.7]) {
      const run = startCli('themis-topology', submitArgs(d, inputs.dataDir));
      children.push(run);
      const rate = await waitForScored(d.topics.scored, Math.round(share * expected), [run]);
      expect((await run.stop('SIGKILL')).signal).toBe('SIGKILL');
      const delivered = await deliveries(d);
      const duplicates = duplicatesIn(ids, delivered);
      // The duplicates this run added are the replay of the previous kill.
      if (previousRate > 0) {
        const bound = replayBound(SPOUT_TASKS, previousRate);
        lines.push(`kill at ${Math.round(previousRate)} records/s: ${duplicates - before} flows delivered again (bound ${bound})`);
        expect(duplicates - before, `flows delivered again after a kill -9 (${lines.join('; ')})`).toBeLessThanOrEqual(bound);
      }
      before = duplicates;
      previousRate = rate;
    }
    const last = await runCli('themis-topology', submitArgs(d, inputs.dataDir, ['--stop-at-end']), { timeoutMs: 120_000 });
    expect(last.code, last.stderr.slice(-3000)).toBe(0);
    const delivered = await deliveries(d);
    const report = checkDeliveries(ids, delivered);
    const bound = replayBound(SPOUT_TASKS, previousRate);
    lines.push(`kill at ${Math.round(previousRate)} records/s: ${report.duplicates - before} flows delivered again (bound ${bound})`);
    console.log(`crash x3: ${describeDeliveries(report)}\n  ${lines.join('\n  ')}`);
    assertEveryIdAtLeastOnce(report, `after three kill -9s and restarts of ${d.name}`);
    expect(report.duplicates - before, lines.join('; ')).toBeLessThanOrEqual(bound);
  }, 240_000);

  it('two processes under one instance name share 8 partitions; when one is killed the other takes its partitions, keeps its own, and every flow comes out', async () => {
    await requireProductionServices({ redis: false });
    const flows = 60_000;
    const inputs = await cachedFlowInputs(flows, SEED + 1);
    const ids = inputIds(inputs.flowsFile);
    const d = await provisionDeployment('themis-2proc', { redis: false, config: CONFIG });
    deployments.push(d);
    const input = `${d.topics.input}-8`;
    await createTopics({ brokers: TEST_BROKERS, topics: [input], partitions: 8, clientId: 'themis-test-2proc' });
    extraTopics.push(input);
    await runCliOk('themis-ingest', ['json', inputs.flowsFile, '--topic', input, '--brokers', TEST_BROKERS.join(',')], { timeoutMs: 120_000 });

    const args = submitArgs(d, inputs.dataDir, ['--input-topic', input]);
    const a = startCli('themis-topology', args);
    const b = startCli('themis-topology', args);
    children.push(a, b);
    const rate = await waitForScored(d.topics.scored, Math.round(0.3 * expectedScoredRecords(inputs.stats)), [a, b]);
    const killedAtMs = Date.now();
    expect((await b.stop('SIGKILL')).signal).toBe('SIGKILL');

    // The survivor alone finishes: wait until every flow has come out, then stop it.
    const deadline = Date.now() + WAIT_MS;
    let report = checkDeliveries(ids, await deliveries(d));
    while (report.missing.length > 0 && Date.now() < deadline) {
      if (a.child.exitCode !== null) throw new Error(`the survivor exited (${a.child.exitCode}):\n${a.stderr().slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      report = checkDeliveries(ids, await deliveries(d));
    }
    await a.stop('SIGTERM');

    const before = assignmentsIn(a.stderr()).filter((x) => x.atMs < killedAtMs);
    const after = assignmentsIn(a.stderr()).filter((x) => x.atMs >= killedAtMs);
    const heldAtKill = new Map(before.map((x) => [x.task, x.partitions]));
    const finalOf = new Map(after.map((x) => [x.task, x.partitions]));
    // Two membership changes move partitions: the second process joining (the first may have
    // started emitting by then), and its death.
    const bound = 2 * replayBound(SPOUT_TASKS, rate);
    console.log(
      `two processes: ${describeDeliveries(report)} (bound ${bound} at ${Math.round(rate)} records/s); survivor's tasks held ` +
        `${JSON.stringify(Object.fromEntries(heldAtKill))} at the kill, ${JSON.stringify(Object.fromEntries(finalOf))} after`,
    );
    assertEveryIdAtLeastOnce(report, `after killing one of two processes of ${d.name}`);
    expect(report.duplicates).toBeLessThanOrEqual(bound);
    // Each survivor task kept what it held and took a share of the dead process's partitions.
    expect(heldAtKill.size).toBe(SPOUT_TASKS);
    expect([...finalOf.values()].flat().sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const [task, held] of heldAtKill) for (const p of held) expect(finalOf.get(task), `task ${task} keeps partition ${p}`).toContain(p);
  }, 240_000);
});
