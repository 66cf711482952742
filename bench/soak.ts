/**
 * Soak: the Themis topology on a stream for a long time, Kafka in and Kafka out, at a steady
 * offered rate with many one-way flows, under the default windows (message timeout 60 s, match
 * window 120 s). A one-way flow is held by match-flows for the whole match window, longer than the
 * message timeout, so this is where a held flow that times out, is replayed or comes out twice
 * shows, and where memory that grows with the stream shows. Prints a table and writes
 * bench/results/soak.json.
 *
 *   npm run bench:soak [-- --rate 5000 --minutes 10 --one-way-fraction 0.5 --kafka 127.0.0.1:9092]
 *
 * The run:
 *   1. builds the bench data directory (lib/bench-data.ts) and fresh topics (4 partitions);
 *   2. starts `themis-topology submit 2 2 20000 0` in its own process, reading the input topic
 *      from the beginning and writing the output topics, its metrics endpoint on a free port;
 *   3. once every spout task emits, produces generated flows (lib/flow-generator.ts, no bad lines,
 *      the share of TCP/UDP sessions sent as conversations chosen so that --one-way-fraction of
 *      the lines are one-way records) keyed by conversation at --rate for --minutes;
 *   4. then stops producing and waits for the drain: every input offset committed by the
 *      topology's group (each flow's tree complete, the held ones released by their window) and
 *      the output topics read to their end, for at most the match window + 2 message timeouts +
 *      60 s (`isDrained` false when that passed first);
 *   5. stops the topology with SIGTERM.
 *
 * Figures: flowsIn (lines the broker acknowledged); recordsOut (scored records); duplicates
 * (deliveries of an input id beyond its first, over the scored records' flow_id and pair_flow_id
 * and the ignored records' flow_id); missing (input ids never delivered); ignored (ignored
 * records); replays and timeouts (roots the spout failed, and failed by the timeout, from the
 * metrics endpoint); p99Ms (the topology's latency histogram of the record that completes a
 * conversation, from the flow's parse to the confirmed write, over the feed after a WARMUP_SECS
 * warm-up; a flow released unmatched waited for its window on purpose and is not in it);
 * rssMbByMinute (the topology process's resident size, sampled every second, mean of each
 * minute of the feed). Targets (themis-facts.md): 0 duplicates, replays and timeouts; the last
 * minute at most 1.1 × the third.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LATENCY_BUCKETS_SECONDS } from '../runtime/index.js';
import { defaultConfig } from '../bolts/themis-config.js';
import { createTopics } from '../spouts/kafka/create-topics.js';
import { Kafka, logLevel } from '../spouts/kafka/kafkajs.js';
import { themisProducer } from '../spouts/kafka/producer.js';
import { SPOUT } from '../topology/themis-topology.js';
import { buildBenchData } from './lib/bench-data.js';
import { generateFlows, newFlowGeneratorStats, type FlowMix } from './lib/flow-generator.js';
import { percentileOfCounts } from './lib/measure.js';
import { emittingSpoutTasks, metricsUrlIn, scrapeMetrics, spoutRoots, type MetricSample } from './lib/metrics-endpoint.js';
import { OutputTally } from './lib/output-tally.js';
import { benchArgs, printTable, resultsFile, writeResults } from './lib/report.js';
import { SteadyFeed } from './lib/steady-feed.js';
import { TopologyChild } from './lib/topology-child.js';

const WORKERS = 2;
const MAX_PENDING = 20_000;
const SEED = 20_261_206;
const WARMUP_SECS = 5;
/** No bad lines: each line then has an id the outputs must account for. */
const MIX: Partial<FlowMix> = { badLine: 0 };

const argv = benchArgs();
const rate = Number(argv.get('rate') ?? 5_000);
const minutes = Number(argv.get('minutes') ?? 10);
const oneWayFraction = Number(argv.get('one-way-fraction') ?? 0.5);
const brokers = (argv.get('kafka') ?? '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean);
const problems = [
  ...(Number.isFinite(rate) && rate > 0 ? [] : [`--rate (${argv.get('rate')}) must be flows per second above 0`]),
  ...(Number.isFinite(minutes) && minutes > 0 ? [] : [`--minutes (${argv.get('minutes')}) must be above 0`]),
  ...(oneWayFraction >= 0 && oneWayFraction <= 1 ? [] : [`--one-way-fraction (${argv.get('one-way-fraction')}) must be 0-1`]),
  ...(brokers.length > 0 ? [] : ['--kafka must name at least one broker (host:port)']),
];
if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`bench:soak: ${p}\n`);
  process.exit(2);
}

