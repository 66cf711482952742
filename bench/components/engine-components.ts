import type { BasicBolt, BasicOutputCollector, OutputFields, Spout, SpoutOutputCollector, TopologyContext, Tuple } from '../../runtime/index.js';

/** Emits [seq, payload] for ever, tracked by msgId (the engine decides whether it is acked). */
export class CountingSpout implements Spout {
  private seq = 0;
  private collector!: SpoutOutputCollector;
  open(_c: TopologyContext, collector: SpoutOutputCollector): void {
    this.collector = collector;
  }
  nextTuple(): void {
    const seq = this.seq++;
    this.collector.emit([seq, 'payload'], seq);
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
