import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBenchData } from '../../bench/lib/bench-data.js';
import { writeFlowsFile, type FlowGeneratorStats } from '../../bench/lib/flow-generator.js';
import type { ConsumedMessage } from './consume-topic.js';
import { ROOT } from './deployment.js';

/**
 * Flows from bench/lib/flow-generator.ts (no bad lines, so every line has an id and reaches Kafka)
 * and the bench data of bench/lib/bench-data.ts, where every generated address resolves. Both are
 * deterministic and cached in the temp directory, keyed by their sources, count and seed.
 */
export interface CachedInputs {
  readonly flowsFile: string;
  readonly dataDir: string;
  readonly stats: FlowGeneratorStats;
  /** True when this run built them. */
  readonly isBuilt: boolean;
}

export async function cachedFlowInputs(count: number, seed: number): Promise<CachedInputs> {
  const prefix = `themis-flows-${count}-${seed}-`;
  const sources = ['bench/lib/flow-generator.ts', 'bench/lib/bench-data.ts', 'data_sources/tools/generate-lists.ts', 'data_sources/tools/mmdb-writer.ts'];
  const hash = createHash('sha256');
  for (const file of sources) hash.update(readFileSync(join(ROOT, file)));
  const dir = join(tmpdir(), `${prefix}${hash.digest('hex').slice(0, 16)}`);
  const statsFile = join(dir, 'stats.json');
  const flowsFile = join(dir, 'flows.jsonl');
  const dataDir = join(dir, 'data');
  if (existsSync(statsFile)) return { flowsFile, dataDir, stats: JSON.parse(readFileSync(statsFile, 'utf8')) as FlowGeneratorStats, isBuilt: false };
  // Built beside the final place and renamed, so an interrupted build is never taken for a cache.
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  const stats = writeFlowsFile(join(building, 'flows.jsonl'), { count, seed, mix: { badLine: 0 } });
  await buildBenchData(join(building, 'data'));
  writeFileSync(join(building, 'stats.json'), JSON.stringify(stats));
  // Caches of earlier versions of the generators are of no more use (tens of MB each).
  for (const old of readdirSync(tmpdir())) if (old.startsWith(prefix) && !old.includes('.building-')) rmSync(join(tmpdir(), old), { recursive: true, force: true });
  renameSync(building, dir);
  return { flowsFile, dataDir, stats, isBuilt: true };
}

/**
 * Scored records a run writes: one per input line, minus the lines the discard stage drops, minus
 * one per conversation (its two lines make one record). An estimate (a few answered honeypot
 * probes are counted as discards), used only to choose when to kill.
 */
export function expectedScoredRecords(stats: FlowGeneratorStats): number {
  const k = stats.byKind;
  return stats.lines - (k.honeypot + k.internal + k.unknownDirection + k.invalidProtocol + k.bad) - stats.conversations;
}

export const ID_FIELD = /^\{"id":(\d+),/;

export function inputIds(flowsFile: string): number[] {
  const ids: number[] = [];
  for (const line of readFileSync(flowsFile, 'utf8').split('\n')) {
    if (line.length === 0) continue;
    const m = ID_FIELD.exec(line);
    if (m === null) throw new Error(`${flowsFile}: a line without a leading id: ${line.slice(0, 200)}`);
    ids.push(Number(m[1]));
  }
  return ids;
}

/** Every input flow id the scored and ignored records account for, once per appearance: a record's own id and its conversation's reverse flow, an ignored line's id. */
export function deliveredIds(scored: readonly ConsumedMessage[], ignored: readonly ConsumedMessage[]): number[] {
  const ids: number[] = [];
  for (const m of scored) {
    const r = JSON.parse(m.value) as { flow_id: number; pair_flow_id: number | null };
    ids.push(r.flow_id);
    if (r.pair_flow_id !== null) ids.push(r.pair_flow_id);
  }
  for (const m of ignored) {
    const r = JSON.parse(m.value) as { flow_id: number | null; line?: string };
    // A line the spout gave up on after its retries carries no parsed id; the raw line has it.
    const id = r.flow_id ?? (r.line === undefined ? null : Number(ID_FIELD.exec(r.line)?.[1]));
    if (id !== null && !Number.isNaN(id)) ids.push(id);
  }
  return ids;
}
