import { afterAll, describe, expect, it } from 'vitest';
import { assertEveryIdAtLeastOnce, checkDeliveries, describeDeliveries, type DeliveryReport } from '../helpers/at-least-once.js';
import { startCli, type BackgroundCli } from '../helpers/background-cli.js';
import { provisionDeployment, requireProductionServices, runCliOk, teardownDeployment, type TestDeployment } from '../helpers/deployment.js';
import { deliveriesOf, ensureStillRunning, refusedLines, scoredRowCoverage, waitForTopicSize, STREAM_FLOWS, STREAM_MAX_PENDING, STREAM_CONFIG, STREAM_SEED, STREAM_TASKS, STREAM_COMMIT_INTERVAL_MS } from '../helpers/fault-stream.js';
import { cachedFlowInputs, expectedScoredRecords, inputIds } from '../helpers/generated-flows.js';
import { OwnBroker } from '../helpers/own-broker.js';

/**
 * Issue 13, "the broker stopped and started": a production-mode topology (Kafka in and out,
 * PostgreSQL) reads a topic of a broker of this file's own (ports 19092/19093, its own data dir),
 * and that broker is stopped with SIGTERM for 10 s mid-stream, then started again on the same
 * data. The topology must not exit, and in the end every flow is out, none in ignored-flows,
 * each named by one PostgreSQL row, and the flows written twice are within the bound below.
 *
 * The bound: a broker that goes away takes the consumers' group with it, so each spout task's
 * consumer comes back as a new member and reads again from the committed offsets, as after a
 * kill -9 (README, "What a kill -9 replays"): the flows in flight (tasks × max pending) and those
 * completed since the last commit, each possibly a conversation record of two flows; the
 * consumers may rejoin once when the broker goes and once when it is back, so twice that.
 */

const OUTAGE_MS = 10_000;
const WAIT_MS = 120_000;
const PORT = 19_092;
const CONTROLLER_PORT = 19_093;

/** At most twice what one rejoin replays, at `recordsPerSec` scored records a second (each up to two flows). */
function replayBound(recordsPerSec: number): number {
  return 2 * 2 * (STREAM_TASKS * STREAM_MAX_PENDING + Math.ceil((recordsPerSec * (STREAM_COMMIT_INTERVAL_MS + 1_000)) / 1000));
}

/** Polls the deliveries until no id is missing (or `timeoutMs` passes), failing as soon as the topology exits. */
async function waitForEveryId(d: TestDeployment, ids: readonly number[], topology: BackgroundCli, timeoutMs: number): Promise<DeliveryReport<number>> {
  const deadline = Date.now() + timeoutMs;
  let report = checkDeliveries(ids, await deliveriesOf(d));
  while (report.missing.length > 0 && Date.now() < deadline) {
    ensureStillRunning(topology, `with ${report.missing.length} flows not yet out after the broker came back`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    report = checkDeliveries(ids, await deliveriesOf(d));
  }
  return report;
}

describe('the broker stopped for 10 s and started again in the middle of a stream', () => {
  let broker: OwnBroker | undefined;
  let d: TestDeployment | undefined;
  let topology: BackgroundCli | undefined;

  afterAll(async () => {
    if (topology && topology.child.exitCode === null && topology.child.signalCode === null) await topology.stop('SIGKILL');
    try {
      // The deployment's topics are on the broker: it must answer for the teardown.
      if (d && broker) await broker.up();
      if (d) await teardownDeployment(d);
    } finally {
      await broker?.remove();
    }
  }, 180_000);

  it('the topology rides it out: it does not exit, every flow comes out, none ignored, one row each, few written twice', async () => {
    await requireProductionServices({ redis: false });
    const inputs = await cachedFlowInputs(STREAM_FLOWS, STREAM_SEED);
    const ids = inputIds(inputs.flowsFile);
    broker = await OwnBroker.start(PORT, CONTROLLER_PORT);
    const own = broker;
    d = await provisionDeployment('themis-broker-restart', { redis: false, config: STREAM_CONFIG, brokers: own.brokers });
    const deployment = d;
    await runCliOk('themis-ingest', ['json', inputs.flowsFile, '--topic', deployment.topics.input, '--brokers', own.brokers.join(',')], { timeoutMs: 120_000 });

    topology = startCli('themis-topology', [
      'submit', String(STREAM_TASKS), String(STREAM_TASKS), String(STREAM_MAX_PENDING), '0', deployment.name,
      '--kafka', own.brokers.join(','), '--postgres', deployment.postgresUrl, '--postgres-schema', deployment.schema, '--persist',
      '--config', deployment.configPath, '--data-dir', inputs.dataDir, '--from-beginning', '--no-metrics-port',
    ]);
    const running = topology;
    const expected = expectedScoredRecords(inputs.stats);
    const startedAt = Date.now();
    await waitForTopicSize(deployment, deployment.topics.scored, Math.round(0.25 * expected), running, WAIT_MS);
    const recordsPerSec = (0.25 * expected * 1000) / (Date.now() - startedAt);

    await own.down();
    const downAt = Date.now();
    // The outage lasts a fixed time; the topology must be alive throughout.
    while (Date.now() - downAt < OUTAGE_MS) {
      ensureStillRunning(running, `${Date.now() - downAt} ms into the broker's outage`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await own.up();
    const backAt = Date.now();

    const report = await waitForEveryId(deployment, ids, running, WAIT_MS);
    const recoveredMs = Date.now() - backAt;
    const stopped = await running.stop('SIGTERM', WAIT_MS);
    const refused = await refusedLines(deployment);
    const rows = await scoredRowCoverage(deployment);
    const bound = replayBound(recordsPerSec);
    // What the topology logged about the outage: each distinct warning or error message, counted.
    const logged = new Map<string, number>();
    for (const m of stopped.stderr.matchAll(/"level":"(?:warn|error)".*?"msg":"([^"]{0,80})/g)) logged.set(m[1]!, (logged.get(m[1]!) ?? 0) + 1);
    console.log(
      `broker stopped ${OUTAGE_MS / 1000} s at ${Math.round(recordsPerSec)} records/s: ${describeDeliveries(report)} (bound ${bound}); every flow out ${recoveredMs} ms after the restart; ` +
        `PostgreSQL ${rows.rows} rows for ${rows.flows} scored flows; exit ${stopped.code}; logged: ${JSON.stringify(Object.fromEntries(logged))}`,
    );
    assertEveryIdAtLeastOnce(report, `after the broker of ${deployment.name} was stopped and started`);
    expect(refused, 'valid flows in ignored-flows').toEqual([]);
    expect(report.duplicates, 'flows written twice').toBeLessThanOrEqual(bound);
    expect({ inNoRow: rows.inNoRow, inSeveralRows: rows.inSeveralRows }).toEqual({ inNoRow: [], inSeveralRows: [] });
    expect({ code: stopped.code, signal: stopped.signal }, stopped.stderr.slice(-3000)).toEqual({ code: 0, signal: null });
  }, 420_000);
});
