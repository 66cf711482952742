import { basicBolt, moduleRef, TopologyBuilder, type ComponentRef } from '../runtime/index.js';
import type { ScorerName } from '../bolts/components/scorers.js';
import {
  STREAM_ALERTS,
  STREAM_ALL,
  STREAM_BATCH,
  STREAM_DISCARD,
  STREAM_IGNORED,
  STREAM_INTERESTING,
  STREAM_INVALID,
  STREAM_TCP,
  STREAM_UDP,
} from '../bolts/components/streams.js';
import { BRANCH_ALL, BRANCH_TCP, BRANCH_UDP, type ThemisArgs } from '../bolts/components/themis-args.js';

/** Component ids of the Themis topology, as in the original's final topology (reference §3.2). */
export const SPOUT = 'flow-spout';
export const JSON_TO_TUPLE = 'json-to-tuple';
export const RESOLVE_ASN = 'resolve-asn';
export const DISCARD_FLOWS = 'discard-flows';
export const MATCH_FLOWS = 'match-flows';
export const RESOLVE_LOCATION = 'resolve-location';
export const FLOW_SPLITTER = 'flow-splitter';
export const JOIN_STREAMS = 'join-streams';
export const PERSIST_SCORED = 'persist-tuple';
export const SCAN_CANDIDATES = 'scan-candidate-persist';
export const PERSIST_IGNORED = 'persist-ignored';
export const INPUT_TIMER = 'input-timer';
export const DISCARD_TIMER = 'discard-timer';
export const OUTPUT_TIMER = 'output-timer';
/** The evidence stage (issue 14), wired only when `evidence.enabled`. */
export const EVIDENCE_KEY = 'evidence-key';
export const EVIDENCE = 'evidence';
export const PERSIST_ALERTS = 'persist-alerts';

type Link = readonly [id: string, scorer: ScorerName];

/** The three scoring branches: each a chain of one test per bolt (reference §3.1). */
export const ALL_CHAIN: readonly Link[] = [
  ['score-dark-ip', 'darkIp'],
  ['score-emerging-threats-list', 'emergingThreats'],
  ['score-alienvault-list', 'alienVault'],
  ['score-suspect-country', 'suspectCountry'],
  ['score-intelmq', 'intelMq'],
  ['score-ndpi-known-list', 'ndpiGood'],
];
export const TCP_CHAIN: readonly Link[] = [
  ['score-syn-only', 'possibleScan'],
  ['score-ssh-brute', 'sshBruteForce'],
  ['score-http-brute', 'httpBruteForce'],
  ['score-tcp-hosted-service', 'tcpHostedService'],
  ['score-tcp-remote-service', 'tcpRemoteService'],
  ['score-bad-tcp-ports', 'insecureTcpPorts'],
  ['score-bad-tcp-traffic', 'unknownTcpPorts'],
];
export const UDP_CHAIN: readonly Link[] = [
  ['score-udp-hosted-service', 'udpHostedService'],
  ['score-udp-remote-service', 'udpRemoteService'],
  ['score-bad-udp-ports', 'insecureUdpPorts'],
  ['score-bad-udp-traffic', 'unknownUdpPorts'],
];

/** Executors and tasks of one component. */
export interface Parallelism {
  readonly executors: number;
  readonly tasks: number;
}

export interface ThemisTopologyOptions {
  readonly args: ThemisArgs;
  /** The spout: the file spout or the Kafka spout, declaring `default: [line, origin]` and `ignored`. */
  readonly spout: ComponentRef;
  /** Parallelism of every component by id (see `deploymentParallelism`). */
  readonly parallelism: (componentId: string) => Parallelism;
  /** Worker threads the topology will run on. */
  readonly workers: number;
  /**
   * Each spout task reads only its own conversations (the file spout with a reader per thread):
   * its lines stay on its thread. Otherwise lines are fields-grouped to the parsers on the spout's
   * `share` field (the conversation hash every spout emits), so both directions of a conversation
   * still reach one parser task, on one thread.
   */
  readonly spoutSharesByConversation?: boolean;
}

/**
 * Whether each spout task's lines stay on its own thread, parsed there: its tasks read their own
 * conversations and one runs on every thread. Otherwise the lines go to the parsers by their
 * `share`, which the spout must then compute.
 */
export function spoutLinesStayLocal(o: Pick<ThemisTopologyOptions, 'parallelism' | 'workers' | 'spoutSharesByConversation'>): boolean {
  return o.spoutSharesByConversation === true && o.parallelism(SPOUT).executors >= o.workers;
}

