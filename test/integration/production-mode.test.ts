import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertEveryIdAtLeastOnce, checkDeliveries, describeDeliveries } from '../helpers/at-least-once.js';
import { startCli, type BackgroundCli } from '../helpers/background-cli.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import {
  DATA_SOURCES,
  provisionDeployment,
  redisKeys,
  requireProductionServices,
  runCliOk,
  teardownDeployment,
  TEST_BROKERS,
  TEST_REDIS_BASE_URL,
  TEST_REDIS_DB,
  type TestDeployment,
} from '../helpers/deployment.js';
import { eventually } from '../helpers/postgres.js';
import { readTopicToEnd, watchTopic, type TopicWatch } from '../helpers/read-topic.js';
import type { ExpectedIgnored, ExpectedScan, ExpectedScored } from '../helpers/sample-expectations.js';

/**
 * Production mode end to end, as an operator runs it: topics created, the schema migrated and
 * seeded from the CSV lists, intel loaded into Redis with `themis-intel load`, the sample flows
 * sent with `themis-ingest json`, then `themis-topology submit` reading Kafka and writing Kafka
 * and PostgreSQL. The ground truth is test/fixtures/sample-flows-expected.json, the same file the
 * embedded-default e2e test checks; here the lists and the intel come from the services instead of
 * the files (the data directory the topology gets holds neither the intel file nor the two CSVs).
 * PostgreSQL must match exactly; the Kafka topics are at-least-once, so every expected record must
 * be there, every copy right and nothing else, and repeats are counted and logged.
 */

interface Expected {
  counts: { inputLines: number; parseFailures: number; skippedLines: number };
  scored: ExpectedScored[];
  ignored: ExpectedIgnored[];
  scanCandidates: ExpectedScan[];
}

type Row = Record<string, unknown>;

const SAMPLE_FLOWS = join(DATA_SOURCES, 'sample-flows.jsonl');
const expected = JSON.parse(readFileSync(new URL('../fixtures/sample-flows-expected.json', import.meta.url), 'utf8')) as Expected;
const inputLines = readFileSync(SAMPLE_FLOWS, 'utf8').split('\n');
/** The files that production mode must NOT read: it reads Redis and PostgreSQL instead. */
const REPLACED_BY_SERVICES = ['intelmq-events.jsonl', 'known_host_services.csv', 'suspect_countries.csv'];

const byTag = (a: { tag: unknown }, b: { tag: unknown }) => String(a.tag).localeCompare(String(b.tag));
const parseAll = (messages: ReadonlyArray<{ value: string }>): Row[] => messages.map((m) => JSON.parse(m.value) as Row);

/** A copy of data_sources/ without the files the services replace. */
function dataDirWithoutServiceFiles(dir: string): string {
  const out = join(dir, 'data');
  mkdirSync(out);
  for (const file of readdirSync(DATA_SOURCES)) {
    if (REPLACED_BY_SERVICES.includes(file) || !statSync(join(DATA_SOURCES, file)).isFile()) continue;
    copyFileSync(join(DATA_SOURCES, file), join(out, file));
  }
  return out;
}

