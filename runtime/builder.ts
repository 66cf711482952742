import { availableParallelism } from 'node:os';
import type { ComponentRef, OutputFields, StreamCodec } from './contracts.js';
import { DEFAULT_STREAM } from './contracts.js';
import { TopologyValidationError } from './errors.js';
import { loadComponentFactory } from './component-loader.js';
import { place } from './placement.js';
import type { ComponentSpec, GroupingType, InputSpec, StreamCodecSpec, TopologyOptions, TopologySpec } from './spec.js';

export const DEFAULT_OPTIONS: Omit<TopologyOptions, 'name'> = {
  workers: availableParallelism(),
  ackers: 1,
  messageTimeoutSecs: 60,
  maxSpoutPending: 0,
  batchSize: 512,
  queueCapacity: 4096,
  maxInflightBatches: 16,
  metricsIntervalMs: 1000,
  latencySampleEvery: 32,
  youngGenerationMb: 128,
  maxOldGenerationMb: 0,
};

interface Declared {
  id: string;
  kind: 'spout' | 'bolt';
  ref: ComponentRef;
  executors: number;
  tasks: number;
  inputs: InputSpec[];
  maxSpoutPending?: number;
}

export class BoltDeclarer {
  constructor(private readonly decl: Declared) {}

  setNumTasks(tasks: number): this {
    this.decl.tasks = tasks;
    return this;
  }
  shuffleGrouping(source: string, stream: string = DEFAULT_STREAM): this {
    return this.input(source, stream, 'shuffle');
  }
  localOrShuffleGrouping(source: string, stream: string = DEFAULT_STREAM): this {
    return this.input(source, stream, 'localOrShuffle');
  }
  fieldsGrouping(source: string, streamOrFields: string | readonly string[], fields?: readonly string[]): this {
    if (typeof streamOrFields === 'string') return this.input(source, streamOrFields, 'fields', fields ?? []);
    return this.input(source, DEFAULT_STREAM, 'fields', streamOrFields);
  }
  /**
   * Fields grouping among the subscriber's tasks on the emitter's own thread (all tasks when it has
   * none there). Equal keys meet in one task only if every tuple of a key is emitted on one thread
   * — e.g. the branch copies of one flow, made by one splitter task and carried by local chains.
   * It saves the thread hop and the copy of a plain fields grouping.
   */
  localFieldsGrouping(source: string, streamOrFields: string | readonly string[], fields?: readonly string[]): this {
    if (typeof streamOrFields === 'string') return this.input(source, streamOrFields, 'localFields', fields ?? []);
    return this.input(source, DEFAULT_STREAM, 'localFields', streamOrFields);
  }
  allGrouping(source: string, stream: string = DEFAULT_STREAM): this {
    return this.input(source, stream, 'all');
  }
  globalGrouping(source: string, stream: string = DEFAULT_STREAM): this {
    return this.input(source, stream, 'global');
  }
  private input(source: string, stream: string, grouping: GroupingType, fields?: readonly string[]): this {
    this.decl.inputs.push(fields ? { source, stream, grouping, fields: [...fields] } : { source, stream, grouping });
    return this;
  }
}

export class SpoutDeclarer {
  constructor(private readonly decl: Declared) {}
  setNumTasks(tasks: number): this {
    this.decl.tasks = tasks;
    return this;
  }
  setMaxSpoutPending(max: number): this {
    this.decl.maxSpoutPending = max;
    return this;
  }
}

/** Storm's TopologyBuilder: declare spouts and bolts, then `build()` validates and places them. */
export class TopologyBuilder {
  private readonly declared: Declared[] = [];
  private readonly codecs: StreamCodecSpec[] = [];

  /** Encodes the tuples of one stream with a codec (module export: `{ encode, decode }`) when they cross threads. */
  setStreamCodec(component: string, stream: string, ref: ComponentRef): this {
    this.codecs.push({ component, stream, ref });
    return this;
  }

  setSpout(id: string, ref: ComponentRef, executors = 1): SpoutDeclarer {
    const decl: Declared = { id, kind: 'spout', ref, executors, tasks: executors, inputs: [] };
    this.declared.push(decl);
    return new SpoutDeclarer(decl);
  }

  setBolt(id: string, ref: ComponentRef, executors = 1): BoltDeclarer {
    const decl: Declared = { id, kind: 'bolt', ref, executors, tasks: executors, inputs: [] };
    this.declared.push(decl);
    return new BoltDeclarer(decl);
  }