/** Every component id, in topology order (for parallelism files and validation). */
export function themisComponentIds(): string[] {
  return [
    SPOUT,
    JSON_TO_TUPLE,
    RESOLVE_ASN,
    DISCARD_FLOWS,
    MATCH_FLOWS,
    RESOLVE_LOCATION,
    FLOW_SPLITTER,
    ...ALL_CHAIN.map(([id]) => id),
    ...TCP_CHAIN.map(([id]) => id),
    ...UDP_CHAIN.map(([id]) => id),
    JOIN_STREAMS,
    PERSIST_SCORED,
    SCAN_CANDIDATES,
    PERSIST_IGNORED,
    INPUT_TIMER,
    DISCARD_TIMER,
    OUTPUT_TIMER,
    EVIDENCE_KEY,
    EVIDENCE,
    PERSIST_ALERTS,
  ];
}

/**
 * Declares the Themis scoring topology (reference §3.1) on the engine.
 *
 * Groupings: the original shuffled everywhere; here a linear hop is local-or-shuffle, so a flow
 * walks its chain on the thread it is on, from the spout task of that thread, and crosses threads
 * only where it must: match-flows is fields-grouped on the conversation key (both directions meet
 * in one task), and join-streams on the flow id — among its local tasks when the branch chains run
 * on every thread.
 */
