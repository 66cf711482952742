import type { Bolt, OutputCollector, OutputFields, TopologyContext, Tuple } from '../../runtime/index.js';
import type { Flow, Tag } from '../flow.js';
import { JoinTable } from '../join/join-table.js';
import { FLOW_FIELDS, type ThemisArgs } from './themis-args.js';

/**
 * `join-streams` (reference §5.18, §15 items 19-20 fixed): merges the branch copies of a flow,
 * fields-grouped on the flow id. It waits for the named branches the splitter listed, not for a
 * count; the merged flow is anchored to every copy. A flow whose copies do not all arrive within
 * the join window is failed, so the spout replays it; it is never dropped.
 */
export class JoinStreamsBolt implements Bolt {
  private table!: JoinTable<Tuple>;
  private collector!: OutputCollector;
  readonly tickSecs: number;

  constructor(private readonly args: ThemisArgs & { readonly branchBySource: Readonly<Record<string, string>> }) {
    this.tickSecs = args.config.windows.tickSecs;
  }

  prepare(_context: TopologyContext, collector: OutputCollector): void {
    this.collector = collector;
    this.table = new JoinTable<Tuple>({ now: Date.now, windowMs: this.args.config.windows.joinWindowMs });
  }

  execute(input: Tuple): void {
    if (input.isTick) {
      for (const partial of this.table.expire()) {
        const err = new Error(`flow ${partial.id}: branch copies ${partial.missing.join(', ')} did not arrive within the join window`);
        for (const h of partial.handles) this.collector.fail(h, err);
      }
      return;
    }
    const branch = this.args.branchBySource[input.sourceComponent];
    if (branch === undefined) throw new Error(`join-streams: no branch is mapped to component "${input.sourceComponent}"`);
    const flow = input.values[1] as Flow;
    const outcome = this.table.offer(branch, flow, input.values[2] as readonly string[], input, input.values[3] as Tag[]);
    if (outcome.kind === 'complete') {
      this.collector.emit([outcome.flow.id, outcome.flow], outcome.handles);
      for (const h of outcome.handles) this.collector.ack(h);
    } else if (outcome.kind === 'duplicate') {
      this.collector.ack(outcome.handle);
    }
  }

  declareOutputFields(): OutputFields {
    return { default: FLOW_FIELDS };
  }
}
