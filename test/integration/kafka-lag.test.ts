import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../bench/lib/chromium.js';
import { metricsUrlIn } from '../../bench/lib/metrics-endpoint.js';
import { generateFlows } from '../../bench/lib/flow-generator.js';
import { createTopics } from '../../spouts/kafka/create-topics.js';
import type { PartitionLag } from '../../topology/kafka-lag.js';
import { startCli, type BackgroundCli } from '../helpers/background-cli.js';
import { runCliOk } from '../helpers/deployment.js';
import { useTestBroker } from '../helpers/kafka.js';
import { eventually } from '../helpers/postgres.js';
import { parseSamples, promtoolCheckMetrics, scrape, select, type Sample } from '../helpers/prometheus.js';

/**
 * Kafka consumer lag per partition, on the real broker: a backlog written to a fresh topic while
 * no topology reads it, then a topology started on it with a small max spout pending (so that it
 * works the backlog off over several seconds). The lag gauges show the backlog, then fall to 0 once
 * every message is fetched and finished; the live page's state lists the same partitions. Every
 * wait is for an event, with a wide bound.
 */

const MESSAGES = 60_000;
const PARTITIONS = 2;
const WAIT_MS = 120_000;
const CONSUMER_LAG = 'themis_kafka_consumer_lag_messages';
const COMMITTED_LAG = 'themis_kafka_committed_lag_messages';
const SCREENSHOT = new URL('../../test-results/ui-page-kafka.png', import.meta.url).pathname;

describe('Kafka consumer lag per partition', () => {
  const broker = useTestBroker('themis-test-kafka-lag');
  let topology: BackgroundCli | undefined;
  let dir: string | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
    if (topology && topology.child.exitCode === null && topology.child.signalCode === null) await topology.stop('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows a backlog written before the topology started as lag on each partition, then 0 once it is consumed, on /metrics and on the page', async () => {
    const brokers = broker.brokers;
    const topics = {
      input: broker.topic('lag-netflow-json'),
      ignored: broker.topic('lag-ignored-flows'),
      scored: broker.topic('lag-scored-flows'),
      scoredDetail: broker.topic('lag-scored-flows-detail'),
      scanCandidates: broker.topic('lag-scan-candidates'),
    };
    await createTopics({ brokers, topics: Object.values(topics), partitions: PARTITIONS, clientId: 'themis-test-kafka-lag' });
    const groupId = broker.group('themis-lag');
    const instance = groupId.slice('themis-'.length);
    dir = mkdtempSync(join(tmpdir(), 'themis-kafka-lag-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ topics, windows: { messageTimeoutSecs: 10, joinWindowMs: 2_000, matchWindowMs: 3_000, tickSecs: 1 } }));

    // The backlog, written while nothing reads the topic.
    let input = '';
    for (const line of generateFlows({ count: MESSAGES, seed: 17 })) input += `${line}\n`;
    await runCliOk('themis-ingest', ['json', '-', '--topic', topics.input, '--brokers', brokers.join(',')], { input });
    const ends = new Map((await broker.admin.fetchTopicOffsets(topics.input)).map((o) => [String(o.partition), Number(o.high)]));
    // The generator's few invalid lines are refused by themis-ingest (no --send-invalid).
    expect([...ends.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(MESSAGES * 0.99);
    expect([...ends.values()].every((n) => n > 0)).toBe(true);

    topology = startCli('themis-topology', [
      'submit', '1', '1', '20', '0', instance,
      '--kafka', brokers.join(','), '--config', config, '--from-beginning',
      '--workers', String(PARTITIONS), '--metrics-port', '0',
    ]);
    const running = topology;
    const alive = () => {
      if (running.child.exitCode !== null || running.child.signalCode !== null) throw new Error(`the topology exited early:\n${running.stderr().slice(-3000)}`);
    };
    await eventually('the topology prints its metrics address', () => (alive(), metricsUrlIn(running.stderr()) !== null), WAIT_MS);
    const metricsUrl = metricsUrlIn(running.stderr())!;
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    await page.goto(metricsUrl.replace(/\/metrics$/, '/'));
    const pageState = async () => (await (await fetch(metricsUrl.replace(/\/metrics$/, '/state'))).json()) as { kafka: PartitionLag[] | null };

    let samples: Sample[] = [];
    const lagOf = (name: string) => select(samples, name, { instance, topic: topics.input });
    const poll = async () => {
      alive();
      samples = parseSamples(await scrape(metricsUrl));
    };

    // The backlog shows: some partition's lag is above 0, and no lag is above what the partition holds.
    let seenLag = 0;
    await eventually(
      'the consumer lag gauge shows the backlog',
      async () => {
        await poll();
        seenLag = Math.max(seenLag, ...lagOf(CONSUMER_LAG).map((s) => s.value));
        return seenLag > 0;
      },
      WAIT_MS,
      100,
    );
    for (const s of [...lagOf(CONSUMER_LAG), ...lagOf(COMMITTED_LAG)]) {
      expect(ends.has(s.labels['partition']!), `partition label ${s.labels['partition']}`).toBe(true);
      expect(s.value).toBeLessThanOrEqual(ends.get(s.labels['partition']!)!);
    }
    expect(await promtoolCheckMetrics(await scrape(metricsUrl))).toBe('');

    // Worked off: both gauges of every partition read 0.
    await eventually(
      'the lag of every partition falls to 0',
      async () => {
        await poll();
        const consumer = lagOf(CONSUMER_LAG);
        const committed = lagOf(COMMITTED_LAG);
        return consumer.length === PARTITIONS && committed.length === PARTITIONS && [...consumer, ...committed].every((s) => s.value === 0);
      },
      WAIT_MS,
      200,
    );
    const [offsets] = await broker.admin.fetchOffsets({ groupId, topics: [topics.input] });
    expect(offsets!.partitions.map((p) => [String(p.partition), Number(p.offset)]).sort()).toEqual([...ends].sort());

    // The page lists the same partitions, read from the same reports.
    await eventually('the page shows every partition caught up', async () => {
      const rows = (await pageState()).kafka ?? [];
      return rows.length === PARTITIONS && rows.every((r) => r.topic === topics.input && r.consumerLag === 0 && r.committedLag === 0);
    }, WAIT_MS, 200);
    expect((await pageState()).kafka!.map((r) => r.partition)).toEqual([0, 1]);
    // And as a person sees it: a row per partition, both lags 0 within a refresh or two.
    await page.waitForFunction(
      `[...document.querySelectorAll('#kafka-lag tbody tr')].length === ${PARTITIONS} && [...document.querySelectorAll('#kafka-lag td[data-field]')].every((td) => td.dataset.value === '0')`,
      undefined,
      { timeout: 30_000 },
    );
    expect(await page.locator('#kafka-lag-section').isVisible()).toBe(true);
    expect(await page.locator('#kafka-lag tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-partition')))).toEqual(['0', '1']);
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    const stopped = await running.stop('SIGTERM', WAIT_MS);
    expect({ code: stopped.code, signal: stopped.signal }, stopped.stderr.slice(-3000)).toEqual({ code: 0, signal: null });
  }, 300_000);
});