const windows = defaultConfig().windows;
const drainLimitMs = windows.matchWindowMs + 2 * windows.messageTimeoutSecs * 1000 + 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (msg: string) => process.stderr.write(`bench:soak: ${msg}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * The generator's share of TCP/UDP sessions sent as conversations that makes `fraction` of its
 * lines one-way records (ICMP, scans and discarded traffic included), found by bisection on the
 * first 50,000 lines of the same stream.
 */
function conversationShareFor(fraction: number): number {
  const oneWayShareAt = (conversation: number): number => {
    const stats = newFlowGeneratorStats();
    for (const line of generateFlows({ count: 50_000, seed: SEED, mix: { ...MIX, conversation }, stats })) void line;
    return stats.oneWayFlows / stats.lines;
  };
  const [least, most] = [oneWayShareAt(1), oneWayShareAt(0)];
  if (fraction < least || fraction > most) throw new RangeError(`--one-way-fraction (${fraction}) must be ${least.toFixed(3)}-${most.toFixed(3)} with this flow mix`);
  let [lo, hi] = [0, 1];
  for (let i = 0; i < 16; i++) {
    const mid = (lo + hi) / 2;
    if (oneWayShareAt(mid) > fraction) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** The scored-latency histogram of the endpoint, one count per bucket (+inf last), as measure.ts reads it in process. */
function latencyCountsOf(samples: readonly MetricSample[]): number[] {
  // The endpoint's buckets are cumulative (`le`), summed here over every task.
  const cumulative = new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
  for (const s of samples) {
    if (s.name !== 'themis_scored_latency_seconds_bucket') continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    const i = le === Infinity ? LATENCY_BUCKETS_SECONDS.length : LATENCY_BUCKETS_SECONDS.findIndex((b) => Math.abs(b - le) <= b * 1e-9);
    if (i >= 0) cumulative[i]! += s.value;
  }
  return cumulative.map((c, i) => c - (i > 0 ? cumulative[i - 1]! : 0));
}

/** Offsets per `topic/partition` of the topics' ends now. */
async function endOffsets(admin: ReturnType<Kafka['admin']>, topics: readonly string[]): Promise<Map<string, number>> {
  const ends = new Map<string, number>();
  for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}/${p.partition}`, Number(p.high));
  return ends;
}

/** Input messages not yet committed by the group, over every partition. */
async function uncommitted(admin: ReturnType<Kafka['admin']>, groupId: string, topic: string): Promise<number> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, Math.max(0, Number(p.offset))]));
  let lag = 0;
  for (const p of await admin.fetchTopicOffsets(topic)) lag += Number(p.high) - (at.get(p.partition) ?? 0);
  return lag;
}

