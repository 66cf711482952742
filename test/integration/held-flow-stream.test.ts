import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emittingSpoutTasks, metricsUrlIn, scrapeMetrics, spoutRoots, type SpoutRoots } from '../../bench/lib/metrics-endpoint.js';
import { createTopics } from '../../spouts/kafka/create-topics.js';
import { SPOUT } from '../../topology/themis-topology.js';
import { startCli, type BackgroundCli } from '../helpers/background-cli.js';
import { DATA_SOURCES, runCliOk } from '../helpers/deployment.js';
import { useTestBroker } from '../helpers/kafka.js';
import { eventually } from '../helpers/postgres.js';
import { readTopicToEnd, watchTopic, type TopicWatch } from '../helpers/read-topic.js';

/**
 * The bar in themis-facts.md, "on a stream as well as a file": a flow held by match-flows for its
 * reverse direction for the whole match window comes out exactly once, with no timeout and no
 * replay. A file is not enough to show it, because the end of a file releases every held flow at
 * once; here the input stays open (standard input the test keeps open, then a Kafka topic) and
 * the flow is released by its window, which is longer than twice the message timeout.
 *
 * Each test waits for events (the output record, the spout's verdict on the root in the metrics,
 * the committed offset) with generous bounds, never for a fixed time.
 */

/** Small windows: the flow is held 5 s (released on the first 1 s tick after), past 2 × the 2 s message timeout. */
const WINDOWS = { messageTimeoutSecs: 2, joinWindowMs: 2_000, matchWindowMs: 5_000, tickSecs: 1 };
const TWICE_THE_TIMEOUT_MS = 2 * WINDOWS.messageTimeoutSecs * 1000;
/** Line 3 of the sample: flow 10003, TCP 192.0.2.100:50100 → 8.8.8.8:443. Its reverse (line 4) is never sent. */
const ONE_WAY_LINE = readFileSync(join(DATA_SOURCES, 'sample-flows.jsonl'), 'utf8').split('\n')[2]!;
const ONE_WAY_ID = 10003;
/** Bound of each wait: several times what a correct run needs, so that a slow machine does not fail it. */
const WAIT_MS = 60_000;

type Row = Record<string, unknown>;

function ensureRunning(topology: BackgroundCli): void {
  if (topology.child.exitCode !== null || topology.child.signalCode !== null) {
    throw new Error(`the topology exited early (${topology.child.exitCode ?? topology.child.signalCode}):\n${topology.stderr().slice(-3000)}`);
  }
}

/** The address of the topology's metrics endpoint (started with --metrics-port 0), once it has printed it. */
async function metricsUrlOf(topology: BackgroundCli): Promise<string> {
  await eventually(
    'the topology prints its metrics address',
    () => {
      ensureRunning(topology);
      return metricsUrlIn(topology.stderr()) !== null;
    },
    WAIT_MS,
  );
  return metricsUrlIn(topology.stderr())!;
}

/** The spout's roots as the endpoint reports them (each thread's figures are at most about 1 s old). */
async function rootsOf(topology: BackgroundCli, url: string): Promise<SpoutRoots> {
  ensureRunning(topology);
  return spoutRoots(await scrapeMetrics(url), SPOUT);
}

/**
 * Waits until the held flow is parked, then until `isReleased`, and returns how long after the
 * flow was sent that was; then until the spout has a verdict on the root (completed, or failed by
 * its timeout), and returns the spout's figures at that point.
 */
async function followHeldFlow(topology: BackgroundCli, url: string, sentAtMs: number, isReleased: () => boolean | Promise<boolean>): Promise<{ heldMs: number; roots: SpoutRoots }> {
  await eventually('match-flows parks the one-way flow', async () => (await rootsOf(topology, url)).parked === 1, WAIT_MS, 100);
  await eventually(`the scored record of flow ${ONE_WAY_ID} is written once its match window has passed`, isReleased, WAIT_MS, 100);
  const heldMs = Date.now() - sentAtMs;
  let roots: SpoutRoots | undefined;
  await eventually(
    `the spout completes or fails the root of flow ${ONE_WAY_ID}`,
    async () => {
      roots = await rootsOf(topology, url);
      return roots.acked + roots.failed > 0;
    },
    WAIT_MS,
    100,
  );
  return { heldMs, roots: roots! };
}

const SUMMARY_WITHOUT_REPLAYS = /themis: done in [\d.]+ s: 1 lines .*, 1 scored records, .* 0 replays \(0 timeouts\)/;

