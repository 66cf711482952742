import { afterAll, describe, expect, it } from 'vitest';
import { assertEveryIdAtLeastOnce, checkDeliveries, describeDeliveries } from '../helpers/at-least-once.js';
import { startCli, type BackgroundCli } from '../helpers/background-cli.js';
import { runCli } from '../helpers/cli.js';
import { provisionDeployment, requireProductionServices, runCliOk, teardownDeployment, TEST_BROKERS, type TestDeployment } from '../helpers/deployment.js';
import { deliveriesOf, linesInSummary, refusedLines, scoredRowCoverage, waitForTopicSize, STREAM_FLOWS, STREAM_MAX_PENDING, STREAM_CONFIG, STREAM_SEED, STREAM_TASKS } from '../helpers/fault-stream.js';
import { cachedFlowInputs, expectedScoredRecords, inputIds } from '../helpers/generated-flows.js';

/**
 * Issue 13, "SIGTERM mid-stream: exit 0 after a complete drain, and a defined exit code
 * otherwise", on Kafka input (README, Stopping). A signal in the middle of a topic: the consumers
 * emit no more, the held flows are released, every flow read is written once (Kafka and
 * PostgreSQL), the offsets are committed past them, exit 0; the next run under the same instance
 * name reads exactly the rest. A second signal cuts the drain short: exit 3, the number of flows
 * not finished printed, and the next run reads them again.
 */

const WAIT_MS = 90_000;

function submitArgs(d: TestDeployment, dataDir: string, extra: readonly string[] = []): string[] {
  return [
    'submit', String(STREAM_TASKS), String(STREAM_TASKS), String(STREAM_MAX_PENDING), '0', d.name,
    '--kafka', TEST_BROKERS.join(','), '--postgres', d.postgresUrl, '--postgres-schema', d.schema, '--persist',
    '--config', d.configPath, '--data-dir', dataDir, '--from-beginning', '--no-metrics-port',
    ...extra,
  ];
}