export function buildThemisTopology(o: ThemisTopologyOptions): TopologyBuilder {
  const a = o.args;
  const ref = (file: string, name: string, extra: Record<string, unknown> = {}) => moduleRef(import.meta.url, `../bolts/components/${file}`, name, { ...a, ...extra });
  const b = new TopologyBuilder();
  const bolt = (id: string, r: ComponentRef) => {
    const p = o.parallelism(id);
    return b.setBolt(id, r, p.executors).setNumTasks(p.tasks);
  };
  const sp = o.parallelism(SPOUT);
  b.setSpout(SPOUT, o.spout, sp.executors).setNumTasks(sp.tasks);

  // A reader per thread, each with its own conversations, feeds the parsers of its own thread;
  // otherwise (one Kafka consumer, a FIFO, fewer readers than threads) the lines are spread over
  // every thread's parsers by conversation.
  const parse = bolt(JSON_TO_TUPLE, basicBolt(ref('front-bolts', 'JsonToTupleBolt')));
  if (spoutLinesStayLocal(o)) parse.localOrShuffleGrouping(SPOUT);
  else parse.fieldsGrouping(SPOUT, ['share']);
  bolt(RESOLVE_ASN, basicBolt(ref('front-bolts', 'ResolveAsnBolt'))).localOrShuffleGrouping(JSON_TO_TUPLE);
  bolt(DISCARD_FLOWS, basicBolt(ref('front-bolts', 'DiscardFlowsBolt'))).localOrShuffleGrouping(RESOLVE_ASN);
  const match = bolt(MATCH_FLOWS, ref('match-flows-bolt', 'MatchFlowsBolt'));
  // Both directions of a conversation reach one parser task (see above); when the hops from there
  // to match-flows can all stay on its thread, they meet among the local match-flows tasks.
  const matchLocally = [JSON_TO_TUPLE, RESOLVE_ASN, DISCARD_FLOWS, MATCH_FLOWS].every((id) => o.parallelism(id).executors >= o.workers);
  if (matchLocally) match.localFieldsGrouping(DISCARD_FLOWS, STREAM_INTERESTING, ['conversation']);
  else match.fieldsGrouping(DISCARD_FLOWS, STREAM_INTERESTING, ['conversation']);
  // Flows cross threads on the fields-grouped streams; they travel in a compact wire form.
  const flowCodec = moduleRef(import.meta.url, '../bolts/flow-codec', 'FlowStreamCodec', { flowIndex: 1 });
  b.setStreamCodec(DISCARD_FLOWS, STREAM_INTERESTING, flowCodec);
  bolt(RESOLVE_LOCATION, basicBolt(ref('front-bolts', 'ResolveLocationBolt'))).localOrShuffleGrouping(MATCH_FLOWS);
  bolt(FLOW_SPLITTER, basicBolt(ref('front-bolts', 'FlowSplitterBolt'))).localOrShuffleGrouping(RESOLVE_LOCATION);

  const chain = (links: readonly Link[], stream: string): string => {
    let prev = FLOW_SPLITTER;
    let prevStream = stream;
    for (const [id, scorer] of links) {
      // IntelMQ in Redis is looked up a batch per round trip; every other test (IntelMQ from the
      // embedded store included) is a basic bolt, chained with its neighbours on one thread.
      const r = scorer === 'intelMq' && a.services.redis ? ref('scoring-bolts', 'IntelMqBolt') : basicBolt(ref('scoring-bolts', 'ScoringBolt', { scorer }));
      bolt(id, r).localOrShuffleGrouping(prev, prevStream);
      prev = id;
      prevStream = 'default';
    }
    return prev;
  };
  const allEnd = chain(ALL_CHAIN, STREAM_ALL);
  const tcpEnd = chain(TCP_CHAIN, STREAM_TCP);
  const udpEnd = chain(UDP_CHAIN, STREAM_UDP);

  const branchBySource = { [allEnd]: BRANCH_ALL, [tcpEnd]: BRANCH_TCP, [udpEnd]: BRANCH_UDP };
  // The copies of one flow are made by one splitter task; when every component from the splitter
  // to the join has an executor on every thread, the chains keep them on that thread, and the
  // join can be grouped among its local tasks: no copy of a flow crosses threads to be joined.
  const everywhere = [FLOW_SPLITTER, ...[...ALL_CHAIN, ...TCP_CHAIN, ...UDP_CHAIN].map(([id]) => id), JOIN_STREAMS].every(
    (id) => o.parallelism(id).executors >= o.workers,
  );
  const join = bolt(JOIN_STREAMS, ref('join-streams-bolt', 'JoinStreamsBolt', { branchBySource }));
  for (const end of [allEnd, tcpEnd, udpEnd]) {
    if (everywhere) join.localFieldsGrouping(end, ['flowId']);
    else {
      join.fieldsGrouping(end, ['flowId']);
      b.setStreamCodec(end, 'default', flowCodec);
    }
  }

  // With the evidence stage, the scored conversations reach the outputs through it: fields-grouped
  // on the initiator's address, so each source's evidence is in one task.
  let scored = JOIN_STREAMS;
  if (a.config.evidence.enabled) {
    bolt(EVIDENCE_KEY, basicBolt(ref('evidence-bolt', 'EvidenceKeyBolt'))).localOrShuffleGrouping(JOIN_STREAMS);
    bolt(EVIDENCE, ref('evidence-bolt', 'EvidenceBolt', { channels: o.parallelism(EVIDENCE_KEY).tasks })).fieldsGrouping(EVIDENCE_KEY, ['source']);
    b.setStreamCodec(EVIDENCE_KEY, 'default', moduleRef(import.meta.url, '../bolts/flow-codec', 'FlowStreamCodec', { flowIndex: 2 }));
    bolt(PERSIST_ALERTS, ref('output-bolts', 'OutputBolt', { kind: 'alerts' })).localOrShuffleGrouping(EVIDENCE, STREAM_ALERTS);
    scored = EVIDENCE;
  }
  bolt(PERSIST_SCORED, ref('output-bolts', 'OutputBolt', { kind: 'scored' })).localOrShuffleGrouping(scored);
  bolt(SCAN_CANDIDATES, ref('output-bolts', 'OutputBolt', { kind: 'scan' })).localOrShuffleGrouping(FLOW_SPLITTER, STREAM_BATCH);
  bolt(PERSIST_IGNORED, ref('output-bolts', 'OutputBolt', { kind: 'ignored' }))
    .localOrShuffleGrouping(JSON_TO_TUPLE, STREAM_INVALID)
    .localOrShuffleGrouping(DISCARD_FLOWS, STREAM_DISCARD)
    .localOrShuffleGrouping(SPOUT, STREAM_IGNORED);

  // Basic bolts: each runs chained inside the emit that feeds it, with no queue of its own.
  const timer = (counter: string) => basicBolt(moduleRef(import.meta.url, '../bolts/components/output-bolts', 'TimerBolt', { counter }));
  bolt(INPUT_TIMER, timer('first_tuple')).localOrShuffleGrouping(SPOUT);
  bolt(DISCARD_TIMER, timer('discard_tuple')).localOrShuffleGrouping(DISCARD_FLOWS, STREAM_DISCARD);
  bolt(OUTPUT_TIMER, timer('last_tuple')).localOrShuffleGrouping(scored);
  return b;
}
