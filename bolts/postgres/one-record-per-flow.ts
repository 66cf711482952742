import type { Flow } from '../flow.js';
import { conversationKey } from '../match/conversation-key.js';

/**
 * Which records of one batch may become scored_flow rows, so that no flow id is in two of them: a
 * conversation record holds two flows (its id and its pair_flow_id), a lone record one.
 *
 * Conversations go first, in arrival order: one is kept when neither of its flows is held by a
 * conversation kept before it. Lone records follow: one is kept when its flow is held by no kept
 * record. So within a batch, as across batches in PostgreSQL, a conversation wins over the lone
 * records of either of its flows, and the first of two records for the same flow wins otherwise.
 *
 * A record left out because a kept record holds its flow id is normally the same flow again (a
 * replay). When its protocol and endpoints differ from the kept record's, it is a different flow
 * that the exporter gave the same id: it is listed in `otherFlows`, never silently merged.
 * The kept records are in id order, so two batches that share ids lock them in the same order
 * rather than deadlock.
 */
export function oneRecordPerFlow(flows: readonly Flow[]): { kept: Flow[]; otherFlows: Flow[] } {
  const holder = new Map<number, Flow>();
  const kept: Flow[] = [];
  const otherFlows: Flow[] = [];
  const isHeld = (flow: Flow, id: number): boolean => {
    const by = holder.get(id);
    if (by === undefined) return false;
    if (conversationKey(by).key !== conversationKey(flow).key) otherFlows.push(flow);
    return true;
  };
  for (const flow of flows) {
    if (flow.pairId === null || isHeld(flow, flow.id) || isHeld(flow, flow.pairId)) continue;
    holder.set(flow.id, flow);
    holder.set(flow.pairId, flow);
    kept.push(flow);
  }
  for (const flow of flows) {
    if (flow.pairId !== null || isHeld(flow, flow.id)) continue;
    holder.set(flow.id, flow);
    kept.push(flow);
  }
  return { kept: kept.sort((a, b) => a.id - b.id), otherFlows };
}
