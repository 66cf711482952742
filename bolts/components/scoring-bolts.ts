import type { BasicBolt, BasicOutputCollector, Bolt, Logger, OutputCollector, OutputFields, TopologyContext, Tuple } from '../../runtime/index.js';
import type { Flow, Tag } from '../flow.js';
import { intelRemoteIp, scoreIntelMq } from '../rules/score-intelmq.js';
import { addTagsTo } from '../rules/tags.js';
import { redisFault } from '../resilience/dependency-fault.js';
import { DependencyClosedError, DependencyGuard, stallThresholdMs } from '../resilience/dependency-guard.js';
import type { IntelEntry, IntelLookup } from '../stores.js';
import { Resources } from './resources.js';
import { makeScorer, type Scorer, type ScorerName } from './scorers.js';
import { BRANCH_FIELDS, type ThemisArgs } from './themis-args.js';

/**
 * One scoring test of a branch chain (reference §5.8-5.17): adds its tags to the branch's tag
 * list and passes the flow on. Which test is an argument, so each chain link is the same class.
 */
export class ScoringBolt implements BasicBolt {
  private score!: Scorer;
  private resources!: Resources;
  constructor(private readonly args: ThemisArgs & { readonly scorer: ScorerName }) {}

  async prepare(context: TopologyContext): Promise<void> {
    this.resources = new Resources(this.args, context.log);
    this.score = await makeScorer(this.args.scorer, this.args.config, this.resources);
  }
  execute(input: Tuple, collector: BasicOutputCollector): void {
    addTagsTo(input.values[3] as Tag[], this.score(input.values[1] as Flow));
    collector.emit(input.values as unknown[]);
  }
  async cleanup(): Promise<void> {
    await this.resources?.release();
  }
  declareOutputFields(): OutputFields {
    return { default: BRANCH_FIELDS };
  }
}

/**
 * `score-intelmq` over Redis (reference §5.12): the remote IPs of a whole batch of inputs are
 * looked up at once, in one pipelined round trip, then each flow gets its tags and goes on. While
 * Redis cannot answer (down, paused, timing out), the batch is kept and looked up again with
 * backoff under the task's circuit breaker: scoring waits, the spouts stop, no flow is failed or
 * replayed for it (issue 13). Over the in-memory store the topology uses the synchronous `intelMq`
 * scorer in a ScoringBolt instead.
 */
export class IntelMqBolt implements Bolt {
  private intel!: IntelLookup;
  private resources!: Resources;
  private collector!: OutputCollector;
  private log!: Logger;
  private guard!: DependencyGuard;
  constructor(private readonly args: ThemisArgs) {}

  async prepare(context: TopologyContext, collector: OutputCollector): Promise<void> {
    this.collector = collector;
    this.log = context.log;
    this.resources = new Resources(this.args, context.log);
    this.intel = await this.resources.intel();
    this.guard = new DependencyGuard({
      dependency: 'redis',
      fault: redisFault,
      collector,
      retries: context.counter('dependency_retries'),
      stallMs: stallThresholdMs(this.args.config.windows.messageTimeoutSecs),
    });
  }

  executeBatch(inputs: Tuple[]): void {
    const ips = new Set<string>();
    for (const t of inputs) ips.add(intelRemoteIp(t.values[1] as Flow).text);
    this.guard.call(() => this.intel.lookupMany([...ips])).then(
      (found) => this.finish(inputs, found),
      (err: unknown) => {
        if (err instanceof DependencyClosedError) {
          this.log.warn('intel batch abandoned at shutdown while Redis was down; the next run replays it', { inputs: inputs.length });
          return;
        }
        // Not Redis being away (the lookup reads a key of the wrong type as "no intel"): a fault
        // of this code, which fails the batch as an exception would.
        for (const t of inputs) this.collector.fail(t, err);
      },
    );
  }

  private finish(inputs: Tuple[], found: ReadonlyMap<string, readonly IntelEntry[]>): void {
    const rule = this.args.config.rules.intelMq;
    for (const t of inputs) {
      const flow = t.values[1] as Flow;
      if (found.size > 0) addTagsTo(t.values[3] as Tag[], scoreIntelMq(flow, rule, found));
      this.collector.emit(t.values as unknown[], t);
      this.collector.ack(t);
    }
  }

  async cleanup(): Promise<void> {
    this.guard?.close();
    await this.resources?.release();
  }
  declareOutputFields(): OutputFields {
    return { default: BRANCH_FIELDS };
  }
}