describe('production mode on the sample flows: Kafka in and out, intel from Redis, lists and results in PostgreSQL', () => {
  let d: TestDeployment | undefined;
  let dataDir: string;
  let intelLoad: CliResult;
  let ingest: CliResult;
  let run: CliResult;
  let scored: Row[];
  let details: Row[];
  let scans: Row[];
  let ignored: Row[];
  let pgFlows: Row[];
  let pgDetails: Row[];
  let setupError: unknown;

  beforeAll(async () => {
    try {
      await setUp();
    } catch (error) {
      // Kept for beforeEach: each test then fails with it, rather than being reported as skipped.
      setupError = error;
    }
  }, 240_000);

  beforeEach(() => {
    if (setupError !== undefined) throw setupError;
  });

  async function setUp(): Promise<void> {
    await requireProductionServices();
    d = await provisionDeployment('themis-prod');
    dataDir = dataDirWithoutServiceFiles(d.dir);
    intelLoad = await runCliOk('themis-intel', ['load', join(DATA_SOURCES, 'intelmq-events.jsonl'), '--redis', TEST_REDIS_BASE_URL, '--db', String(TEST_REDIS_DB), '--key-prefix', d.intelKeyPrefix]);
    // --send-invalid: the lines the parser refuses go to Kafka too (unkeyed), so the topology's
    // ignored-flows shows them as the embedded default does.
    ingest = await runCliOk('themis-ingest', ['json', SAMPLE_FLOWS, '--topic', d.topics.input, '--brokers', TEST_BROKERS.join(','), '--send-invalid']);
    run = await runCli(
      'themis-topology',
      [
        'submit', '2', '2', '1000', '0', d.name,
        '--kafka', TEST_BROKERS.join(','),
        '--redis', TEST_REDIS_BASE_URL, '--redis-db', String(TEST_REDIS_DB),
        '--postgres', d.postgresUrl, '--postgres-schema', d.schema, '--persist',
        '--config', d.configPath,
        '--data-dir', dataDir,
        '--stop-at-end', '--from-beginning', '--no-metrics-port',
      ],
      { timeoutMs: 120_000 },
    );
    [scored, details, scans, ignored] = await Promise.all(
      [d.topics.scored, d.topics.scoredDetail, d.topics.scanCandidates, d.topics.ignored].map(async (topic) => parseAll(await readTopicToEnd(TEST_BROKERS, topic))),
    );
    pgFlows = (await d.pool.query('SELECT id::int AS id, pair_flow_id::int AS pair_flow_id, matched, good_score, bad_score FROM scored_flow')).rows;
    pgDetails = (await d.pool.query('SELECT flow_id::int AS flow_id, score_category, score_name, score, is_bad_score FROM scored_flow_detail')).rows;
  }

  afterAll(async () => {
    if (d) await teardownDeployment(d);
  }, 60_000);

  it('exits 0 once the input topic is consumed up to the end offsets it had at start, and prints a summary', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/themis: done in [\d.]+ s: \d+ lines/);
    expect(run.stderr).toContain(`kafka 127.0.0.1:9092 topic ${d!.topics.input}`);
  });

  it('reads the intel from Redis and the lists from PostgreSQL, not from the data directory', () => {
    for (const file of REPLACED_BY_SERVICES) expect(existsSync(join(dataDir, file)), file).toBe(false);
    expect(intelLoad.stderr).toMatch(/events stored/);
    expect(run.stderr).not.toMatch(/intel file loaded/);
  });

  it('has ingest send every non-blank line, reporting the ones the parser refuses', () => {
    const lines = expected.counts.inputLines - expected.counts.skippedLines;
    const refused = expected.counts.parseFailures;
    expect(ingest.stdout).toContain(`read: ${lines}, sent: ${lines}, invalid: ${refused} (${refused} sent anyway)`);
  });

  // Kafka outputs are at-least-once: a record may come more than once (see the duplicate counts
  // this test logs), but every copy must be right and nothing may be missing or invented.
  it('writes a scored record for every conversation or lone flow to the scored topic, and none for anything else', () => {
    const report = checkDeliveries(expected.scored.map((e) => e.flow_id), scored.map((s) => s.flow_id as number));
    console.log(`production mode, scored topic: ${describeDeliveries(report)}`);
    assertEveryIdAtLeastOnce(report, `scored topic ${d!.topics.scored}`);
  });

  it.each(expected.scored.map((e) => [e.flow_id, e] as const))('scores flow %i with the expected tags, totals and orientation, and one detail record per tag', (_id, e) => {
    const copies = scored.filter((r) => r.flow_id === e.flow_id);
    expect(copies.length, `scored records of flow ${e.flow_id}`).toBeGreaterThan(0);
    const fields = ['pair_flow_id', 'matched', 'flow_direction', 'initiator', 'protocol', 'src_ip', 'dst_ip', 'src_port', 'dst_port', 'packets_sent', 'bytes_sent', 'packets_recv', 'bytes_recv', 'goodness', 'badness'] as const;
    for (const s of copies) {
      expect(Object.fromEntries(fields.map((f) => [f, s[f]]))).toEqual(Object.fromEntries(fields.map((f) => [f, e[f]])));
      expect([...(s.tags as string[])].sort()).toEqual(e.tags.map((t) => t.tag).sort());
    }
    // A summary and its details go out in one write, so each copy of the summary comes with one
    // full set of detail records.
    const mine = details
      .filter((r) => r.flow_id === e.flow_id)
      .map((r) => (r.bad_score_tag !== null ? { tag: r.bad_score_tag, polarity: 'bad', score: r.bad_score } : { tag: r.good_score_tag, polarity: 'good', score: r.good_score }));
    expect(mine.sort(byTag)).toEqual(copies.flatMap(() => e.tags).sort(byTag));
  });

  it('writes no detail record for a flow it did not score', () => {
    const ids = new Set(expected.scored.map((e) => e.flow_id));
    expect(details.filter((r) => !ids.has(r.flow_id as number))).toEqual([]);
  });

  it('tags the IntelMQ hosts from the intel loaded into Redis', async () => {
    const intelTagged = expected.scored.filter((e) => e.tags.some((t) => t.tag.startsWith('INTELMQ-')));
    expect(intelTagged.length).toBeGreaterThan(0);
    for (const e of intelTagged) {
      const s = scored.find((r) => r.flow_id === e.flow_id)!;
      expect((s.tags as string[]).filter((t) => t.startsWith('INTELMQ-')).sort(), `flow ${e.flow_id}`).toEqual(
        e.tags.filter((t) => t.tag.startsWith('INTELMQ-')).map((t) => t.tag).sort(),
      );
    }
    expect((await redisKeys(`${d!.intelKeyPrefix}*`)).length).toBeGreaterThan(0);
  });

  it('sends every discarded flow and every unparsable line to the ignored topic with its reason, and nothing else', () => {
    const keyOf = (e: ExpectedIgnored) => (e.stage === 'discard' ? `discard ${e.flow_id}` : `parse ${inputLines[e.line! - 1]}`);
    const report = checkDeliveries(
      expected.ignored.map(keyOf),
      ignored.map((x) => (x.stage === 'discard' ? `discard ${String(x.flow_id)}` : `parse ${String(x.line)}`)),
    );
    console.log(`production mode, ignored topic: ${describeDeliveries(report)}`);
    assertEveryIdAtLeastOnce(report, `ignored topic ${d!.topics.ignored}`);
    for (const e of expected.ignored) {
      const copies = ignored.filter((x) => (x.stage === 'discard' ? `discard ${String(x.flow_id)}` : `parse ${String(x.line)}`) === keyOf(e));
      for (const r of copies) {
        if (e.reason !== undefined) expect(r.reason, keyOf(e)).toBe(e.reason);
        if (e.reasonPattern !== undefined) expect(r.reason, keyOf(e)).toMatch(new RegExp(e.reasonPattern));
        if (e.stage === 'discard' && e.flow_direction !== undefined) expect(r.flow_direction, keyOf(e)).toBe(e.flow_direction);
        if (e.stage === 'parse') expect(r.origin, keyOf(e)).toMatch(new RegExp(`^${d!.topics.input}/\\d+@\\d+$`));
      }
    }
  });

  it('writes the three scan-candidate records of every candidate to the scan topic, scanner on the left', () => {
    const report = checkDeliveries(
      expected.scanCandidates.flatMap((e) => e.records.map((r) => `${e.flow_id} ${r.type} ${r.key}`)),
      scans.map((r) => `${String(r.id)} ${String(r.type)} ${String(r.key)}`),
    );
    console.log(`production mode, scan-candidate topic: ${describeDeliveries(report)}`);
    assertEveryIdAtLeastOnce(report, `scan-candidate topic ${d!.topics.scanCandidates}`);
    for (const e of expected.scanCandidates) {
      for (const r of scans.filter((x) => x.id === e.flow_id)) {
        expect({ src_ip: r.src_ip, dst_ip: r.dst_ip, dst_port: r.dst_port, packets_sent: r.packets_sent }).toEqual({
          src_ip: e.scanner,
          dst_ip: e.target,
          dst_port: e.port,
          packets_sent: e.packets_sent,
        });
      }
    }
  });

  it('persists exactly one scored_flow row per scored flow, with its good and bad score', () => {
    expect(pgFlows.map((r) => r.id).sort()).toEqual(expected.scored.map((e) => e.flow_id).sort());
    for (const e of expected.scored) {
      const r = pgFlows.find((x) => x.id === e.flow_id);
      expect(r, `scored_flow row of flow ${e.flow_id}`).toMatchObject({ pair_flow_id: e.pair_flow_id, matched: e.matched, good_score: e.goodness, bad_score: e.badness });
    }
  });

  it('persists one scored_flow_detail row per tag, with its score and polarity', () => {
    const rows = pgDetails.map((r) => ({ flow_id: r.flow_id, tag: `${String(r.score_category)}-${String(r.score_name)}`, polarity: r.is_bad_score ? 'bad' : 'good', score: r.score }));
    const wanted = expected.scored.flatMap((e) => e.tags.map((t) => ({ flow_id: e.flow_id, ...t })));
    const order = (a: { flow_id: unknown; tag: unknown }, b: { flow_id: unknown; tag: unknown }) => Number(a.flow_id) - Number(b.flow_id) || byTag(a, b);
    expect(rows.sort(order)).toEqual(wanted.sort(order));
  });
});