describe('a one-way flow held past twice the message timeout, from standard input kept open', () => {
  let dir: string | undefined;
  let topology: BackgroundCli | undefined;

  afterAll(async () => {
    if (topology && topology.child.exitCode === null && topology.child.signalCode === null) await topology.stop('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('comes out once when its match window passes, its root completes with no timeout or replay, and the run exits 0 when the input closes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'themis-held-stdin-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ windows: WINDOWS }));
    const out = join(dir, 'out');
    const scoredFile = join(out, 'scored-flows.jsonl');
    const scoredRecords = (): Row[] =>
      existsSync(scoredFile)
        ? readFileSync(scoredFile, 'utf8')
            .split('\n')
            .filter((l) => l.length > 0)
            .map((l) => JSON.parse(l) as Row)
        : [];
    topology = startCli('themis-topology', ['submit', '1', '1', '100', '0', 'held-stdin', '--input', '-', '--config', config, '--output-dir', out, '--metrics-port', '0'], { stdin: 'pipe' });
    const running = topology;
    const url = await metricsUrlOf(running);

    running.child.stdin!.write(`${ONE_WAY_LINE}\n`);
    const sentAtMs = Date.now();
    const { heldMs, roots } = await followHeldFlow(running, url, sentAtMs, () => scoredRecords().length > 0);
    expect(heldMs, 'ms from sending the flow to its scored record').toBeGreaterThanOrEqual(TWICE_THE_TIMEOUT_MS);
    expect(roots, 'the spout’s roots once it has a verdict on the flow').toEqual({ acked: 1, failed: 0, timedOut: 0, parked: 0 });

    running.child.stdin!.end();
    const result = await running.waitForExit(WAIT_MS);
    expect({ code: result.code, signal: result.signal }, result.stderr.slice(-3000)).toEqual({ code: 0, signal: null });
    expect(result.stderr).toMatch(SUMMARY_WITHOUT_REPLAYS);
    expect(result.stderr).not.toMatch(/"level":"error"/);
    expect(scoredRecords().map((r) => ({ flow_id: r.flow_id, matched: r.matched, pair_flow_id: r.pair_flow_id }))).toEqual([{ flow_id: ONE_WAY_ID, matched: false, pair_flow_id: null }]);
  }, 180_000);
});

describe('a one-way flow held past twice the message timeout, from a Kafka topic', () => {
  const broker = useTestBroker('themis-test-held-flow');
  let topology: BackgroundCli | undefined;
  let dir: string | undefined;
  let watch: TopicWatch | undefined;

  afterAll(async () => {
    await watch?.close();
    if (topology && topology.child.exitCode === null && topology.child.signalCode === null) await topology.stop('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('comes out once with no replay, and the group commits the offset past it only once it is released', async () => {
    const brokers = broker.brokers;
    const topics = {
      input: broker.topic('held-netflow-json'),
      ignored: broker.topic('held-ignored-flows'),
      scored: broker.topic('held-scored-flows'),
      scoredDetail: broker.topic('held-scored-flows-detail'),
      scanCandidates: broker.topic('held-scan-candidates'),
    };
    await createTopics({ brokers, topics: Object.values(topics), partitions: 4, clientId: 'themis-test-held-flow' });
    // The topology's consumer group is themis-<instance>; taking it from the broker helper deletes it after the file.
    const groupId = broker.group('themis-held');
    const instance = groupId.slice('themis-'.length);
    dir = mkdtempSync(join(tmpdir(), 'themis-held-kafka-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ topics, windows: WINDOWS }));
    const workers = 2;
    topology = startCli('themis-topology', [
      'submit', '1', '1', '100', '0', instance,
      '--kafka', brokers.join(','), '--config', config, '--from-beginning',
      '--workers', String(workers), '--metrics-port', '0',
    ]);
    const running = topology;
    const url = await metricsUrlOf(running);
    watch = await watchTopic(brokers, topics.scored);
    const scored = watch;
    const recordsOfFlow = () => scored.messages.map((m) => JSON.parse(m.value) as Row).filter((r) => r.flow_id === ONE_WAY_ID);
    // Sent once every consumer of the group reads, so that the time to its record is the time it was held.
    await eventually(
      'every spout task has joined the group and emits',
      () => {
        ensureRunning(running);
        return emittingSpoutTasks(running.stderr()) >= workers;
      },
      WAIT_MS,
      100,
    );

    await runCliOk('themis-ingest', ['json', '-', '--topic', topics.input, '--brokers', brokers.join(',')], { input: `${ONE_WAY_LINE}\n` });
    const sentAtMs = Date.now();
    const partition = (await broker.admin.fetchTopicOffsets(topics.input)).find((p) => Number(p.high) > 0)!.partition;
    const committed = async () => {
      const [offsets] = await broker.admin.fetchOffsets({ groupId, topics: [topics.input] });
      return Number(offsets!.partitions.find((p) => p.partition === partition)!.offset);
    };
    let committedWhileHeld: number | undefined;
    const { heldMs, roots } = await followHeldFlow(running, url, sentAtMs, async () => {
      // Read on each poll until the record appears: the last reading is from while the flow was held.
      if (recordsOfFlow().length > 0) return true;
      committedWhileHeld = await committed();
      return false;
    });
    expect(heldMs, 'ms from producing the flow to its scored record').toBeGreaterThanOrEqual(TWICE_THE_TIMEOUT_MS);
    expect(roots, 'the spout’s roots once it has a verdict on the flow').toEqual({ acked: 1, failed: 0, timedOut: 0, parked: 0 });
    // The flow is offset 0 of its partition: committed offset 1 is past it (-1: nothing committed yet).
    expect(committedWhileHeld, 'committed offset of the partition while the flow was held').toBeLessThan(1);
    await eventually(`the group ${groupId} commits partition ${partition} past the flow`, async () => (await committed()) >= 1, WAIT_MS, 100);

    // The one flow read was finished before the signal: the drain has nothing to wait for, exit 0.
    const stopped = await running.stop('SIGTERM', WAIT_MS);
    expect({ code: stopped.code, signal: stopped.signal }, stopped.stderr.slice(-3000)).toEqual({ code: 0, signal: null });
    expect(stopped.stderr).toMatch(SUMMARY_WITHOUT_REPLAYS);
    expect(stopped.stderr).not.toMatch(/"level":"error"/);
    const [scoredOnTopic, ignoredOnTopic] = await Promise.all([readTopicToEnd(brokers, topics.scored), readTopicToEnd(brokers, topics.ignored)]);
    expect(scoredOnTopic.map((m) => JSON.parse(m.value) as Row).map((r) => ({ flow_id: r.flow_id, matched: r.matched, pair_flow_id: r.pair_flow_id }))).toEqual([
      { flow_id: ONE_WAY_ID, matched: false, pair_flow_id: null },
    ]);
    expect(ignoredOnTopic.map((m) => m.value)).toEqual([]);
  }, 240_000);
});