const work = mkdtempSync(join(tmpdir(), 'themis-soak-'));
const name = `soak-${Date.now()}`;
const topics = {
  input: `${name}-netflow-json`,
  ignored: `${name}-ignored-flows`,
  scored: `${name}-scored-flows`,
  scoredDetail: `${name}-scored-flows-detail`,
  scanCandidates: `${name}-scan-candidates`,
};
const groupId = `themis-${name}`;
const tallyGroup = `${name}-tally`;
const totalFlows = Math.round(rate * minutes * 60);
const kafka = new Kafka({ clientId: 'themis-bench-soak', brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const producer = themisProducer(kafka);
const tally = new OutputTally(1, totalFlows);
let topology: TopologyChild | undefined;
try {
  await admin.connect();
  log('building the bench data and choosing the flow mix');
  const dataDir = await buildBenchData(join(work, 'data'));
  const conversation = conversationShareFor(oneWayFraction);
  // An hour's retention: a soak that dies before its cleanup leaves nothing for longer.
  await createTopics({ brokers, topics: Object.values(topics), partitions: 4, retentionMs: 3_600_000, clientId: 'themis-bench-soak' });
  const configPath = join(work, 'config.json');
  writeFileSync(configPath, JSON.stringify({ topics }));
  await tally.start(brokers, topics, tallyGroup);
  await producer.connect();

  const args = ['submit', String(WORKERS), String(WORKERS), String(MAX_PENDING), '0', name, '--workers', String(WORKERS)];
  args.push('--kafka', brokers.join(','), '--config', configPath, '--data-dir', dataDir, '--from-beginning', '--metrics-port', '0');
  const child = new TopologyChild(args);
  topology = child;
  const ready = Date.now() + 120_000;
  while (metricsUrlIn(child.startOfStderr) === null || emittingSpoutTasks(child.startOfStderr) < WORKERS) {
    if (!child.isRunning || Date.now() > ready) throw new Error(`the topology did not get every spout task emitting within 120 s:\n${child.startOfStderr.slice(-3000)}`);
    await sleep(100);
  }
  const metricsUrl = metricsUrlIn(child.startOfStderr)!;
  child.keepTailOnly();

  const stats = newFlowGeneratorStats();
  const generated = generateFlows({ count: totalFlows, seed: SEED, startSecs: Math.floor(Date.now() / 1000), flowsPerSec: rate, mix: { ...MIX, conversation }, stats });
  // A conversation's two ids are drawn together and its second line comes later, so the ids the
  // feed has sent are not a prefix of the id range: each is noted as it goes.
  const lines = (function* () {
    for (const line of generated) {
      tally.noteSent(line);
      yield line;
    }
  })();
  const feed = new SteadyFeed({ producer, topic: topics.input, ratePerSec: rate, lines });
  log(`${name}: offering ${fmt(rate)} flows/s for ${minutes} min (${fmt(totalFlows)} flows, conversation share of sessions ${conversation.toFixed(3)}); metrics ${metricsUrl}`);
  const feedStart = performance.now();
  feed.start();
  const rssEverySecond: number[] = [];
  let warmupCounts: number[] | null = null;
  let nextReportSecs = 60;
  for (let second = 1; ; second++) {
    await sleep(feedStart + second * 1000 - performance.now());
    if (!child.isRunning) throw new Error(`the topology exited during the feed:\n${child.lastLines()}`);
    const rss = child.residentMb();
    if (rss !== null) rssEverySecond.push(rss);
    if (second === WARMUP_SECS) warmupCounts = latencyCountsOf(await scrapeMetrics(metricsUrl));
    const isFeedDone = feed.isDone || second >= minutes * 60;
    if (second >= nextReportSecs || isFeedDone) {
      nextReportSecs += 60;
      const roots = spoutRoots(await scrapeMetrics(metricsUrl), SPOUT);
      log(
        `${(second / 60).toFixed(1)} min: produced ${fmt(feed.acknowledged)} (${fmt(feed.behind)} behind the rate), scored records ${fmt(tally.scoredRecords)}, ignored ${fmt(tally.ignoredRecords)}, ` +
          `duplicates ${fmt(tally.duplicates)}, replays ${fmt(roots.failed)} (${fmt(roots.timedOut)} timeouts), parked ${fmt(roots.parked)}, rss ${rss ?? '?'} MB`,
      );
    }
    if (isFeedDone) break;
  }
  await feed.stop();
  const feedSecs = (performance.now() - feedStart) / 1000;
  const feedEndCounts = latencyCountsOf(await scrapeMetrics(metricsUrl));

  log(`feed done (${fmt(feed.acknowledged)} flows in ${feedSecs.toFixed(0)} s); draining: every input offset committed and the outputs read to their end, for at most ${drainLimitMs / 1000} s`);
  const drainStart = performance.now();
  let isDrained = false;
  let lag = 0;
  while (performance.now() - drainStart < drainLimitMs) {
    if (!child.isRunning) throw new Error(`the topology exited during the drain:\n${child.lastLines()}`);
    const rss = child.residentMb();
    if (rss !== null) rssEverySecond.push(rss);
    lag = await uncommitted(admin, groupId, topics.input);
    if (lag === 0 && tally.hasReadUpTo(await endOffsets(admin, [topics.scored, topics.ignored]))) {
      isDrained = true;
      break;
    }
    await sleep(2_000);
  }
  const drainSecs = (performance.now() - drainStart) / 1000;
  // One more metrics report from every thread (each reports every second).
  await sleep(1_500);
  const samples = await scrapeMetrics(metricsUrl);
  const roots = spoutRoots(samples, SPOUT);
  // The engine's own drain on SIGTERM waits up to a message timeout for the trees in flight.
  const exit = await child.stop('SIGTERM', windows.messageTimeoutSecs * 1000 + 30_000);
  const summaryLine = child.lastLines(10).split('\n').find((l) => l.startsWith('themis: done in')) ?? null;

  const feedSeconds = rssEverySecond.slice(0, Math.ceil(minutes * 60));
  const rssMbByMinute: number[] = [];
  for (let m = 0; m * 60 < feedSeconds.length; m++) {
    const part = feedSeconds.slice(m * 60, (m + 1) * 60);
    rssMbByMinute.push(Math.round(part.reduce((a, b) => a + b, 0) / part.length));
  }
  const result = {
    offeredPerSec: rate,
    minutes,
    oneWayFraction,
    oneWayShare: Number((stats.oneWayFlows / Math.max(1, stats.lines)).toFixed(3)),
    producedPerSec: Math.round(feed.acknowledged / feedSecs),
    flowsIn: feed.acknowledged,
    recordsOut: tally.scoredRecords,
    duplicates: tally.duplicates,
    ...tally.missingAndUnexpected(),
    replays: roots.failed,
    timeouts: roots.timedOut,
    ignored: tally.ignoredRecords,
    p99Ms: percentileOfCounts(feedEndCounts, 0.99, warmupCounts ?? undefined),
    p99WholeRunMs: percentileOfCounts(latencyCountsOf(samples), 0.99),
    rssMbByMinute,
    peakRssMb: Math.max(...rssEverySecond),
    isDrained,
    drainSecs: Math.round(drainSecs),
    uncommittedAtEnd: lag,
    parkedAtEnd: roots.parked,
    topologyErrorLines: child.errorLines,
    exit: exit.signal ?? exit.code,
  };
  printTable([{ ...result, rssMbByMinute: result.rssMbByMinute.join(' / ') }]);
  const third = rssMbByMinute[2];
  const last = rssMbByMinute[rssMbByMinute.length - 1];
  const flat = third === undefined || last === undefined || rssMbByMinute.length < 4 ? 'needs 4 minutes or more' : `last minute ${last} MB ${last <= 1.1 * third ? '<=' : '>'} 1.1 × the third (${third} MB)`;
  console.log(
    `\nsoak of ${minutes} min at ${fmt(rate)} flows/s offered, ${(100 * result.oneWayShare).toFixed(0)} % one-way: ${result.duplicates} duplicates, ${result.replays} replays, ${result.timeouts} timeouts (target 0 each); memory: ${flat}` +
      `${isDrained ? '' : `; NOT drained within ${drainLimitMs / 1000} s (${lag} input offsets uncommitted, ${roots.parked} roots parked)`}` +
      `${summaryLine === null ? '' : `\ntopology: ${summaryLine}`}`,
  );
  writeResults(resultsFile('soak.json'), [{ ...result, rssMbEverySecond: rssEverySecond }], {
    workers: WORKERS,
    maxPending: MAX_PENDING,
    windows: { matchWindowMs: windows.matchWindowMs, messageTimeoutSecs: windows.messageTimeoutSecs, joinWindowMs: windows.joinWindowMs, tickSecs: windows.tickSecs },
    warmupSecs: WARMUP_SECS,
    seed: SEED,
    topologySummary: summaryLine,
  });
} finally {
  await tally.stop().catch((err: unknown) => log(`stopping the output consumer failed: ${(err as Error).message}`));
  await producer.disconnect().catch((err: unknown) => log(`disconnecting the producer failed: ${(err as Error).message}`));
  if (topology?.isRunning) await topology.stop('SIGKILL', 10_000);
  try {
    // A killed topology's consumers stay members until their session times out, and a group with
    // members cannot be deleted; once its topic is deleted too, the broker drops the empty group.
    for (const group of [tallyGroup, groupId]) await admin.deleteGroups([group]).catch(() => log(`consumer group ${group} not deleted now (members still in it): the broker drops it once it is empty`));
    await admin.deleteTopics({ topics: Object.values(topics) }).catch((err: unknown) => log(`deleting the topics failed: ${(err as Error).message}`));
  } finally {
    await admin.disconnect();
  }
  rmSync(work, { recursive: true, force: true });
}