/** Seconds between reloads of the PostgreSQL lists in the refresh test. */
const REFRESH_SECS = 1;

/**
 * Lines 1-2 of the sample: a TCP conversation from 203.0.113.130 to the HTTPS service of
 * 192.0.2.10 (tag HOSTED_SERVICES-TCP), with new ids and the remote side's port, so that two of
 * them are two conversations, never one flow of each paired together.
 */
function hostedHttpsConversation(firstId: number, remotePort: number): string {
  return inputLines
    .slice(0, 2)
    .map((line, i) => {
      const flow = JSON.parse(line) as Row;
      const ports = flow.src_ip === '203.0.113.130' ? { src_port: remotePort } : { dst_port: remotePort };
      return JSON.stringify({ ...flow, ...ports, id: firstId + i });
    })
    .join('\n');
}

describe('production mode reloads the known services from PostgreSQL while it runs', () => {
  let d: TestDeployment | undefined;
  let topology: BackgroundCli | undefined;
  let watch: TopicWatch | undefined;

  afterAll(async () => {
    await watch?.close();
    if (topology && topology.child.exitCode === null && topology.child.signalCode === null) await topology.stop('SIGKILL');
    if (d) await teardownDeployment(d);
  }, 60_000);

  it('stops giving the hosted-service score once the service row is deleted and the refresh has passed, and exits cleanly on SIGTERM', async () => {
    await requireProductionServices({ redis: false });
    d = await provisionDeployment('themis-refresh', { redis: false });
    const deployment = d;
    topology = startCli('themis-topology', [
      'submit', '1', '1', '100', '0', deployment.name,
      '--kafka', TEST_BROKERS.join(','),
      '--postgres', deployment.postgresUrl, '--postgres-schema', deployment.schema,
      '--postgres-refresh-secs', String(REFRESH_SECS),
      '--config', deployment.configPath,
      '--from-beginning', '--no-metrics-port',
    ]);
    watch = await watchTopic(TEST_BROKERS, deployment.topics.scored);
    const w = watch;
    const running = topology;
    const scoredRecordOf = async (ids: number[]): Promise<Row> => {
      let found: Row | undefined;
      await eventually(
        `a scored record of flows ${ids.join('/')} is on ${deployment.topics.scored}`,
        () => {
          if (running.child.exitCode !== null) throw new Error(`the topology exited early (${running.child.exitCode}):\n${running.stderr().slice(-3000)}`);
          found = parseAll(w.messages).find((r) => ids.includes(r.flow_id as number));
          return found !== undefined;
        },
        60_000,
      );
      return found!;
    };

    await runCliOk('themis-ingest', ['json', '-', '--topic', deployment.topics.input, '--brokers', TEST_BROKERS.join(',')], { input: hostedHttpsConversation(1, 51001) });
    const before = await scoredRecordOf([1, 2]);
    expect({ tags: before.tags, goodness: before.goodness, badness: before.badness }).toEqual({ tags: ['HOSTED_SERVICES-TCP'], goodness: 100, badness: 0 });

    const deleted = await deployment.pool.query(
      `DELETE FROM list_known_host_service s USING list_known_host h
        WHERE s.list_known_host_id = h.id AND h.ip_address = '192.0.2.10' AND s.protocol = 6 AND s.port = 443 AND s.is_hosted`,
    );
    expect(deleted.rowCount).toBe(1);
    // Reloads start REFRESH_SECS after the previous one ended: three intervals cover one full reload on every thread.
    await new Promise((resolve) => setTimeout(resolve, 3 * REFRESH_SECS * 1000));

    await runCliOk('themis-ingest', ['json', '-', '--topic', deployment.topics.input, '--brokers', TEST_BROKERS.join(',')], { input: hostedHttpsConversation(3, 51002) });
    const after = await scoredRecordOf([3, 4]);
    // The good tag is gone. 192.0.2.10 is still a known TCP host (port 80), so the rule now gives
    // the same tag as its negative score: a known host on a port not listed for it (§5.16 step 4).
    expect({ tags: after.tags, goodness: after.goodness, badness: after.badness }).toEqual({ tags: ['HOSTED_SERVICES-TCP'], goodness: 0, badness: 50 });
    const sides = (r: Row) => ({ matched: r.matched, src_ip: r.src_ip, src_port: r.src_port, dst_ip: r.dst_ip, protocol: r.protocol });
    expect(sides(after)).toEqual(sides(before));

    const stopped = await running.stop('SIGTERM', 30_000);
    expect(stopped.signal, stopped.stderr).toBeNull();
    // Every flow read was finished before the signal's drain ended.
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toContain('themis: SIGTERM: reading no more input; finishing the flows read');
    expect(stopped.stderr).toMatch(/themis: done in [\d.]+ s: \d+ lines .* 0 replays/);
    expect(stopped.stderr).not.toMatch(/"level":"error"/);
  }, 150_000);
});

