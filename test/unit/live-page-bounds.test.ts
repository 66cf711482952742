import { describe, expect, it } from 'vitest';
import { LATEST_ALERTS_READING, SCORED_SOURCES_READING } from '../../bolts/components/output-bolts.js';
import { AlertTally, MAX_ALERTS as INTERVAL_ALERTS, type AlertBrief } from '../../bolts/output/alert-tally.js';
import { alertRecord } from '../../bolts/output/alert-record.js';
import { MAX_CONVERSATIONS, MAX_SOURCES, MAX_TAGS, SourceTally, TOP_SOURCES as TALLY_TOP, type ConversationBrief, type SourceSummary } from '../../bolts/output/source-tally.js';
import { makeTag } from '../../bolts/rules/tags.js';
import type { WorkerMetricsSnapshot } from '../../runtime/index.js';
import { TopologyStatusTracker, WINDOW_SAMPLES } from '../../runtime/topology-status.js';
import type { TopologySpec } from '../../runtime/spec.js';
import { LatestAlerts, MAX_ALERTS } from '../../topology/latest-alerts.js';
import { PERSIST_ALERTS, PERSIST_SCORED } from '../../topology/themis-topology.js';
import { BUCKET_SECS, BUCKET_SOURCES, CONVERSATION_SOURCES, CONVERSATIONS_PER_SOURCE, RATE_POINTS, TOP_SOURCES, TrafficView, WINDOW_BUCKETS } from '../../topology/traffic-view.js';
import { makeFlow } from '../helpers/make-flow.js';

/**
 * The live page's state on the server is bounded whatever the traffic: each structure is fed many
 * times more items than its bound, and must stay at the bound and keep the items its rule says.
 */

const bad = (code: string, score: number) => makeTag({ category: 'TEST', code, score }, true);

/** 10.x.y.z for source number n. */
const ipOf = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

describe('SourceTally, one output task’s interval', () => {
  it('admits at most MAX_SOURCES sources, counts the flows of later ones as overflow, and reports the worst TOP_SOURCES', () => {
    const tally = new SourceTally();
    const sources = MAX_SOURCES * 3;
    // Source n's one flow has badness n + 1: the worst admitted are the last admitted.
    for (let n = 0; n < sources; n++) tally.add(makeFlow({ id: n + 1, srcIp: ipOf(n), tags: [bad('X', n + 1)] }));
    const report = tally.take()!;
    expect(report.overflow).toBe(sources - MAX_SOURCES);
    expect(report.sources.map((s) => s.ip)).toEqual(Array.from({ length: TALLY_TOP }, (_, i) => ipOf(MAX_SOURCES - 1 - i)));
    expect(tally.take(), 'a fresh interval after take').toBeUndefined();
  });

  it('keeps a source’s latest MAX_CONVERSATIONS conversations, latest first, and at most MAX_TAGS tags', () => {
    const tally = new SourceTally();
    const flows = 40;
    for (let i = 0; i < flows; i++) tally.add(makeFlow({ id: i + 1, tags: [bad(`T${i}`, 1)] }));
    const [source] = tally.take()!.sources;
    expect(source!.flows).toBe(flows);
    expect(source!.badness).toBe(flows);
    expect(source!.conversations.map((c) => c.id)).toEqual(Array.from({ length: MAX_CONVERSATIONS }, (_, i) => flows - i));
    expect(source!.tags).toEqual(Array.from({ length: MAX_TAGS }, (_, i) => `TEST-T${i}`));
  });
});

/** A snapshot of one worker whose output tasks report these readings (a new object each time, as a new report is). */
function report(readings: { sources?: readonly SourceSummary[]; overflow?: number; alerts?: readonly AlertBrief[] }): WorkerMetricsSnapshot[] {
  const tasks = [
    { task: 1, component: PERSIST_SCORED, readings: readings.sources ? { [SCORED_SOURCES_READING]: { sources: readings.sources, overflow: readings.overflow ?? 0 } } : {} },
    { task: 2, component: PERSIST_ALERTS, readings: readings.alerts ? { [LATEST_ALERTS_READING]: { alerts: readings.alerts, overflow: 0 } } : {} },
  ];
  return [{ worker: 0, atMs: 0, tasks, executors: [] } as unknown as WorkerMetricsSnapshot];
}

function conversation(id: number, src: string): ConversationBrief {
  return { id, startSecs: 1_700_000_000 + id, protocol: 6, src, srcPort: 40_000, dst: '192.0.2.1', dstPort: 22, matched: true, badness: 1, tags: [] };
}

function summary(ip: string, badness: number, conversations: readonly ConversationBrief[] = []): SourceSummary {
  return { ip, badness, flows: 1, tags: ['TEST-X'], conversations };
}

function trafficView(clock: { ms: number }): TrafficView {
  let lines = 0;
  return new TrafficView(() => ({ linesIn: (lines += 100), scored: lines / 2, discarded: 0, ignored: 0 }), { hasAlerts: true }, () => clock.ms);
}

