/**
 * A sticky partition assignment for the Kafka spout's consumer group. kafkajs' round robin deals
 * the partitions out afresh at every rebalance, by sorted member id, so a member joining or
 * leaving moves partitions between members that stay: each moved partition is read again by its
 * new owner from the committed offset, while its old owner's flows in flight still finish. Here
 * each member says in its join (the member metadata's userData) which partitions it holds, and the
 * group leader keeps every member's partitions where it can: only the partitions that must change
 * hands do, and every member ends with the same number, give or take one.
 *
 * kafkajs 2.2.4 speaks only the eager protocol: every member gives up everything at a rebalance
 * and gets its assignment back from the join. Sticky assignment makes that loss nominal; the spout
 * keeps the state of the partitions it gets back (kafka-spout.ts, onAssigned).
 */
import { AssignerProtocol, type PartitionAssigner } from './kafkajs.js';

export const STICKY_ASSIGNER_NAME = 'ThemisStickyAssigner';
const VERSION = 1;

export interface GroupMember {
  readonly id: string;
  /** The partitions the member held before this rebalance, by its own word. */
  readonly owned: readonly number[];
}

/**
 * The assignment of `partitions` (one topic) to `members`. Every member gets ⌊P/N⌋ or ⌈P/N⌉
 * partitions. A member keeps the partitions it owned up to its share; when two claim one (a
 * member that missed a rebalance), the one earlier in id order keeps it. The partitions left over
 * go to the members with the fewest, in id order. Deterministic: the same input gives the same
 * answer, and a membership that does not change moves nothing.
 */
export function assignSticky(members: readonly GroupMember[], partitions: readonly number[]): Map<string, number[]> {
  const result = new Map<string, number[]>();
  if (members.length === 0) return result;
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const exists = new Set(partitions);
  const claimed = new Set<number>();
  const keeps = new Map<string, number[]>();
  for (const member of sorted) {
    const valid = [...new Set(member.owned)].filter((p) => exists.has(p) && !claimed.has(p)).sort((a, b) => a - b);
    for (const p of valid) claimed.add(p);
    keeps.set(member.id, valid);
  }
  const base = Math.floor(partitions.length / sorted.length);
  let larger = partitions.length % sorted.length;
  // The members that own the most keep the larger shares, so as little as possible moves.
  const byOwned = [...sorted].sort((a, b) => keeps.get(b.id)!.length - keeps.get(a.id)!.length);
  const released: number[] = [];
  const quota = new Map<string, number>();
  for (const member of byOwned) {
    const owned = keeps.get(member.id)!;
    const share = base + (larger > 0 && owned.length > base ? 1 : 0);
    if (share > base) larger--;
    quota.set(member.id, share);
    released.push(...owned.splice(share));
  }
  // Members that own no more than the base share get the remaining larger shares in id order.
  for (const member of sorted) {
    if (larger === 0) break;
    if (quota.get(member.id) === base) {
      quota.set(member.id, base + 1);
      larger--;
    }
  }
  const free = [...partitions.filter((p) => !claimed.has(p)), ...released].sort((a, b) => a - b);
  for (const member of sorted) {
    const owned = keeps.get(member.id)!;
    while (owned.length < quota.get(member.id)! && free.length > 0) owned.push(free.shift()!);
    result.set(member.id, owned.sort((a, b) => a - b));
  }
  return result;
}

/** userData of our member metadata: the partitions held, by topic (JSON). */
type OwnedPartitions = Record<string, readonly number[]>;

function decodeOwned(userData: Buffer | null | undefined): OwnedPartitions {
  if (userData === null || userData === undefined || userData.length === 0) return {};
  try {
    const parsed = JSON.parse(userData.toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return {};
    const owned: Record<string, number[]> = {};
    for (const [topic, list] of Object.entries(parsed)) if (Array.isArray(list)) owned[topic] = list.filter((p): p is number => Number.isInteger(p));
    return owned;
  } catch {
    // A member of another version, or garbage: it is treated as holding nothing.
    return {};
  }
}

/** The kafkajs assigner; `held` tells, at each join, what this member holds (by topic). */
export function stickyAssigner(held: () => OwnedPartitions): PartitionAssigner {
  return ({ cluster }) => ({
    name: STICKY_ASSIGNER_NAME,
    version: VERSION,
    async assign({ members, topics }) {
      const owned = new Map(members.map((m) => [m.memberId, decodeOwned(AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData)]));
      const assignment = new Map<string, Record<string, number[]>>(members.map((m) => [m.memberId, {}]));
      for (const topic of topics) {
        const partitions = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
        const given = assignSticky(
          members.map((m) => ({ id: m.memberId, owned: owned.get(m.memberId)?.[topic] ?? [] })),
          partitions,
        );
        for (const [memberId, list] of given) assignment.get(memberId)![topic] = list;
      }
      return [...assignment].map(([memberId, byTopic]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: VERSION, assignment: byTopic, userData: Buffer.alloc(0) }),
      }));
    },
    protocol({ topics }) {
      return {
        name: STICKY_ASSIGNER_NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: VERSION, topics, userData: Buffer.from(JSON.stringify(held())) }),
      };
    },
  });
}