  /**
   * Loads every component once on this thread to read its declared streams, then validates the
   * wiring and places tasks on executors and executors on worker threads. Every problem found is
   * reported at once.
   */
  async build(options: Partial<TopologyOptions> & { name: string }): Promise<TopologySpec> {
    const opts: TopologyOptions = { ...DEFAULT_OPTIONS, ...options };
    const problems: string[] = validateOptions(opts);
    const outputs = new Map<string, OutputFields>();
    const ticks = new Map<string, number | undefined>();
    const seen = new Set<string>();
    for (const d of this.declared) {
      if (seen.has(d.id)) problems.push(`duplicate component id "${d.id}"`);
      seen.add(d.id);
      if (d.id.startsWith('__')) problems.push(`component id "${d.id}" is reserved (ids starting with "__" are system components)`);
      if (!Number.isInteger(d.executors) || d.executors < 1) problems.push(`component "${d.id}": executors (${d.executors}) must be an integer >= 1`);
      if (!Number.isInteger(d.tasks) || d.tasks < 1) problems.push(`component "${d.id}": tasks (${d.tasks}) must be an integer >= 1`);
      else if (d.tasks < d.executors) problems.push(`component "${d.id}": tasks (${d.tasks}) must be >= executors (${d.executors}); an executor runs one or more tasks`);
      if (d.kind === 'spout' && d.inputs.length > 0) problems.push(`spout "${d.id}" cannot subscribe to inputs`);
      try {
        const make = await loadComponentFactory(d.ref);
        const probe = make() as { declareOutputFields?: () => OutputFields; tickSecs?: number };
        if (typeof probe.declareOutputFields !== 'function') {
          problems.push(`component "${d.id}": ${d.ref.export} from ${d.ref.module} has no declareOutputFields()`);
          outputs.set(d.id, {});
        } else {
          outputs.set(d.id, probe.declareOutputFields());
        }
        ticks.set(d.id, probe.tickSecs);
      } catch (err) {
        problems.push(`component "${d.id}": cannot load ${d.ref.export} from ${d.ref.module}: ${(err as Error).message}`);
        outputs.set(d.id, {});
      }
    }
    if (!this.declared.some((d) => d.kind === 'spout')) problems.push('a topology needs at least one spout');
    for (const d of this.declared) {
      for (const input of d.inputs) {
        const src = this.declared.find((s) => s.id === input.source);
        if (!src) {
          problems.push(`bolt "${d.id}" subscribes to unknown component "${input.source}"`);
          continue;
        }
        const fields = outputs.get(src.id)?.[input.stream];
        if (!fields) {
          const declaredStreams = Object.keys(outputs.get(src.id) ?? {});
          problems.push(`bolt "${d.id}" subscribes to undeclared stream "${input.stream}" of "${src.id}" (declared: ${declaredStreams.map((s) => `"${s}"`).join(', ') || 'none'})`);
          continue;
        }
        if (input.grouping === 'fields' || input.grouping === 'localFields') {
          if (!input.fields || input.fields.length === 0) problems.push(`bolt "${d.id}": fields grouping on "${src.id}"/"${input.stream}" names no fields`);
          for (const f of input.fields ?? []) {
            if (!fields.includes(f)) problems.push(`bolt "${d.id}": fields grouping on undeclared field "${f}" of "${src.id}"/"${input.stream}" (fields: ${fields.join(', ')})`);
          }
        }
      }
    }
    for (const c of this.codecs) {
      if (!outputs.get(c.component)?.[c.stream]) {
        problems.push(`codec for undeclared stream "${c.stream}" of "${c.component}"`);
        continue;
      }
      try {
        const codec = (await loadComponentFactory(c.ref))() as Partial<StreamCodec>;
        if (typeof codec.encode !== 'function' || typeof codec.decode !== 'function') problems.push(`codec ${c.ref.export} from ${c.ref.module} has no encode/decode`);
      } catch (err) {
        problems.push(`codec for "${c.component}"/"${c.stream}": cannot load ${c.ref.export} from ${c.ref.module}: ${(err as Error).message}`);
      }
    }
    const cycle = findCycle(this.declared);
    if (cycle) problems.push(`cycle: ${cycle.join(' -> ')}`);
    const totalTasks = this.declared.reduce((n, d) => n + (Number.isInteger(d.tasks) ? d.tasks : 0), 0) + opts.ackers;
    if (totalTasks >= 4095) problems.push(`the topology has ${totalTasks} tasks; at most 4094 are supported`);
    if (problems.length > 0) throw new TopologyValidationError(problems);

    const components: ComponentSpec[] = this.declared.map((d) => ({
      id: d.id,
      kind: d.kind,
      ref: d.ref,
      executors: d.executors,
      tasks: d.tasks,
      inputs: d.inputs,
      outputs: outputs.get(d.id) ?? {},
      ...(ticks.get(d.id) !== undefined ? { tickSecs: ticks.get(d.id) } : {}),
      ...(d.kind === 'spout' ? { maxSpoutPending: d.maxSpoutPending ?? opts.maxSpoutPending } : {}),
    }));
    return place(components, opts, this.codecs);
  }
}

function validateOptions(o: TopologyOptions): string[] {
  const problems: string[] = [];
  const intAtLeast = (key: keyof TopologyOptions, min: number) => {
    const v = o[key] as number;
    if (!Number.isInteger(v) || v < min) problems.push(`${key} (${String(v)}) must be an integer >= ${min}`);
  };
  if (typeof o.name !== 'string' || o.name.length === 0) problems.push('name must be a non-empty string');
  intAtLeast('workers', 1);
  intAtLeast('ackers', 0);
  intAtLeast('maxSpoutPending', 0);
  intAtLeast('batchSize', 1);
  intAtLeast('queueCapacity', 1);
  intAtLeast('maxInflightBatches', 1);
  intAtLeast('metricsIntervalMs', 10);
  intAtLeast('latencySampleEvery', 1);
  intAtLeast('youngGenerationMb', 1);
  intAtLeast('maxOldGenerationMb', 0);
  if (o.maxOldGenerationMb > 0 && o.maxOldGenerationMb < 64) problems.push(`maxOldGenerationMb (${o.maxOldGenerationMb}) must be 0 (V8's default) or at least 64`);
  if (!(o.messageTimeoutSecs > 0)) problems.push(`messageTimeoutSecs (${o.messageTimeoutSecs}) must be > 0`);
  return problems;
}

function findCycle(declared: readonly Declared[]): string[] | null {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const downstream = (id: string) => declared.filter((d) => d.inputs.some((i) => i.source === id)).map((d) => d.id);
  const visit = (id: string): string[] | null => {
    state.set(id, 1);
    stack.push(id);
    for (const next of downstream(id)) {
      if (state.get(next) === 1) return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(id, 2);
    return null;
  };
  for (const d of declared) {
    if (!state.has(d.id)) {
      const found = visit(d.id);
      if (found) return found;
    }
  }
  return null;
}
