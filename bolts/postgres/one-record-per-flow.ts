import type { Flow } from '../flow.js';

/**
 * Which records of one batch may become scored_flow rows, so that no flow id is in two of them: a
 * conversation record holds two flows (its id and its pair_flow_id), a lone record one.
 *
 * Conversations go first, in arrival order: one is kept when neither of its flows is held by a
 * conversation kept before it. Lone records follow: one is kept when its flow is held by no kept
 * record. So within a batch, as across batches in PostgreSQL, a conversation wins over the lone
 * records of either of its flows, and the first of two records for the same flow wins otherwise.
 * The result is in id order, so two batches that share ids lock them in the same order rather
 * than deadlock.
 */
export function oneRecordPerFlow(flows: readonly Flow[]): Flow[] {
  const held = new Set<number>();
  const kept: Flow[] = [];
  for (const flow of flows) {
    if (flow.pairId === null || held.has(flow.id) || held.has(flow.pairId)) continue;
    held.add(flow.id);
    held.add(flow.pairId);
    kept.push(flow);
  }
  for (const flow of flows) {
    if (flow.pairId !== null || held.has(flow.id)) continue;
    held.add(flow.id);
    kept.push(flow);
  }
  return kept.sort((a, b) => a.id - b.id);
}
