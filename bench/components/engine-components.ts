import type { BasicBolt, BasicOutputCollector, OutputFields, Spout, SpoutOutputCollector, TopologyContext, Tuple } from '../../runtime/index.js';

/** Emits [seq, payload] tracked by msgId until `count` tuples have been acked or `count` emitted (untracked). */
export class CountingSpout implements Spout {
  private seq = 0;
  private acked = 0;
  private collector!: SpoutOutputCollector;
  constructor(private readonly args: { count: number }) {}
  open(_c: TopologyContext, collector: SpoutOutputCollector): void {
    this.collector = collector;
  }
  nextTuple(): void {
    if (this.seq >= this.args.count) {
      this.collector.signalExhausted();
      return;
    }
    const seq = this.seq++;
    this.collector.emit([seq, 'payload'], seq);
  }
  ack(): void {
    this.acked++;
  }
  fail(msgId: unknown): void {
    throw new Error(`benchmark tuple ${String(msgId)} failed`);
  }
  declareOutputFields(): OutputFields {
    return { default: ['seq', 'payload'] };
  }
}

export class PassThroughBolt implements BasicBolt {
  execute(input: Tuple, collector: BasicOutputCollector): void {
    collector.emit(input.values as unknown[]);
  }
  declareOutputFields(): OutputFields {
    return { default: ['seq', 'payload'] };
  }
}

export class DiscardSinkBolt implements BasicBolt {
  execute(): void {}
  declareOutputFields(): OutputFields {
    return {};
  }
}
