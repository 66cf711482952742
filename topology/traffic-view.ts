import type { WorkerMetricsSnapshot } from '../runtime/index.js';
import { LATEST_ALERTS_READING, SCORED_SOURCES_READING } from '../bolts/components/output-bolts.js';
import type { AlertTallyReport } from '../bolts/output/alert-tally.js';
import type { ConversationBrief, SourceSummary, SourceTallyReport } from '../bolts/output/source-tally.js';
import { LatestAlerts, type LatestAlertsState } from './latest-alerts.js';
import { PERSIST_ALERTS, PERSIST_SCORED } from './themis-topology.js';

/**
 * The live page's traffic section, kept by the supervisor from the worker reports: flow rates over
 * the last minutes, the worst sources of a recent window and their latest conversations. It owns
 * every expiry of what it keeps, and all of it is bounded:
 * - rates: one point a second at most, the last RATE_POINTS (5 minutes);
 * - sources: the scored-output tasks' interval reports (each its 25 worst sources) summed into
 *   BUCKET_SECS buckets, the last WINDOW_BUCKETS of them (5 minutes), at most BUCKET_SOURCES each;
 * - conversations: the latest CONVERSATIONS_PER_SOURCE of at most CONVERSATION_SOURCES sources,
 *   the least recently seen source forgotten first;
 * - alerts (evidence stage on): the alerts output tasks' interval reports into LatestAlerts.
 */

export const RATE_POINTS = 300;
export const BUCKET_SECS = 10;
export const WINDOW_BUCKETS = 30;
export const BUCKET_SOURCES = 500;
export const CONVERSATION_SOURCES = 200;
export const CONVERSATIONS_PER_SOURCE = 10;
export const TOP_SOURCES = 15;

export interface RatePoint {
  readonly atMs: number;
  /** Per second since the point before. */
  readonly linesIn: number;
  readonly scored: number;
  readonly discarded: number;
  readonly ignored: number;
}

export interface TrafficState {
  readonly rates: readonly RatePoint[];
  readonly windowSecs: number;
  /** Summed over the window; the conversations are the latest of the source, whatever their bucket. */
  readonly topSources: readonly SourceSummary[];
  /** Flows of sources the bounds left out of the window (a flood of distinct sources). */
  readonly sourcesLeftOut: number;
  /** null when the evidence stage is off. */
  readonly alerts: LatestAlertsState | null;
}

interface SourceAgg {
  badness: number;
  flows: number;
  readonly tags: Set<string>;
}

interface Bucket {
  readonly startMs: number;
  readonly sources: Map<string, SourceAgg>;
  leftOut: number;
}

/** Flow counts since start, from the worker reports (`progressOf`). */
export interface FlowTotals {
  readonly linesIn: number;
  readonly scored: number;
  readonly discarded: number;
  readonly ignored: number;
}

interface Totals {
  readonly atMs: number;
  readonly linesIn: number;
  readonly scored: number;
  readonly discarded: number;
  readonly ignored: number;
}

export class TrafficView {
  private readonly rates: RatePoint[] = [];
  private lastTotals: Totals | null = null;
  private readonly buckets: Bucket[] = [];
  private readonly conversations = new Map<string, ConversationBrief[]>();
  /** The snapshot last read of each worker: a report is read once, however often 'metrics' fires. */
  private readonly seen: Array<WorkerMetricsSnapshot | undefined> = [];
  private readonly alerts: LatestAlerts | null;

  constructor(
    private readonly totals: (snapshots: ReadonlyArray<WorkerMetricsSnapshot | undefined>) => FlowTotals,
    o: { readonly hasAlerts: boolean },
    private readonly now: () => number = Date.now,
  ) {
    this.alerts = o.hasAlerts ? new LatestAlerts() : null;
  }