describe('TrafficView, the supervisor’s traffic state', () => {
  it('keeps BUCKET_SOURCES sources a bucket, the flows of the rest counted as left out, and shows the worst TOP_SOURCES of those kept', () => {
    const clock = { ms: 1_000_000 };
    const view = trafficView(clock);
    const sources = BUCKET_SOURCES * 4;
    // Reports of 25 sources each, all in one bucket; source n's badness is n + 1.
    for (let first = 0; first < sources; first += 25) view.onMetrics(report({ sources: Array.from({ length: 25 }, (_, i) => summary(ipOf(first + i), first + i + 1)) }));
    const state = view.state();
    expect(state.sourcesLeftOut).toBe(sources - BUCKET_SOURCES);
    expect(state.topSources.map((s) => s.ip)).toEqual(Array.from({ length: TOP_SOURCES }, (_, i) => ipOf(BUCKET_SOURCES - 1 - i)));
  });

  it('forgets the buckets older than the window: over an hour of reports, the top sources come from its last WINDOW_BUCKETS buckets only', () => {
    const clock = { ms: 0 };
    const view = trafficView(clock);
    const buckets = 360;
    // One source a bucket, older ones worse: any bucket kept past the window would top the list.
    for (let b = 0; b < buckets; b++) {
      clock.ms = b * BUCKET_SECS * 1000;
      view.onMetrics(report({ sources: [summary(ipOf(b), 10_000 - b)] }));
    }
    const state = view.state();
    const firstKept = buckets - WINDOW_BUCKETS;
    expect(state.topSources.map((s) => s.ip)).toEqual(Array.from({ length: TOP_SOURCES }, (_, i) => ipOf(firstKept + i)));
    expect(state.windowSecs).toBe(WINDOW_BUCKETS * BUCKET_SECS);
  });

  it('keeps the latest CONVERSATIONS_PER_SOURCE conversations of a source, and those of CONVERSATION_SOURCES sources, the least recently seen forgotten first', () => {
    const clock = { ms: 0 };
    const view = trafficView(clock);
    const worst = '198.51.100.1';
    // 60 conversations of the worst source, 5 a report, latest first within each.
    for (let r = 0; r < 12; r++) view.onMetrics(report({ sources: [summary(worst, 1_000_000, Array.from({ length: 5 }, (_, i) => conversation(r * 5 + 5 - i, worst)))] }));
    let top = view.state().topSources[0]!;
    expect(top.ip).toBe(worst);
    expect(top.conversations.map((c) => c.id)).toEqual(Array.from({ length: CONVERSATIONS_PER_SOURCE }, (_, i) => 60 - i));

    // CONVERSATION_SOURCES other sources seen since: the worst source is the least recently seen, and its conversations go.
    for (let n = 0; n < CONVERSATION_SOURCES; n++) view.onMetrics(report({ sources: [summary(ipOf(n), 1, [conversation(1000 + n, ipOf(n))])] }));
    top = view.state().topSources[0]!;
    expect(top.ip).toBe(worst);
    expect(top.conversations).toEqual([]);
    // The most recent of the others still has its own.
    view.onMetrics(report({ sources: [summary(ipOf(CONVERSATION_SOURCES - 1), 100_000_000)] }));
    expect(view.state().topSources[0]!.conversations.map((c) => c.id)).toEqual([1000 + CONVERSATION_SOURCES - 1]);
  });

  it('keeps RATE_POINTS rate points, one a second at most, the latest last', () => {
    const clock = { ms: 0 };
    const view = trafficView(clock);
    for (let s = 0; s < RATE_POINTS * 3; s++) {
      clock.ms = s * 1000;
      view.onMetrics(report({}));
      // A second report within the same second adds no point.
      clock.ms += 500;
      view.onMetrics(report({}));
    }
    const { rates } = view.state();
    expect(rates).toHaveLength(RATE_POINTS);
    expect(rates.at(-1)!.atMs).toBe((RATE_POINTS * 3 - 1) * 1000);
    expect(rates[0]!.atMs).toBe((RATE_POINTS * 2) * 1000);
    // 100 more lines at each totals call, made once a second: the half-second reports are not read for rates.
    expect(rates.at(-1)!.linesIn).toBe(100);
  });

  it('is a report read once: the same snapshot seen again adds nothing', () => {
    const view = trafficView({ ms: 0 });
    const once = report({ sources: [summary('192.0.2.99', 7)] });
    view.onMetrics(once);
    view.onMetrics(once);
    expect(view.state().topSources[0]!.badness).toBe(7);
  });
});

function alert(type: string, sourceIp: string, attempts: number, status: AlertBrief['status'] = 'raised'): AlertBrief {
  return { alertId: `${type}:${sourceIp}:0`, type, status, sourceIp, firstSeenSecs: 0, lastSeenSecs: attempts, attempts, score: 100, targets: [], ports: [] };
}