describe('SIGTERM in the middle of a Kafka topic', () => {
  const deployments: TestDeployment[] = [];
  const children: BackgroundCli[] = [];

  afterAll(async () => {
    for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) await c.stop('SIGKILL');
    for (const d of deployments) await teardownDeployment(d);
  }, 60_000);

  /** Ingests the generated flows into a fresh deployment's input topic. */
  async function deploymentWithFlows(label: string) {
    await requireProductionServices({ redis: false });
    const inputs = await cachedFlowInputs(STREAM_FLOWS, STREAM_SEED);
    const d = await provisionDeployment(label, { redis: false, config: STREAM_CONFIG });
    deployments.push(d);
    await runCliOk('themis-ingest', ['json', inputs.flowsFile, '--topic', d.topics.input, '--brokers', TEST_BROKERS.join(',')], { timeoutMs: 120_000 });
    return { d, inputs, ids: inputIds(inputs.flowsFile) };
  }

  /** Runs the topology again to the end of the topic (--stop-at-end), which must exit 0. */
  async function readTheRest(d: TestDeployment, dataDir: string): Promise<void> {
    const rest = await runCli('themis-topology', submitArgs(d, dataDir, ['--stop-at-end', '--quiet']), { timeoutMs: 180_000 });
    expect(rest.code, rest.stderr.slice(-3000)).toBe(0);
  }

  it('drains: every flow read is written once, exit 0, and a restart reads exactly the rest', async () => {
    const { d, inputs, ids } = await deploymentWithFlows('themis-sigterm');
    const run = startCli('themis-topology', submitArgs(d, inputs.dataDir));
    children.push(run);
    await waitForTopicSize(d, d.topics.scored, Math.round(0.3 * expectedScoredRecords(inputs.stats)), run, WAIT_MS);
    const stopped = await run.stop('SIGTERM', WAIT_MS);
    expect({ code: stopped.code, signal: stopped.signal }, stopped.stderr.slice(-3000)).toEqual({ code: 0, signal: null });
    expect(stopped.stderr).not.toMatch(/not finished/);

    // Every id read is out exactly once: the lines of the summary, no more, no fewer, no repeat.
    const read = linesInSummary(stopped.stderr);
    const firstRun = checkDeliveries(ids, await deliveriesOf(d));
    const deliveredOnce = firstRun.expected - firstRun.missing.length;
    console.log(`SIGTERM drain: ${read} lines read of ${ids.length}; ${describeDeliveries(firstRun)}`);
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(ids.length);
    expect({ distinctOut: deliveredOnce, duplicates: firstRun.duplicates, unexpected: firstRun.unexpected.length }).toEqual({ distinctOut: read, duplicates: 0, unexpected: 0 });

    // The offsets were committed past exactly those: the restart reads the rest, nothing twice.
    await readTheRest(d, inputs.dataDir);
    const overall = checkDeliveries(ids, await deliveriesOf(d));
    const rows = await scoredRowCoverage(d);
    console.log(`SIGTERM drain, then the rest: ${describeDeliveries(overall)}; PostgreSQL ${rows.rows} rows for ${rows.flows} scored flows`);
    assertEveryIdAtLeastOnce(overall, `after a SIGTERM and a restart of ${d.name}`);
    expect(overall.duplicates, 'flows written twice across the SIGTERM (bound 0)').toBe(0);
    expect(await refusedLines(d), 'valid flows in ignored-flows').toEqual([]);
    expect({ inNoRow: rows.inNoRow, inSeveralRows: rows.inSeveralRows }).toEqual({ inNoRow: [], inSeveralRows: [] });
  }, 300_000);

  it('a second signal cuts the drain short: exit 3 naming the flows not finished, and a restart reads them again', async () => {
    const { d, inputs, ids } = await deploymentWithFlows('themis-sigterm2');
    const run = startCli('themis-topology', submitArgs(d, inputs.dataDir));
    children.push(run);
    await waitForTopicSize(d, d.topics.scored, Math.round(0.3 * expectedScoredRecords(inputs.stats)), run, WAIT_MS);
    // The drain must not be able to finish before the second signal: PostgreSQL's table is locked,
    // so the scored output's writes get no answer and its breaker holds them.
    const locker = await d.pool.connect();
    let stopped: Awaited<ReturnType<BackgroundCli['stop']>>;
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE scored_flow IN ACCESS EXCLUSIVE MODE');
      run.child.kill('SIGTERM');
      // Sent once the first is being handled and the output is held, so that it is taken as the second.
      const deadline = Date.now() + WAIT_MS;
      const held = () => run.stderr().includes('SIGTERM: reading no more input') && run.stderr().includes('circuit breaker open');
      while (!held() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      stopped = await run.stop('SIGTERM', WAIT_MS);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    const unfinished = /stopped by SIGTERM: ([\d,]+) flow\(s\) read were not finished/.exec(stopped.stderr);
    expect({ code: stopped.code, signal: stopped.signal, printed: unfinished !== null }, stopped.stderr.slice(-3000)).toEqual({ code: 3, signal: null, printed: true });
    const notFinished = Number(unfinished![1]!.replace(/,/g, ''));

    await readTheRest(d, inputs.dataDir);
    const overall = checkDeliveries(ids, await deliveriesOf(d));
    const rows = await scoredRowCoverage(d);
    // What the restart may write again: the flows not finished (a conversation record of one also
    // carries its reverse), and what completed after the last commit (the in-flight window).
    const bound = 2 * (notFinished + STREAM_TASKS * STREAM_MAX_PENDING);
    console.log(`SIGTERM twice: ${notFinished} not finished; then the rest: ${describeDeliveries(overall)} (bound ${bound}); PostgreSQL ${rows.rows} rows for ${rows.flows} scored flows`);
    assertEveryIdAtLeastOnce(overall, `after a cut-short drain and a restart of ${d.name}`);
    expect(overall.duplicates).toBeLessThanOrEqual(bound);
    expect(await refusedLines(d), 'valid flows in ignored-flows').toEqual([]);
    expect({ inNoRow: rows.inNoRow, inSeveralRows: rows.inSeveralRows }).toEqual({ inNoRow: [], inSeveralRows: [] });
  }, 300_000);
});