describe('production mode on an input topic not keyed by conversation (--input-unkeyed)', () => {
  let d: TestDeployment | undefined;

  afterAll(async () => {
    if (d) await teardownDeployment(d);
  }, 60_000);

  it('pairs both directions of every conversation although they sit in different partitions, read by different consumers', async () => {
    await requireProductionServices({ redis: false });
    d = await provisionDeployment('themis-unkeyed', { redis: false });
    const deployment = d;
    // 40 conversations: the first direction in partition p, the reply in p + 1 (mod 4). Whichever
    // two partitions each of the two consumers gets, some conversations are split between them.
    const kafka = new Kafka({ clientId: 'themis-test-unkeyed', brokers: TEST_BROKERS, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const messages = Array.from({ length: 40 }, (_, c) => hostedHttpsConversation(1 + 2 * c, 52000 + c).split('\n').map((value, i) => ({ value, partition: (c + i) % 4 }))).flat();
      await producer.send({ topic: deployment.topics.input, messages });
    } finally {
      await producer.disconnect();
    }
    const run = await runCli(
      'themis-topology',
      ['submit', '2', '2', '1000', '0', deployment.name, '--kafka', TEST_BROKERS.join(','), '--input-unkeyed', '--config', deployment.configPath, '--stop-at-end', '--from-beginning', '--no-metrics-port'],
      { timeoutMs: 120_000 },
    );
    expect(run.code, run.stderr).toBe(0);
    const scored = parseAll(await readTopicToEnd(TEST_BROKERS, deployment.topics.scored));
    // One record per conversation (at-least-once: copies are the same record), each matched.
    const byConversation = new Map<number, Row>();
    for (const r of scored) byConversation.set(Math.min(r.flow_id as number, r.pair_flow_id as number), r);
    expect([...byConversation.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, c) => 1 + 2 * c));
    for (const r of byConversation.values()) expect({ matched: r.matched, tags: r.tags }).toEqual({ matched: true, tags: ['HOSTED_SERVICES-TCP'] });
  }, 150_000);
});