describe('the alerts of the page', () => {
  it('AlertTally keeps INTERVAL_ALERTS alerts an interval, each at its latest record, and counts the rest', () => {
    const tally = new AlertTally();
    const record = (n: number, attempts: number) =>
      alertRecord({ id: `PORT_SCAN:${ipOf(n)}:0`, type: 'PORT_SCAN', source: ipOf(n), firstSeenSecs: 0, lastSeenSecs: attempts, attempts, targets: Array.from({ length: 50 }, (_, i) => ipOf(i)), ports: [], flowIds: [], score: 100, windowSecs: 300, isDirty: false }, 'updated').value;
    for (let n = 0; n < INTERVAL_ALERTS * 4; n++) tally.add(record(n, 15));
    tally.add(record(0, 99));
    const taken = tally.take()!;
    expect(taken.overflow).toBe(INTERVAL_ALERTS * 3);
    expect(taken.alerts.map((a) => a.sourceIp)).toEqual(Array.from({ length: INTERVAL_ALERTS }, (_, n) => ipOf(n)));
    expect(taken.alerts[0]).toMatchObject({ attempts: 99, status: 'updated', type: 'PORT_SCAN' });
    expect(taken.alerts[0]!.targets).toHaveLength(5);
    expect(tally.take()).toBeUndefined();
  });

  it('LatestAlerts keeps the MAX_ALERTS newest keys, newest first, and an update replaces its row where it stands', () => {
    const latest = new LatestAlerts();
    const keys = MAX_ALERTS * 5;
    for (let n = 0; n < keys; n++) latest.addReport({ alerts: [alert('PORT_SCAN', ipOf(n), 15)], overflow: 1 });
    let state = latest.state();
    expect(state.leftOut).toBe(keys);
    expect(state.alerts.map((a) => a.sourceIp)).toEqual(Array.from({ length: MAX_ALERTS }, (_, i) => ipOf(keys - 1 - i)));

    // An update of a kept alert: same place, new figures, no new row.
    const middle = ipOf(keys - 10);
    latest.add(alert('PORT_SCAN', middle, 40, 'closed'));
    state = latest.state();
    expect(state.alerts).toHaveLength(MAX_ALERTS);
    expect(state.alerts[9]).toMatchObject({ sourceIp: middle, attempts: 40, status: 'closed' });
    // Another type from the same source is a row of its own, on top.
    latest.add(alert('ADDRESS_SCAN', middle, 25));
    state = latest.state();
    expect(state.alerts).toHaveLength(MAX_ALERTS);
    expect(state.alerts[0]).toMatchObject({ type: 'ADDRESS_SCAN', sourceIp: middle });
    expect(state.alerts.at(-1)!.sourceIp).toBe(ipOf(keys - MAX_ALERTS + 1));
  });

  it('TrafficView passes the alerts output’s reports to the page, and has none with the evidence stage off', () => {
    const view = trafficView({ ms: 0 });
    view.onMetrics(report({ alerts: [alert('PORT_SCAN', '203.0.113.66', 15)] }));
    expect(view.state().alerts!.alerts.map((a) => a.sourceIp)).toEqual(['203.0.113.66']);
    const off = new TrafficView(() => ({ linesIn: 0, scored: 0, discarded: 0, ignored: 0 }), { hasAlerts: false }, () => 0);
    off.onMetrics(report({ alerts: [alert('PORT_SCAN', '203.0.113.66', 15)] }));
    expect(off.state().alerts).toBeNull();
  });
});

describe('TopologyStatusTracker, the page’s topology figures', () => {
  it('takes rates over its last WINDOW_SAMPLES samples, however many it has taken', () => {
    const spec = { options: { name: 't' }, components: [{ id: 'b', kind: 'bolt', executors: 1, tasks: 1, inputs: [] }] } as unknown as TopologySpec;
    const clock = { ms: 0 };
    let executed = 0;
    const snapshot = () =>
      [
        {
          worker: 0,
          atMs: clock.ms,
          thread: { busyRatio: 0, heapUsedBytes: 0, heapLimitBytes: 0 },
          tasks: [{ task: 1, component: 'b', kind: 'bolt', counters: { emitted: 0, executed, acked: 0, failed: 0, timedOut: 0, errors: 0 }, execute: null, pending: 0, parked: 0, breakerOpen: false }],
          executors: [],
        },
      ] as unknown as WorkerMetricsSnapshot[];
    const tracker = new TopologyStatusTracker(spec, snapshot, () => clock.ms);
    // 2 s apart: 10 executed a second for the first 200 samples, then 50 a second.
    let view = tracker.sample();
    for (let i = 0; i < 200 + WINDOW_SAMPLES; i++) {
      clock.ms = i * 2000;
      executed += i < 200 ? 20 : 100;
      view = tracker.sample();
      if (i === 199) expect(view.components[0]!.executedPerSec).toBe(10);
    }
    // The window spans the last WINDOW_SAMPLES samples, all of them at the new rate.
    expect(view.windowSecs).toBe((WINDOW_SAMPLES - 1) * 2);
    expect(view.components[0]!.executedPerSec).toBeCloseTo(50, 9);
  });
});
