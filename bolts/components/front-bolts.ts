import type { BasicBolt, BasicOutputCollector, OutputFields, TopologyContext, Tuple } from '../../runtime/index.js';
import { enrichAsn } from '../enrich/enrich-asn.js';
import { enrichGeo } from '../enrich/enrich-geo.js';
import type { Flow } from '../flow.js';
import type { MmdbReader } from '../lookup/mmdb-reader.js';
import { conversationKey } from '../match/conversation-key.js';
import { parseFlowLine } from '../parse/parse-flow.js';
import { readUnconvertedLine } from '../parse/unconverted-record.js';
import { decideDiscard, type DiscardLists } from '../rules/decide-discard.js';
import { Resources } from './resources.js';
import { STREAM_ALL, STREAM_BATCH, STREAM_DISCARD, STREAM_INTERESTING, STREAM_INVALID, STREAM_TCP, STREAM_UDP } from './streams.js';
import { BRANCH_ALL, BRANCH_FIELDS, BRANCH_TCP, BRANCH_UDP, FLOW_FIELDS, IGNORED_FIELDS, type ThemisArgs } from './themis-args.js';

/**
 * The linear front of the topology (reference §3.3 steps 1-6): parse, ASN, discard, geo, split.
 * Each is a basic bolt: its emits are anchored to the input, which is acked when execute returns
 * and failed (replayed) when it throws.
 */

/**
 * `json-to-tuple`: one JSON line in, one Flow out; a bad line goes to the ignored output with its
 * reason. A record the input's converter could not turn into a flow (unconverted-record.ts) goes
 * there with the converter's reason and origin (its file and record number) instead.
 */
export class JsonToTupleBolt implements BasicBolt {
  execute(input: Tuple, collector: BasicOutputCollector): void {
    const line = input.values[0] as string;
    const result = parseFlowLine(line, Date.now());
    if (result.ok) {
      collector.emit([result.flow.id, result.flow]);
      return;
    }
    const unconverted = readUnconvertedLine(line);
    if (unconverted === null) collector.emit([result.reason, line, input.values[1]], STREAM_INVALID);
    else collector.emit([unconverted.reason, unconverted.record, unconverted.origin], STREAM_INVALID);
  }
  declareOutputFields(): OutputFields {
    return { default: FLOW_FIELDS, [STREAM_INVALID]: IGNORED_FIELDS };
  }
}

abstract class ResourceBolt implements BasicBolt {
  protected resources!: Resources;
  constructor(protected readonly args: ThemisArgs) {}
  async prepare(context: TopologyContext): Promise<void> {
    this.resources = new Resources(this.args, context.log);
    await this.load();
  }
  protected abstract load(): Promise<void>;
  abstract execute(input: Tuple, collector: BasicOutputCollector): void;
  abstract declareOutputFields(): OutputFields;
  async cleanup(): Promise<void> {
    await this.resources?.release();
  }
}

/** `resolve-asn`: both sides' ASN (reference §5.2). */
export class ResolveAsnBolt extends ResourceBolt {
  private db!: MmdbReader;
  protected async load(): Promise<void> {
    this.db = await this.resources.mmdb(this.args.config.files.geoAsn);
  }
  execute(input: Tuple, collector: BasicOutputCollector): void {
    const flow = input.values[1] as Flow;
    enrichAsn(flow, this.db);
    collector.emit([flow.id, flow]);
  }
  declareOutputFields(): OutputFields {
    return { default: FLOW_FIELDS };
  }
}

/**
 * `discard-flows`: keeps flows with a valid protocol, exactly one local side and no honeypot port
 * (reference §5.3, with §15 item 7 fixed). Kept flows carry their conversation key, by which
 * match-flows is fields-grouped: both directions of a conversation meet in one task.
 */
export class DiscardFlowsBolt extends ResourceBolt {
  private lists!: DiscardLists;
  protected async load(): Promise<void> {
    const [validProtocols, localAsns, honeypotPorts] = await Promise.all([
      this.resources.validProtocols(),
      this.resources.localAsns(),
      this.resources.ports(this.args.config.files.honeypotPorts),
    ]);
    this.lists = { validProtocols, localAsns, honeypotPorts };
  }
  execute(input: Tuple, collector: BasicOutputCollector): void {
    const flow = input.values[1] as Flow;
    const d = decideDiscard(flow, this.args.config.discard, this.lists);
    flow.direction = d.direction;
    flow.srcIsLocal = d.srcIsLocal;
    flow.dstIsLocal = d.dstIsLocal;
    if (d.discardReason !== null) collector.emit([flow.id, flow, d.discardReason], STREAM_DISCARD);
    else collector.emit([flow.id, flow, conversationKey(flow).key], STREAM_INTERESTING);
  }
  declareOutputFields(): OutputFields {
    return { [STREAM_INTERESTING]: ['flowId', 'flow', 'conversation'], [STREAM_DISCARD]: ['flowId', 'flow', 'reason'] };
  }
}

/** `resolve-location`: both sides' city, country and coordinates (reference §5.6). */
export class ResolveLocationBolt extends ResourceBolt {
  private db!: MmdbReader;
  protected async load(): Promise<void> {
    this.db = await this.resources.mmdb(this.args.config.files.geoCity);
  }
  execute(input: Tuple, collector: BasicOutputCollector): void {
    const flow = input.values[1] as Flow;
    enrichGeo(flow, this.db);
    collector.emit([flow.id, flow]);
  }
  declareOutputFields(): OutputFields {
    return { default: FLOW_FIELDS };
  }
}

const EXPECT_ALL: readonly string[] = Object.freeze([BRANCH_ALL]);
const EXPECT_TCP: readonly string[] = Object.freeze([BRANCH_ALL, BRANCH_TCP]);
const EXPECT_UDP: readonly string[] = Object.freeze([BRANCH_ALL, BRANCH_UDP]);

/**
 * `flow-splitter` (reference §5.7): the flow to each scoring branch, each with its own tag list
 * (the rules only read the flow, so the branches share it instead of copying it), and the list of
 * branches the join must wait for (by name, not by count: §15 item 19). TCP flows
 * also go to the scan-candidate stream.
 */
export class FlowSplitterBolt implements BasicBolt {
  execute(input: Tuple, collector: BasicOutputCollector): void {
    const flow = input.values[1] as Flow;
    const expected = flow.protocol === 6 ? EXPECT_TCP : flow.protocol === 17 ? EXPECT_UDP : EXPECT_ALL;
    collector.emit([flow.id, flow, expected, []], STREAM_ALL);
    if (flow.protocol === 6) {
      collector.emit([flow.id, flow], STREAM_BATCH);
      collector.emit([flow.id, flow, expected, []], STREAM_TCP);
    } else if (flow.protocol === 17) {
      collector.emit([flow.id, flow, expected, []], STREAM_UDP);
    }
  }
  declareOutputFields(): OutputFields {
    return { [STREAM_ALL]: BRANCH_FIELDS, [STREAM_TCP]: BRANCH_FIELDS, [STREAM_UDP]: BRANCH_FIELDS, [STREAM_BATCH]: FLOW_FIELDS };
  }
}