  /** Called with every worker's latest report each time one arrives. */
  onMetrics(snapshots: ReadonlyArray<WorkerMetricsSnapshot | undefined>): void {
    const atMs = this.now();
    snapshots.forEach((s, i) => {
      if (!s || this.seen[i] === s) return;
      this.seen[i] = s;
      for (const t of s.tasks) {
        const report = t.component === PERSIST_SCORED ? (t.readings?.[SCORED_SOURCES_READING] as SourceTallyReport | undefined) : undefined;
        if (report) this.addReport(report, atMs);
        const alerts = t.component === PERSIST_ALERTS ? (t.readings?.[LATEST_ALERTS_READING] as AlertTallyReport | undefined) : undefined;
        if (alerts) this.alerts?.addReport(alerts);
      }
    });
    if (this.lastTotals === null || atMs - this.lastTotals.atMs >= 1000) this.addRates(snapshots, atMs);
  }

  private addRates(snapshots: ReadonlyArray<WorkerMetricsSnapshot | undefined>, atMs: number): void {
    const totals: Totals = { atMs, ...this.totals(snapshots) };
    const last = this.lastTotals;
    this.lastTotals = totals;
    if (last === null) return;
    const secs = (atMs - last.atMs) / 1000;
    const rate = (pick: (t: Totals) => number) => Math.max(0, pick(totals) - pick(last)) / secs;
    this.rates.push({ atMs, linesIn: rate((t) => t.linesIn), scored: rate((t) => t.scored), discarded: rate((t) => t.discarded), ignored: rate((t) => t.ignored) });
    if (this.rates.length > RATE_POINTS) this.rates.shift();
  }

  private addReport(report: SourceTallyReport, atMs: number): void {
    const bucket = this.bucketAt(atMs);
    bucket.leftOut += report.overflow;
    for (const s of report.sources) {
      let agg = bucket.sources.get(s.ip);
      if (!agg) {
        if (bucket.sources.size >= BUCKET_SOURCES) {
          bucket.leftOut += s.flows;
          continue;
        }
        agg = { badness: 0, flows: 0, tags: new Set() };
        bucket.sources.set(s.ip, agg);
      }
      agg.badness += s.badness;
      agg.flows += s.flows;
      for (const t of s.tags) agg.tags.add(t);
      // Re-inserted, so that the Map's order is least recently seen first.
      const previous = this.conversations.get(s.ip) ?? [];
      this.conversations.delete(s.ip);
      this.conversations.set(s.ip, [...s.conversations, ...previous].slice(0, CONVERSATIONS_PER_SOURCE));
      if (this.conversations.size > CONVERSATION_SOURCES) this.conversations.delete(this.conversations.keys().next().value!);
    }
  }

  private bucketAt(atMs: number): Bucket {
    const startMs = atMs - (atMs % (BUCKET_SECS * 1000));
    const last = this.buckets[this.buckets.length - 1];
    if (last && last.startMs === startMs) return last;
    const bucket: Bucket = { startMs, sources: new Map(), leftOut: 0 };
    this.buckets.push(bucket);
    this.expire(atMs);
    return bucket;
  }

  private expire(atMs: number): void {
    const oldest = atMs - WINDOW_BUCKETS * BUCKET_SECS * 1000;
    while (this.buckets.length > 0 && this.buckets[0]!.startMs <= oldest) this.buckets.shift();
  }

  state(): TrafficState {
    this.expire(this.now());
    const merged = new Map<string, { badness: number; flows: number; tags: Set<string> }>();
    let leftOut = 0;
    for (const b of this.buckets) {
      leftOut += b.leftOut;
      for (const [ip, a] of b.sources) {
        const m = merged.get(ip) ?? merged.set(ip, { badness: 0, flows: 0, tags: new Set() }).get(ip)!;
        m.badness += a.badness;
        m.flows += a.flows;
        for (const t of a.tags) m.tags.add(t);
      }
    }
    const topSources = [...merged]
      .sort((a, b) => b[1].badness - a[1].badness)
      .slice(0, TOP_SOURCES)
      .map(([ip, m]) => ({ ip, badness: m.badness, flows: m.flows, tags: [...m.tags].sort(), conversations: this.conversations.get(ip) ?? [] }));
    return { rates: this.rates, windowSecs: WINDOW_BUCKETS * BUCKET_SECS, topSources, sourcesLeftOut: leftOut, alerts: this.alerts?.state() ?? null };
  }
}
