import type { BackgroundCli } from './background-cli.js';
import type { TestDeployment } from './deployment.js';
import { deliveredIds } from './generated-flows.js';
import { readTopicToEnd, topicSize } from './read-topic.js';

/**
 * What the fault scenarios (test/faults/) share: a production-mode topology on a stream of
 * generated flows, watched from outside (topic sizes, the records it wrote, its summary line).
 */

/** Generated flows of kafka-group-recovery's two-process test (built once, cached in the temp dir), and their count. */
export const STREAM_SEED = 20_261_207;
export const STREAM_FLOWS = 60_000;
/** The topology of a scenario: spout tasks (one consumer each), max pending, and small windows (a 6 s session timeout, the broker's minimum). */
export const STREAM_TASKS = 2;
export const STREAM_MAX_PENDING = 1_000;
export const STREAM_COMMIT_INTERVAL_MS = 500;
export const STREAM_CONFIG = {
  windows: { matchWindowMs: 5_000, joinWindowMs: 5_000, messageTimeoutSecs: 20, tickSecs: 1 },
  kafka: { commitIntervalMs: STREAM_COMMIT_INTERVAL_MS, sessionTimeoutMs: 6_000 },
};

/** Throws with the end of its stderr when the topology has exited: a fault scenario's topology must outlive the fault. */
export function ensureStillRunning(topology: BackgroundCli, when: string): void {
  if (topology.child.exitCode !== null || topology.child.signalCode !== null) {
    throw new Error(`the topology exited (${topology.child.exitCode ?? topology.child.signalCode}) ${when}:\n${topology.stderr().slice(-3000)}`);
  }
}

/** Polls the topic's size every 200 ms until it holds `records`, failing if the topology exits or `timeoutMs` passes. */
export async function waitForTopicSize(d: TestDeployment, topic: string, records: number, topology: BackgroundCli, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let size = await topicSize(d.brokers, topic); size < records; size = await topicSize(d.brokers, topic)) {
    ensureStillRunning(topology, `while ${topic} held ${size} of the ${records} records awaited`);
    if (Date.now() > deadline) throw new Error(`${topic} held ${size} records after ${timeoutMs} ms, fewer than ${records}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Every input id the deployment's scored and ignored topics account for, once per appearance (generated-flows.ts, deliveredIds). */
export async function deliveriesOf(d: TestDeployment, timeoutMs = 60_000): Promise<number[]> {
  const [scored, ignored] = await Promise.all([readTopicToEnd(d.brokers, d.topics.scored, { timeoutMs }), readTopicToEnd(d.brokers, d.topics.ignored, { timeoutMs })]);
  return deliveredIds(scored, ignored);
}

/** Lines of stage `parse` or `retries` in the ignored topic: valid generated flows must never be there. */
export async function refusedLines(d: TestDeployment, timeoutMs = 60_000): Promise<string[]> {
  const ignored = await readTopicToEnd(d.brokers, d.topics.ignored, { timeoutMs });
  return ignored.map((m) => m.value).filter((v) => /^\{"type":"ignored_flow","stage":"(parse|retries)"/.test(v));
}

/** How the scored_flow rows cover the flows of the scored topic. */
export interface RowCoverage {
  readonly rows: number;
  /** Distinct flow ids in the scored topic, a conversation's reverse flow included. */
  readonly flows: number;
  /** Flows no row names, as its id or its pair_flow_id (the first 20). */
  readonly inNoRow: readonly number[];
  /** Flows two or more rows name (the first 20), each with those rows as `id/pair_flow_id`. */
  readonly inSeveralRows: readonly string[];
}

/**
 * The PostgreSQL side of "exactly once per flow": each flow of the scored topic is named by
 * exactly one scored_flow row, as its id or as its conversation's pair_flow_id.
 */
export async function scoredRowCoverage(d: TestDeployment, timeoutMs = 60_000): Promise<RowCoverage> {
  const scored = await readTopicToEnd(d.brokers, d.topics.scored, { timeoutMs });
  const flows = new Set<number>();
  for (const m of scored) {
    const r = JSON.parse(m.value) as { flow_id: number; pair_flow_id: number | null };
    flows.add(r.flow_id);
    if (r.pair_flow_id !== null) flows.add(r.pair_flow_id);
  }
  const { rows } = await d.pool.query<{ id: string; pair_flow_id: string | null }>('SELECT id::text AS id, pair_flow_id::text AS pair_flow_id FROM scored_flow');
  const named = new Map<number, string[]>();
  const name = (id: number, row: string) => named.set(id, [...(named.get(id) ?? []), row]);
  for (const r of rows) {
    const row = `${r.id}/${r.pair_flow_id ?? 'null'}`;
    name(Number(r.id), row);
    if (r.pair_flow_id !== null) name(Number(r.pair_flow_id), row);
  }
  return {
    rows: rows.length,
    flows: flows.size,
    inNoRow: [...flows].filter((id) => !named.has(id)).slice(0, 20),
    inSeveralRows: [...named]
      .filter(([, named]) => named.length > 1)
      .map(([id, named]) => `flow ${id} in rows ${named.join(', ')}`)
      .slice(0, 20),
  };
}

/** The number of lines the run's summary says it read (`themis: done in … s: N lines`); throws when there is no summary. */
export function linesInSummary(stderr: string): number {
  const m = /themis: done in [\d.]+ s: ([\d,]+) lines/.exec(stderr);
  if (m === null) throw new Error(`no summary line in the topology's stderr:\n${stderr.slice(-3000)}`);
  return Number(m[1]!.replace(/,/g, ''));
}
